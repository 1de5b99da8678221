"""Factor models from stored responses: fit, persist, activate, and score one response online.

The only code that joins the psychometric core to the database: stored answers of one
questionnaire version → item matrix (reverse keying and attention checks from the questionnaire
spec) → quality gates → analysis → an immutable ``FactorModelRecord``.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from sqlmodel import Session, select

from survey_engine.models import QuestionnaireVersion, Response
from survey_engine.models.factors import FactorModelRecord
from survey_engine.services.survey import Conflict, NotFound, ServiceError, latest_version, spec_of

DEFAULT_OPTIONS = {
    "n_factors": "auto",
    "method": "minres",
    "rotation": "oblimin",
    "correlation": "auto",
    "missing": "pairwise",
    "scores": "regression",
}
#: Researcher's factor label overrides live next to the questionnaire file: <stem>.factor_labels.yaml
LABELS_SUFFIX = ".factor_labels.yaml"


def _version(session: Session, questionnaire_id: str, version: int | None) -> QuestionnaireVersion:
    if version is None:
        return latest_version(session, questionnaire_id)
    found = session.exec(
        select(QuestionnaireVersion).where(QuestionnaireVersion.questionnaire_id == questionnaire_id,
                                           QuestionnaireVersion.version == version)
    ).first()
    if found is None:
        raise NotFound(f"questionnaire {questionnaire_id!r} has no version {version}", field="version")
    return found


def labels_file_for(source_file: str) -> Path:
    path = Path(source_file)
    return path.with_name(path.stem + LABELS_SUFFIX)


def _snapshot(responses: list[Response], items: list[str]) -> dict[str, Any]:
    digest = hashlib.sha256()
    for response in responses:
        digest.update(json.dumps([response.id, [response.answers.get(i) for i in items]],
                                 default=str).encode())
    return {
        "n_responses": len(responses),
        "first_response_id": responses[0].id if responses else None,
        "last_response_id": responses[-1].id if responses else None,
        "data_hash": digest.hexdigest(),
    }


def fit_factor_model(session: Session, questionnaire_id: str, *, version: int | None = None,
                     activate: bool = True, **options: Any) -> FactorModelRecord:
    """Fit a factor model to the submitted responses of one questionnaire version and store it.

    Options are those of ``run_analysis`` (n_factors, method, rotation, correlation, missing,
    scores). A successful fit becomes the active model when ``activate`` (the previous one is
    deactivated); a failed fit is stored with its error, inactive, and leaves the active model alone.

    Returns
    -------
    FactorModelRecord
        With ``status`` "fitted" or "failed" (``error`` then says why).
    """
    from survey_engine.psychometrics import QualityGates, run_analysis
    from survey_engine.psychometrics.items import answers_to_frame
    from survey_engine.psychometrics.labels import load_label_overrides

    unknown = sorted(set(options) - set(DEFAULT_OPTIONS))
    if unknown:
        raise ServiceError(f"unknown factor model option(s): {', '.join(unknown)}", field=unknown[0])
    opts = {**DEFAULT_OPTIONS, **{k: v for k, v in options.items() if v is not None}}
    stored = _version(session, questionnaire_id, version)
    spec = spec_of(stored)
    likert = list(spec.likert_items)
    items = [item.name for item in likert]
    points = {item.points for item in likert}
    attention = {item.name: item.expected for item in spec.items if item.type == "attention_check"}
    responses = list(session.exec(
        select(Response).where(Response.questionnaire_version_id == stored.id, Response.status == "submitted")
        .order_by(Response.id)
    ).all())
    record = FactorModelRecord(
        questionnaire_id=questionnaire_id, questionnaire_version_id=stored.id,
        questionnaire_version=stored.version, status="failed", options=opts,
        **_snapshot(responses, items),
    )
    try:
        if not items:
            raise ValueError("the questionnaire has no Likert items")
        if len(points) != 1:
            raise ValueError(f"Likert items use different scales ({sorted(points)} points)")
        scale_max = points.pop()
        if not responses:
            raise ValueError(f"no submitted responses to version {stored.version} yet")
        frame = answers_to_frame([r.answers for r in responses], items + list(attention))
        labels_path = labels_file_for(stored.source_file)
        overrides = load_label_overrides(labels_path) if labels_path.is_file() else None
        result = run_analysis(
            frame, items, reverse=[i.name for i in likert if i.reverse], scale_min=1, scale_max=scale_max,
            constructs={i.name: i.construct for i in likert if i.construct},
            quality=QualityGates(attention_checks=attention), attention=frame[list(attention)],
            durations=np.array([np.nan if r.duration_seconds is None else r.duration_seconds
                                for r in responses]),
            label_overrides=overrides, n_factors=opts["n_factors"], method=opts["method"],
            rotation=opts["rotation"], correlation=opts["correlation"], missing=opts["missing"],
            scores=opts["scores"],
        )
    except (ValueError, np.linalg.LinAlgError) as exc:
        record.error = str(exc)
        session.add(record)
        session.flush()
        return record
    record.status = "fitted"
    record.n_respondents = result.report["n_respondents"]
    record.results = {
        "report": json.loads(json.dumps(result.report, default=_json_default)),
        "model": result.model.to_dict(),
        "labels": result.labels,
        "reverse_keyed": [i.name for i in likert if i.reverse],
        "scale": {"min": 1, "max": scale_max},
    }
    if activate:
        _deactivate(session, questionnaire_id)
        record.is_active = True
    session.add(record)
    session.flush()
    return record


def fit_demo_factor_model(session: Session, population) -> str:
    """Fit and activate the factor model of each questionnaire a demo population answered
    (``survey-engine demo``), with the default options; a failed fit raises :class:`ServiceError`.

    Returns a one-line summary.
    """
    done = []
    for questionnaire_id in sorted(set(population.responses["questionnaire_id"])):
        record = fit_factor_model(session, questionnaire_id)
        if record.status != "fitted":
            raise ServiceError(f"the factor model of {questionnaire_id!r} could not be fitted: {record.error}",
                               field="questionnaire")
        done.append(f"{questionnaire_id} model {record.id} (active) on {record.n_respondents} respondents, "
                    f"{len(record.results['labels'])} factors")
    return "; ".join(done)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def _deactivate(session: Session, questionnaire_id: str) -> None:
    for active in session.exec(select(FactorModelRecord).where(
            FactorModelRecord.questionnaire_id == questionnaire_id, FactorModelRecord.is_active)).all():
        active.is_active = False
        session.add(active)
    session.flush()


def activate_factor_model(session: Session, record_id: int) -> FactorModelRecord:
    """Make a fitted record the active model of its questionnaire."""
    record = session.get(FactorModelRecord, record_id)
    if record is None:
        raise NotFound(f"no factor model with id {record_id}", field="id")
    if record.status != "fitted":
        raise Conflict(f"factor model {record_id} failed ({record.error}) and cannot be activated",
                       field="id")
    if not record.is_active:
        _deactivate(session, record.questionnaire_id)
        record.is_active = True
        session.add(record)
        session.flush()
    return record


def list_factor_models(session: Session, questionnaire_id: str | None = None) -> list[dict[str, Any]]:
    """Summaries of stored factor models, newest first."""
    query = select(FactorModelRecord).order_by(FactorModelRecord.id.desc())
    if questionnaire_id is not None:
        query = query.where(FactorModelRecord.questionnaire_id == questionnaire_id)
    out = []
    for record in session.exec(query).all():
        report = record.results.get("report", {})
        out.append({
            "id": record.id, "questionnaire_id": record.questionnaire_id,
            "version": record.questionnaire_version, "status": record.status,
            "is_active": record.is_active, "n_respondents": record.n_respondents,
            "n_responses": record.n_responses, "n_factors": report.get("n_factors"),
            "factors": record.results.get("labels", []), "options": record.options,
            "error": record.error, "created_at": record.created_at.isoformat(),
        })
    return out


def active_factor_model(session: Session, questionnaire_id: str) -> FactorModelRecord:
    record = session.exec(select(FactorModelRecord).where(
        FactorModelRecord.questionnaire_id == questionnaire_id, FactorModelRecord.is_active)).first()
    if record is None:
        raise NotFound(f"questionnaire {questionnaire_id!r} has no active factor model; "
                       "run `survey-engine factors fit`", field="questionnaire")
    return record


_scorers: dict[int, Any] = {}


def _scorer(record: FactorModelRecord):
    """The record's FactorModel, rebuilt once per record (records never change)."""
    model = _scorers.get(record.id)
    if model is None:
        from survey_engine.psychometrics.efa import FactorModel

        model = _scorers[record.id] = FactorModel.from_dict(record.results["model"])
    return model


def score_response(session: Session, questionnaire_id: str, answers: Mapping[str, Any]) -> dict[str, float]:
    """Factor scores of one response with the questionnaire's active model, without refitting.

    ``answers`` is the stored answer mapping (raw Likert values); reverse keying is applied here
    as in the fit, non-Likert answers are ignored and unanswered items are scored from the rest.
    """
    record = active_factor_model(session, questionnaire_id)
    model = _scorer(record)
    reverse = set(record.results["reverse_keyed"])
    low, high = record.results["scale"]["min"], record.results["scale"]["max"]
    keyed = {}
    for item in model.items_:
        value = answers.get(item)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            keyed[item] = low + high - value if item in reverse else float(value)
    scores = model.score_one(keyed)
    return {label: float(score) for label, score in zip(record.results["labels"], scores)}
