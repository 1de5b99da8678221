"""Staff sign-in and sign-out, the ``staff_required`` decorator and the staff home page.

The session cookie (signed, HttpOnly, SameSite=Lax, Secure in production) holds the account id, a
fingerprint of its password hash (a password change ends older sessions) and the sign-in time
(sessions last ``SESSION_HOURS``). Each request reloads the account, so a disabled account or a
changed role takes effect at once.
"""
from __future__ import annotations

import logging
import time
from functools import wraps
from typing import Callable
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for

from survey_engine.models.staff import StaffUser
from survey_engine.services import staff as accounts
from survey_engine.web import get_session
from survey_engine.web.errors import error_response
from survey_engine.web.permissions import ALL_ROLES, SECTION_TITLES, SECTIONS, sections_for

log = logging.getLogger(__name__)

bp = Blueprint("staff_auth", __name__, url_prefix="/staff")

SESSION_KEY = "staff"
SESSION_HOURS = 12
SECTION_ENDPOINTS = {
    "questionnaires": "staff_questionnaires.index",
    "fieldwork": "staff_fieldwork.index",
    "factors": "staff_factors.index",
    "archetypes": "staff_archetypes.index",
    "customers": "staff_customers.index",
    "exports": "staff_exports.index",
    "admin": "staff_admin.users",
}


def current_staff() -> StaffUser | None:
    """The signed-in staff account of this request, or None (cached on ``g``)."""
    if "staff_user" in g:
        return g.staff_user
    user = None
    data = session.get(SESSION_KEY)
    if isinstance(data, dict) and time.time() - float(data.get("at", 0)) < SESSION_HOURS * 3600:
        candidate = get_session().get(StaffUser, data.get("id"))
        if (candidate is not None and candidate.is_active
                and data.get("fp") == accounts.session_fingerprint(candidate)):
            user = candidate
    g.staff_user = user
    return user


def staff_required(section: str | None = None) -> Callable:
    """Only signed-in staff whose role may open ``section`` (any role when None).

    Without a sign-in a GET is redirected to the sign-in page (and back afterwards); other methods
    answer 401. A signed-in account of another role gets 403.
    """
    roles = SECTIONS[section] if section else ALL_ROLES

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args, **kwargs):
            user = current_staff()
            if user is None:
                if request.method == "GET":
                    return redirect(url_for("staff_auth.sign_in", next=request.full_path.rstrip("?")))
                return error_response(401, "Please sign in to the staff pages.")
            if user.role not in roles:
                return error_response(403, f"Your role ({user.role}) may not open "
                                           f"{SECTION_TITLES.get(section, 'this page')}.")
            return view(*args, **kwargs)

        wrapped.staff_roles = roles
        return wrapped

    return decorator


def _safe_next(target: str | None) -> str | None:
    """Only a path inside the staff pages, so the sign-in page cannot send anyone elsewhere."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/staff/") or "\\" in target:
        return None
    return target


def navigation(user: StaffUser | None) -> list[tuple[str, str, str]]:
    """(section, title, endpoint) of each section the account may open."""
    if user is None:
        return []
    return [(name, SECTION_TITLES[name], SECTION_ENDPOINTS[name]) for name in sections_for(user.role)
            if SECTION_ENDPOINTS[name] in current_app.view_functions]


@bp.app_context_processor
def _staff_context():
    if not request.blueprint or not request.blueprint.startswith("staff_"):
        return {}
    user = current_staff()
    return {"staff_user": user, "staff_nav": navigation(user),
            "has_endpoint": lambda endpoint: endpoint in current_app.view_functions}


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    target = _safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_staff() is not None:
            return redirect(target or url_for("staff_auth.home"))
        return render_template("staff/sign_in.html", next=target, email="", error=None)
    email = request.form.get("email", "")[:320]
    password = request.form.get("password", "")
    db = get_session()
    result = accounts.authenticate(db, email, password)
    db.commit()
    if result.user is None:
        log.info("staff sign-in refused for %r: %s", accounts.normalise_email(email), result.reason)
        return render_template("staff/sign_in.html", next=target, email=email, error=accounts.SIGN_IN_FAILED)
    session.clear()
    session[SESSION_KEY] = {"id": result.user.id, "fp": accounts.session_fingerprint(result.user),
                            "at": time.time()}
    log.info("staff sign-in: %s (%s)", result.user.email, result.user.role)
    return redirect(target or url_for("staff_auth.home"), code=303)


@bp.post("/sign-out")
@staff_required()
def sign_out():
    session.clear()
    flash("You are signed out.")
    return redirect(url_for("staff_auth.sign_in"), code=303)


@bp.get("/")
@staff_required()
def home():
    return render_template("staff/home.html", sections=navigation(current_staff()))
