"""The respondent pages: ``/s/<token>`` renders, saves and submits a questionnaire (no JavaScript needed)."""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from survey_engine.models import Response
from survey_engine.services import survey as service
from survey_engine.web import get_session
from survey_engine.web.i18n import negotiate_language, ui

bp = Blueprint("respondent", __name__, url_prefix="/s")

MULTI_VALUED = {"multiple_choice"}


def form_answers(spec, form: MultiDict) -> dict[str, Any]:
    """Answers as posted by the HTML form: only the questionnaire's items, empty fields left out."""
    raw: dict[str, Any] = {}
    for item in spec.items:
        if item.type in MULTI_VALUED:
            values = [v for v in form.getlist(item.name) if v != ""]
            if values:
                raw[item.name] = values
        else:
            value = form.get(item.name)
            if value is not None and value.strip() != "":
                raw[item.name] = value
    return raw


def _text(spec, mapping, lang):
    return spec.text(mapping, lang) if mapping else ""


def page_view(spec, lang: str) -> list[dict[str, Any]]:
    """What the template needs of each page and item, in the respondent's language."""
    pages = []
    for page in spec.pages:
        items = []
        for item in page.items:
            view: dict[str, Any] = {
                "name": item.name,
                "type": item.type,
                "text": _text(spec, item.text, lang),
                "help": _text(spec, getattr(item, "help", None), lang),
                "required": bool(getattr(item, "required", False)),
                "show_if": json.dumps(item.show_if.model_dump(mode="json", exclude_none=True))
                if getattr(item, "show_if", None) is not None else None,
            }
            if item.type in {"likert", "attention_check"}:
                labels = spec.text(item.point_labels, lang)
                view["points"] = [(i + 1, labels[i]) for i in range(item.points)]
            elif item.type in {"single_choice", "multiple_choice"}:
                view["options"] = [(option.value, _text(spec, option.label, lang)) for option in item.options]
            elif item.type == "nps":
                view["points"] = [(i, str(i)) for i in range(11)]
                view["low"] = _text(spec, item.low_label, lang)
                view["high"] = _text(spec, item.high_label, lang)
            elif item.type == "free_text":
                view["max_length"] = item.max_length
            items.append(view)
        pages.append({"id": page.id, "title": _text(spec, page.title, lang), "items": items})
    return pages


def _render_form(token, invitation, spec, lang, answers, errors=None, notice=None, status=200):
    return render_template(
        "survey.html", token=token, spec=spec, lang=lang, ui=ui(lang), pages=page_view(spec, lang),
        answers=answers, errors=errors or {}, notice=notice,
        title=_text(spec, spec.title, lang), description=_text(spec, getattr(spec, "description", None), lang),
        consent=_text(spec, getattr(spec, "consent", None), lang),
    ), status


def _load(token: str, *, allow_completed: bool = False):
    session = get_session()
    invitation = service.find_invitation(session, token, allow_completed=allow_completed)
    return session, invitation, service.spec_for(session, invitation.questionnaire_version_id)


@bp.get("/<token>")
def show(token: str):
    session, invitation, spec = _load(token)
    service.mark_opened(session, invitation)
    draft: Response | None = service.draft_for(session, invitation)
    session.commit()
    lang = negotiate_language(spec.languages, draft.language if draft else invitation.language)
    return _render_form(token, invitation, spec, lang, dict(draft.answers) if draft else {})


@bp.post("/<token>")
def submit(token: str):
    session, invitation, spec = _load(token, allow_completed=True)
    lang = negotiate_language(spec.languages, invitation.language)
    raw = form_answers(spec, request.form)
    if invitation.completed_at is not None:
        return redirect(url_for("respondent.thanks", token=token, lang=lang), code=303)
    if request.form.get("action") == "save":
        outcome = service.save_draft(session, invitation, raw, language=lang, from_form=True)
        session.commit()
        if outcome.status == "already_submitted":
            return redirect(url_for("respondent.thanks", token=token, lang=lang), code=303)
        shown = {**raw, **outcome.answers}
        return _render_form(token, invitation, spec, lang, shown, outcome.errors, notice=ui(lang)["saved"])
    outcome = service.submit_response(session, invitation, raw, language=lang, from_form=True)
    if outcome.status == "invalid":
        session.rollback()
        return _render_form(token, invitation, spec, lang, raw, outcome.errors, status=422)
    session.commit()
    return redirect(url_for("respondent.thanks", token=token, lang=lang), code=303)


@bp.get("/<token>/thanks")
def thanks(token: str):
    session, invitation, spec = _load(token, allow_completed=True)
    if invitation.completed_at is None:
        return redirect(url_for("respondent.show", token=token), code=303)
    lang = negotiate_language(spec.languages, invitation.language)
    return render_template("thanks.html", lang=lang, ui=ui(lang), title=_text(spec, spec.title, lang),
                           message=_text(spec, getattr(spec, "thank_you", None), lang))
