"""Staff pages for admins: webhook subscribers (add, pause, resume) and replaying dead letters."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlmodel import select

from survey_engine.models.profiles import WebhookSubscription
from survey_engine.services import webhooks as webhook_service
from survey_engine.services.survey import ServiceError
from survey_engine.web import get_session
from survey_engine.web.staff_auth import staff_required

bp = Blueprint("staff_webhooks", __name__, url_prefix="/staff/admin/webhooks")


def _page(new_secret=None, form=None, errors=None, status=200, headers=None):
    from survey_engine.export.fields import CONSENTS, EXPORT_FIELDS

    session = get_session()
    subscriptions = [webhook_service.subscription_public(s, session)
                     for s in session.exec(select(WebhookSubscription).order_by(WebhookSubscription.name)).all()]
    return render_template("staff/admin_webhooks.html", active_section="admin", subscriptions=subscriptions,
                           dead_letters=webhook_service.list_dead_letters(session), fields=list(EXPORT_FIELDS),
                           consents=CONSENTS, new_secret=new_secret, form=form or {}, errors=errors or {}), \
        status, headers or {}


@bp.get("/")
@staff_required("admin")
def index():
    return _page()


@bp.post("/")
@staff_required("admin")
def create():
    session = get_session()
    form = request.form
    try:
        subscription, secret = webhook_service.add_subscription(
            session, name=form.get("name", ""), url=form.get("url", ""), fields=form.getlist("fields") or None,
            consent=form.getlist("consent"))
    except ServiceError as exc:
        session.rollback()
        return _page(form=form, errors={exc.field or "form": exc.message}, status=exc.status)
    session.commit()
    # The signing secret is shown once, on this response only.
    return _page(new_secret=(subscription.name, secret), status=201, headers={"Cache-Control": "no-store"})


@bp.post("/<int:subscription_id>/state")
@staff_required("admin")
def set_state(subscription_id: int):
    session = get_session()
    active = request.form.get("action") == "resume"
    subscription = webhook_service.set_active(session, subscription_id, active)
    session.commit()
    flash(f"{subscription.name} {'receives changes again' if active else 'is paused; changes wait for it'}.")
    return redirect(url_for("staff_webhooks.index"), code=303)


@bp.post("/replay")
@staff_required("admin")
def replay():
    session = get_session()
    requeued = webhook_service.replay_dead_letters(session)
    session.commit()
    flash(f"{len(requeued)} dead letter{'s' if len(requeued) != 1 else ''} queued again; the next delivery run "
          "(`survey-engine webhooks deliver`) sends them.")
    return redirect(url_for("staff_webhooks.index"), code=303)
