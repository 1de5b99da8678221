"""Staff pages: factor analyses. Stored models per questionnaire, one model's report (scree plot
with parallel analysis, loadings heatmap with item texts, reliability, KMO/Bartlett, fit,
warnings), a form to run a new fit and an action to make a model the active one."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlmodel import select

from survey_engine.models import QuestionnaireVersion
from survey_engine.models.factors import FactorModelRecord
from survey_engine.services import factors as factor_service
from survey_engine.services import survey as survey_service
from survey_engine.web import charts, get_session
from survey_engine.web.staff_auth import staff_required

bp = Blueprint("staff_factors", __name__, url_prefix="/staff/factors")

METHODS = ("minres", "ml", "principal")
ROTATIONS = ("oblimin", "promax", "quartimin", "geomin_obl", "varimax", "quartimax", "equamax", "geomin_ort", "none")
CORRELATIONS = ("auto", "polychoric", "pearson")
MISSING = ("pairwise", "listwise")
SCORES = ("regression", "bartlett")
MAX_LABEL = 58


@bp.get("/")
@staff_required("factors")
def index():
    session = get_session()
    models = factor_service.list_factor_models(session)
    questionnaires = survey_service.list_questionnaires(session)
    return render_template("staff/factors.html", active_section="factors", models=models,
                           questionnaires=questionnaires, methods=METHODS, rotations=ROTATIONS,
                           correlations=CORRELATIONS, missing=MISSING, scores=SCORES, form={}, errors={})


def _parse_fit_form(form, questionnaires: list[dict]) -> tuple[dict, dict[str, str]]:
    errors: dict[str, str] = {}
    known = {q["id"]: [v["version"] for v in q["versions"]] for q in questionnaires}
    questionnaire_id = form.get("questionnaire", "")
    if questionnaire_id not in known:
        errors["questionnaire"] = "choose a stored questionnaire"
    version = None
    raw_version = form.get("version", "").strip()
    if raw_version:
        if not (raw_version.isascii() and raw_version.isdigit()) or (questionnaire_id in known and int(raw_version) not in known[questionnaire_id]):
            errors["version"] = "choose a stored version (or leave empty for the latest)"
        else:
            version = int(raw_version)
    raw_factors = form.get("n_factors", "auto").strip() or "auto"
    n_factors: int | str = "auto"
    if raw_factors != "auto":
        if not (raw_factors.isascii() and raw_factors.isdigit()) or not 1 <= int(raw_factors) <= 30:
            errors["n_factors"] = "a whole number from 1 to 30, or auto (parallel analysis)"
        else:
            n_factors = int(raw_factors)
    options = {"n_factors": n_factors}
    for name, allowed in (("method", METHODS), ("rotation", ROTATIONS), ("correlation", CORRELATIONS),
                          ("missing", MISSING), ("scores", SCORES)):
        value = form.get(name, allowed[0])
        if value not in allowed:
            errors[name] = f"one of {', '.join(allowed)}"
        options[name] = value
    return {"questionnaire_id": questionnaire_id, "version": version, "activate": form.get("activate") == "on",
            "options": options}, errors


@bp.post("/fit")
@staff_required("factors")
def fit():
    session = get_session()
    questionnaires = survey_service.list_questionnaires(session)
    parsed, errors = _parse_fit_form(request.form, questionnaires)
    if errors:
        models = factor_service.list_factor_models(session)
        return render_template("staff/factors.html", active_section="factors", models=models,
                               questionnaires=questionnaires, methods=METHODS, rotations=ROTATIONS,
                               correlations=CORRELATIONS, missing=MISSING, scores=SCORES,
                               form=request.form, errors=errors), 400
    record = factor_service.fit_factor_model(session, parsed["questionnaire_id"], version=parsed["version"],
                                             activate=parsed["activate"], **parsed["options"])
    session.commit()
    if record.status == "fitted":
        state = " It is now the active model." if record.is_active else " The active model is unchanged."
        flash(f"Model {record.id} fitted: {record.results['report']['n_factors']} factors from "
              f"{record.n_respondents} respondents.{state}")
    else:
        flash(f"The fit failed and was stored as model {record.id} for the record; the active model is "
              f"unchanged. Reason: {record.error}", "error")
    return redirect(url_for("staff_factors.model", model_id=record.id), code=303)


@bp.post("/<int:model_id>/activate")
@staff_required("factors")
def activate(model_id: int):
    session = get_session()
    record = factor_service.activate_factor_model(session, model_id)
    session.commit()
    flash(f"Model {record.id} is now the active factor model of {record.questionnaire_id}; new responses are "
          "scored with it.")
    return redirect(request.form.get("back") == "list" and url_for("staff_factors.index")
                    or url_for("staff_factors.model", model_id=model_id), code=303)


def _item_texts(session, record: FactorModelRecord) -> dict[str, str]:
    version = session.get(QuestionnaireVersion, record.questionnaire_version_id)
    spec = survey_service.spec_of(version)
    texts = {}
    for item in spec.likert_items:
        text = spec.text(item.text, spec.languages[0])
        texts[item.name] = text
    return texts


def _short(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def loadings_view(report: dict, texts: dict[str, str]) -> tuple[list[str], list[str], list[list[float]]]:
    """Items ordered by the factor they load on most, strongest first, as (items, factors, matrix)."""
    factors = report["factors"]
    loadings = report["loadings"]

    def key(item: str):
        row = [abs(loadings[item][f]) for f in factors]
        primary = max(range(len(factors)), key=row.__getitem__)
        return primary, -row[primary]

    items = sorted(report["items"], key=key)
    return items, factors, [[loadings[item][f] for f in factors] for item in items]


@bp.get("/<int:model_id>")
@staff_required("factors")
def model(model_id: int):
    session = get_session()
    record = session.get(FactorModelRecord, model_id)
    if record is None:
        abort(404, f"no factor model with id {model_id}")
    others = session.exec(select(FactorModelRecord.id).where(
        FactorModelRecord.questionnaire_id == record.questionnaire_id).order_by(FactorModelRecord.id)).all()
    context = {"active_section": "factors", "record": record, "others": others}
    if record.status != "fitted":
        return render_template("staff/factor_model.html", **context)
    report = record.results["report"]
    texts = _item_texts(session, record)
    pa = report["parallel_analysis"]
    scree = charts.scree_chart(pa["eigenvalues"], pa["simulated"], pa["suggested_factors"], report["n_factors"],
                               quantile=pa.get("quantile", 0.95), correlation=report["correlation_type"])
    items, factors, matrix = loadings_view(report, texts)
    reverse = set(report.get("reverse_keyed", []))
    labels = [f"{item}{' (R)' if item in reverse else ''}  {_short(texts.get(item, ''))}" for item in items]
    heat = charts.heatmap(matrix, labels, factors, title="Factor loadings",
                          description=f"Rotated ({report['rotation']}) loadings of {len(items)} items on "
                                      f"{len(factors)} factors; items are grouped by the factor they load on most. "
                                      "Bold values are salient (|loading| ≥ 0.4); (R) marks reverse-keyed items, "
                                      "whose answers were reversed before the analysis.",
                          diverging=True, row_header="Item", highlight=0.4)
    variance = report.get("variance_explained", {})
    return render_template("staff/factor_model.html", **context, report=report, scree=scree, heat=heat,
                           items=items, texts=texts, factors=factors, variance=variance, reverse=reverse)
