"""Staff pages: questionnaires with versions and response counts, the state of the questionnaire
files (every problem of a broken file), and a preview exactly as respondents see it."""
from __future__ import annotations

from pathlib import Path

from flask import Blueprint, abort, render_template, request
from sqlmodel import select

from survey_engine.definitions.errors import DefinitionError, DefinitionIssue
from survey_engine.definitions.questionnaire import (
    load_questionnaire,
    load_questionnaire_dir,
    questionnaire_files,
    validate_answers,
)
from survey_engine.models import Questionnaire, QuestionnaireVersion
from survey_engine.services import survey as service
from survey_engine.web import get_session, settings
from survey_engine.web.i18n import negotiate_language, ui
from survey_engine.web.respondent import form_answers, page_view
from survey_engine.web.staff_auth import staff_required

bp = Blueprint("staff_questionnaires", __name__, url_prefix="/staff/questionnaires")


def folder_state(directory: Path, stored_hashes: dict[str, dict[str, int]]) -> tuple[list[dict], list]:
    """Each questionnaire file with its state, and every problem in the folder (as the loader
    reports them: file, path inside the file, line, reason)."""
    try:
        paths = questionnaire_files(directory)
    except NotADirectoryError as exc:
        return [], [DefinitionIssue(str(directory), "", str(exc))]
    try:
        load_questionnaire_dir(directory)
        problems = []
    except DefinitionError as exc:
        problems = exc.issues
    files = []
    for path in paths:
        entry = {"name": path.name, "id": None, "state": "invalid", "version": None}
        try:
            spec = load_questionnaire(path)
        except DefinitionError:
            files.append(entry)
            continue
        entry["id"] = spec.id
        version = stored_hashes.get(spec.id, {}).get(spec.content_hash())
        entry["state"] = "loaded" if version is not None else "not loaded"
        entry["version"] = version
        files.append(entry)
    return files, problems


@bp.get("/")
@staff_required("questionnaires")
def index():
    session = get_session()
    listing = service.list_questionnaires(session)
    titles = dict(session.exec(select(Questionnaire.id, Questionnaire.title)).all())
    stored: dict[str, dict[str, int]] = {}
    for row in session.exec(select(QuestionnaireVersion)).all():
        stored.setdefault(row.questionnaire_id, {})[row.content_hash] = row.version
    languages = {}
    for entry in listing:
        latest = entry["versions"][-1]["version"]
        version = session.exec(select(QuestionnaireVersion).where(
            QuestionnaireVersion.questionnaire_id == entry["id"], QuestionnaireVersion.version == latest)).one()
        languages[entry["id"]] = service.spec_of(version).languages
    files, problems = folder_state(settings().questionnaires_dir, stored)
    return render_template("staff/questionnaires.html", active_section="questionnaires", questionnaires=listing,
                           titles=titles, languages=languages, files=files, problems=problems,
                           folder=settings().questionnaires_dir)


@bp.route("/<questionnaire_id>/v<int:version>/preview", methods=["GET", "POST"])
@staff_required("questionnaires")
def preview(questionnaire_id: str, version: int):
    """The respondent page of one stored version, rendered by the respondent template; answers
    posted here are validated exactly as a respondent's would be, and never stored."""
    stored = get_session().exec(select(QuestionnaireVersion).where(
        QuestionnaireVersion.questionnaire_id == questionnaire_id,
        QuestionnaireVersion.version == version)).first()
    if stored is None:
        abort(404, f"questionnaire {questionnaire_id!r} has no version {version}")
    spec = service.spec_of(stored)
    lang = negotiate_language(list(spec.languages), spec.languages[0])
    answers, errors, notice, status = {}, {}, None, 200
    if request.method == "POST":
        answers = form_answers(spec, request.form)
        saving = request.form.get("action") == "save"
        result = validate_answers(spec, answers, partial=saving, from_form=True, lang=lang)
        errors = dict(result.errors)
        if errors:
            status = 422
        else:
            notice = ("Preview: a respondent's progress would be saved here." if saving else
                      "Preview: these answers are valid and would be accepted.") + " Nothing was stored."

    def text(mapping):
        return spec.text(mapping, lang) if mapping else ""

    return render_template(
        "staff/questionnaire_preview.html", spec=spec, lang=lang, ui=ui(lang), pages=page_view(spec, lang),
        answers=answers, errors=errors, notice=notice, title=text(spec.title),
        description=text(getattr(spec, "description", None)), consent=text(getattr(spec, "consent", None)),
        token=None, questionnaire_id=questionnaire_id, version=version,
    ), status
