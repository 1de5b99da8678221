"""Staff pages for admins: staff accounts, API keys (created and revoked here) and webhooks."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for

from survey_engine.models import ROLES
from survey_engine.services import staff as accounts
from survey_engine.services import survey as survey_service
from survey_engine.services.survey import ServiceError
from survey_engine.web import get_session
from survey_engine.web.staff_auth import current_staff, staff_required

bp = Blueprint("staff_admin", __name__, url_prefix="/staff/admin")


def _render_users(form=None, errors=None, status: int = 200):
    users = accounts.list_users(get_session())
    return render_template("staff/admin_users.html", active_section="admin", users=users, roles=ROLES,
                           form=form or {}, errors=errors or {}, is_locked=accounts.is_locked,
                           me=current_staff()), status


@bp.get("/users")
@staff_required("admin")
def users():
    return _render_users()


@bp.post("/users")
@staff_required("admin")
def create_user():
    session = get_session()
    form = request.form
    try:
        user = accounts.create_user(session, form.get("email", ""), form.get("role", ""), form.get("password", ""))
    except ServiceError as exc:
        session.rollback()
        return _render_users(form={"email": form.get("email", ""), "role": form.get("role", "")},
                             errors={exc.field or "form": exc.message}, status=exc.status)
    session.commit()
    flash(f"Created the {user.role} account {user.email}. Give them the password through a separate channel.")
    return redirect(url_for("staff_admin.users"), code=303)


@bp.post("/users/<int:user_id>")
@staff_required("admin")
def update_user(user_id: int):
    session = get_session()
    user = accounts.get_user(session, user_id)
    action = request.form.get("action")
    if action == "role":
        accounts.update_user(session, user, role=request.form.get("role", ""))
        message = f"{user.email} is now a {user.role}."
    elif action == "disable":
        accounts.update_user(session, user, is_active=False)
        message = f"{user.email} can no longer sign in; their open sessions have ended."
    elif action == "enable":
        accounts.update_user(session, user, is_active=True)
        message = f"{user.email} can sign in again."
    elif action == "unlock":
        accounts.update_user(session, user, unlock=True)
        message = f"The lock-out of {user.email} is lifted."
    elif action == "password":
        accounts.set_password(session, user, request.form.get("password", ""))
        message = f"New password set for {user.email}; their open sessions have ended."
    else:
        raise ServiceError("unknown action: choose role, disable, enable, unlock or password", field="action")
    session.commit()
    flash(message)
    return redirect(url_for("staff_admin.users"), code=303)


@bp.get("/api-keys")
@staff_required("admin")
def api_keys():
    return render_template("staff/admin_api_keys.html", active_section="admin",
                           keys=accounts.list_api_keys(get_session()), roles=ROLES, new_key=None)


@bp.post("/api-keys")
@staff_required("admin")
def create_api_key():
    session = get_session()
    name = request.form.get("name", "").strip()[:200]
    secret = survey_service.create_api_key(session, request.form.get("role", ""),
                                           name or f"created by {current_staff().email}")
    session.commit()
    response = render_template("staff/admin_api_keys.html", active_section="admin",
                               keys=accounts.list_api_keys(session), roles=ROLES, new_key=secret)
    # The key is shown once, on this response only: keep it out of every cache.
    return response, 201, {"Cache-Control": "no-store"}


@bp.post("/api-keys/<int:key_id>/revoke")
@staff_required("admin")
def revoke_api_key(key_id: int):
    session = get_session()
    key = accounts.revoke_api_key(session, key_id)
    session.commit()
    flash(f"API key {key.prefix}… ({key.role}) is revoked.")
    return redirect(url_for("staff_admin.api_keys"), code=303)
