"""Archetypes from stored responses: assign customers to the catalogs' archetypes, report, propose.

The only code joining the text and archetype cores to the database: submitted responses of a
questionnaire → factor scores from its active factor model + embeddings of the free-text answers
(cached in ``embedding_cache``) → one :class:`ArchetypeAssigner` per catalog → rows of
``archetype_assignment`` stamped with the catalog version, factor model and embedding model.
"""
from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sqlmodel import Session, select, update

from survey_engine.definitions.archetypes import load_archetype_catalogs
from survey_engine.definitions.errors import DefinitionError
from survey_engine.models import QuestionnaireVersion, Response
from survey_engine.models.archetypes import ArchetypeAssignment, EmbeddingCacheEntry
from survey_engine.services.factors import active_factor_model
from survey_engine.services.survey import NotFound, ServiceError, latest_version, spec_of


class DatabaseEmbeddingCache:
    """:class:`~survey_engine.text.embeddings.EmbeddingCache` on the ``embedding_cache`` table."""

    def __init__(self, session: Session):
        self.session = session

    def get_many(self, keys: Sequence[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        keys = list(keys)
        for start in range(0, len(keys), 500):
            rows = self.session.exec(select(EmbeddingCacheEntry.key, EmbeddingCacheEntry.vector)
                                     .where(EmbeddingCacheEntry.key.in_(keys[start:start + 500]))).all()
            found.update({key: np.frombuffer(vector, dtype="<f4").copy() for key, vector in rows})
        return found

    def put_many(self, items: Mapping[str, np.ndarray], model_id: str) -> None:
        existing = set(self.get_many(list(items)))
        for key, vector in items.items():
            if key not in existing:
                data = np.asarray(vector, dtype="<f4")
                self.session.add(EmbeddingCacheEntry(key=key, model_id=model_id, dim=int(data.size),
                                                     vector=data.tobytes()))
        self.session.flush()


def _versions(session: Session, questionnaire_id: str) -> list[QuestionnaireVersion]:
    versions = session.exec(select(QuestionnaireVersion)
                            .where(QuestionnaireVersion.questionnaire_id == questionnaire_id)).all()
    if not versions:
        raise NotFound(f"questionnaire {questionnaire_id!r} is not loaded", field="questionnaire")
    return list(versions)


def load_catalogs(session: Session, questionnaire_id: str, catalogs_dir: Path) -> dict[str, Any]:
    """The catalogs in ``catalogs_dir`` validated against the questionnaire's constructs, free-text
    items and languages (raises :class:`DefinitionError` listing every problem)."""
    spec = spec_of(latest_version(session, questionnaire_id))
    text_items = [item.name for item in spec.items if item.type == "free_text"]
    return load_archetype_catalogs(catalogs_dir, known_factors=set(spec.constructs), known_text_items=text_items,
                                   languages=None)


def _factor_scores(record, responses: list[Response]) -> pd.DataFrame:
    from survey_engine.psychometrics.efa import FactorModel

    model = FactorModel.from_dict(record.results["model"])
    reverse = set(record.results["reverse_keyed"])
    low, high = record.results["scale"]["min"], record.results["scale"]["max"]
    rows = []
    for response in responses:
        row = {}
        for item in model.items_:
            value = response.answers.get(item)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                row[item] = low + high - value if item in reverse else float(value)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=model.items_, dtype=float)
    return pd.DataFrame(model.transform(frame), columns=record.results["labels"])


def assign_archetypes(session: Session, questionnaire_id: str, *, catalogs_dir: Path,
                      embedder=None, factor_weight: float = 1.0, text_weight: float = 1.0) -> dict[str, Any]:
    """Assign every customer with a submitted response to the archetypes of every catalog.

    The latest submitted response of each customer is used. Factor scores come from the
    questionnaire's active factor model; free text from the items each catalog names in
    ``catalog.text_items``. Rows of earlier runs stay, marked not current.

    Returns
    -------
    dict
        ``run_id``, ``n_customers``, and per catalog: version, counts per archetype, signals used.
    """
    from survey_engine.archetyping.assign import ArchetypeAssigner, assignment_features, embed_catalog
    from survey_engine.services.profile_models import save_fitted_assigner
    from survey_engine.services.profiles import correction_labels
    from survey_engine.text.embeddings import TextEmbedder

    catalogs = load_catalogs(session, questionnaire_id, catalogs_dir)
    record = active_factor_model(session, questionnaire_id)
    version_ids = [v.id for v in _versions(session, questionnaire_id)]
    responses = list(session.exec(select(Response).where(Response.questionnaire_version_id.in_(version_ids),
                                                         Response.status == "submitted")
                                  .order_by(Response.customer_id, Response.submitted_at, Response.id)).all())
    latest: dict[int, Response] = {}
    for response in responses:
        latest[response.customer_id] = response
    responses = list(latest.values())
    if len(responses) < 10:
        raise ServiceError(f"only {len(responses)} customers have submitted responses; at least 10 are needed",
                           field="questionnaire")
    scores = _factor_scores(record, responses)
    embedder = embedder or TextEmbedder(cache=DatabaseEmbeddingCache(session))
    if not isinstance(embedder.cache, DatabaseEmbeddingCache):
        embedder.cache = DatabaseEmbeddingCache(session)
    run_id = str(uuid.uuid4())
    summary: dict[str, Any] = {"run_id": run_id, "n_customers": len(responses), "factor_model_id": record.id,
                               "embedding_model_id": embedder.model_id, "catalogs": {}}
    for catalog in catalogs.values():
        if catalog.catalog.proposal:
            continue
        factors = [f for f in scores.columns]
        embeddings = [embedder.embed([r.answers.get(item, "") for r in responses]) for item in catalog.catalog.text_items]
        prototypes = embed_catalog(catalog, embedder) if embeddings else None
        X = assignment_features(scores, embeddings, factors=factors)
        # Advisors' corrections (profiles) are labels: EM keeps them fixed and they set the temperature.
        labels = correction_labels(session, catalog.id, [r.customer_id for r in responses], run_id=run_id)
        assigner = ArchetypeAssigner(catalog, prototypes, factors=factors, factor_weight=factor_weight,
                                     text_weight=text_weight).fit(X, labels)
        # Kept so a new response is assigned by this very model at once (profiles, no refit).
        save_fitted_assigner(session, run_id=run_id, questionnaire_id=questionnaire_id, catalog=catalog,
                             assigner=assigner, factor_model_id=record.id,
                             embedding_model_id=embedder.model_id if embeddings else None, n_customers=len(responses))
        memberships = assigner.predict_proba(X)
        explanations = assigner.explain(X)
        session.exec(update(ArchetypeAssignment)
                     .where(ArchetypeAssignment.questionnaire_id == questionnaire_id,
                            ArchetypeAssignment.catalog_id == catalog.id, ArchetypeAssignment.is_current)
                     .values(is_current=False))
        ids = list(assigner.classes_)
        for response, row, explanation in zip(responses, memberships, explanations):
            session.add(ArchetypeAssignment(
                run_id=run_id, customer_id=response.customer_id, response_id=response.id,
                questionnaire_id=questionnaire_id, catalog_id=catalog.id, catalog_version=catalog.version_label,
                factor_model_id=record.id, embedding_model_id=embedder.model_id if embeddings else None,
                top_archetype=explanation["archetype"], top_membership=float(row.max()),
                memberships={a: round(float(p), 5) for a, p in zip(ids, row)}, explanation=explanation))
        counts = pd.Series([e["archetype"] for e in explanations]).value_counts()
        summary["catalogs"][catalog.id] = {
            "version": catalog.version_label, "text_items": list(catalog.catalog.text_items),
            "counts": {a: int(counts.get(a, 0)) for a in ids},
            "mean_top_membership": round(float(memberships.max(axis=1).mean()), 4),
            "em_iterations": int(assigner.n_iter_),
            "labelled_by_advisors": sum(label is not None for label in labels),
        }
    session.flush()
    return summary


def assign_demo_archetypes(session: Session, population) -> str:
    """Assign the customers of a demo population (``survey-engine demo``) to the archetypes of the
    configured catalogs (``SURVEY_ENGINE_ARCHETYPES_DIR``), using the active factor models the demo
    just fitted; returns a one-line summary."""
    from survey_engine.config import Settings

    catalogs_dir = Settings.from_env().archetypes_dir
    done = []
    for questionnaire_id in sorted(set(population.responses["questionnaire_id"])):
        summary = assign_archetypes(session, questionnaire_id, catalogs_dir=catalogs_dir)
        catalogs = ", ".join(f"{catalog_id} (mean top membership {info['mean_top_membership']:.2f})"
                             for catalog_id, info in summary["catalogs"].items())
        done.append(f"{questionnaire_id}: {summary['n_customers']} customers assigned in {catalogs}")
    return "; ".join(done)


def archetype_report(session: Session, questionnaire_id: str) -> dict[str, Any]:
    """Distribution, confidence and confusion of the current assignments, per catalog.

    ``confusion[a][b]`` is the mean membership in *b* of the customers whose top archetype is *a*
    (the diagonal is their mean confidence; large off-diagonal cells are archetypes the data cannot
    tell apart). ``runner_up[a][b]`` counts customers with top *a* whose second choice is *b*.
    """
    rows = session.exec(select(ArchetypeAssignment).where(ArchetypeAssignment.questionnaire_id == questionnaire_id,
                                                         ArchetypeAssignment.is_current)).all()
    if not rows:
        raise NotFound(f"no archetype assignments for {questionnaire_id!r}; run `survey-engine archetypes assign`",
                       field="questionnaire")
    report: dict[str, Any] = {"questionnaire_id": questionnaire_id, "catalogs": {}}
    by_catalog: dict[str, list[ArchetypeAssignment]] = {}
    for row in rows:
        by_catalog.setdefault(row.catalog_id, []).append(row)
    for catalog_id, items in sorted(by_catalog.items()):
        ids = list(items[0].memberships)
        M = np.array([[r.memberships.get(a, 0.0) for a in ids] for r in items])
        top = M.argmax(axis=1)
        second = np.argsort(-M, axis=1)[:, 1] if len(ids) > 1 else top
        confidence = M.max(axis=1)
        report["catalogs"][catalog_id] = {
            "version": items[0].catalog_version,
            "n_customers": len(items),
            "distribution": {a: int((top == k).sum()) for k, a in enumerate(ids)},
            "confidence": {"mean": round(float(confidence.mean()), 4),
                           "median": round(float(np.median(confidence)), 4),
                           "share_below_0_5": round(float((confidence < 0.5).mean()), 4)},
            "confusion": {a: {b: round(float(M[top == k, j].mean()), 4) if (top == k).any() else None
                              for j, b in enumerate(ids)} for k, a in enumerate(ids)},
            "runner_up": {a: {b: int(((top == k) & (second == j)).sum()) for j, b in enumerate(ids) if j != k}
                          for k, a in enumerate(ids)},
        }
    return report


def propose_archetypes(session: Session, questionnaire_id: str, *, text_item: str, catalogs_dir: Path,
                       embedder=None, k_range: tuple[int, int] = (2, 10), method: str = "silhouette") -> str:
    """Discover candidate archetypes and return them as proposal catalog YAML (validated)."""
    from survey_engine.archetyping.discovery import ArchetypeDiscovery, candidates_to_catalog
    from survey_engine.definitions.archetypes import dump_archetype_catalog, parse_archetype_catalog
    from survey_engine.text.embeddings import TextEmbedder

    spec = spec_of(latest_version(session, questionnaire_id))
    text_items = [item.name for item in spec.items if item.type == "free_text"]
    if text_item not in text_items:
        raise ServiceError(f"{text_item!r} is not a free-text item of {questionnaire_id!r}; "
                           f"choose one of {', '.join(text_items)}", field="text_item")
    catalogs = load_catalogs(session, questionnaire_id, catalogs_dir)
    record = active_factor_model(session, questionnaire_id)
    version_ids = [v.id for v in _versions(session, questionnaire_id)]
    responses = list(session.exec(select(Response).where(Response.questionnaire_version_id.in_(version_ids),
                                                         Response.status == "submitted")
                                  .order_by(Response.id)).all())
    if len(responses) <= k_range[1]:
        raise ServiceError(f"discovery needs more than {k_range[1]} submitted responses, got {len(responses)}",
                           field="questionnaire")
    scores = _factor_scores(record, responses)
    embedder = embedder or TextEmbedder(cache=DatabaseEmbeddingCache(session))
    texts = [r.answers.get(text_item, "") or "" for r in responses]
    embedded = embedder.embed(texts)
    model = ArchetypeDiscovery(list(scores.columns), k_range=k_range, method=method).fit(
        scores, embedded.vectors, texts)
    model.match_catalogs([c for c in catalogs.values() if not c.catalog.proposal])
    data = candidates_to_catalog(model.candidates_, catalog_id=f"proposed_{text_item}",
                                 languages=tuple(spec.languages),
                                 stability=model.stability_, text_items=[text_item])
    text = dump_archetype_catalog(data)
    parse_archetype_catalog(text, "<proposal>", known_factors=set(spec.constructs) | set(scores.columns),
                            known_text_items=text_items)
    header = (f"# Proposed archetypes for {questionnaire_id} from {len(responses)} responses ({text_item}).\n"
              f"# k = {model.n_clusters_} chosen by {method}; bootstrap stability (mean ARI) "
              f"{model.stability_:.2f}. Edit names, phrases and engagement, set proposal: false and remove\n"
              f"# the discovery blocks to accept.\n")
    return header + text


def validate_catalogs(session: Session | None, catalogs_dir: Path, questionnaire_id: str | None = None) -> list:
    """Every problem of the catalogs in ``catalogs_dir`` (checked against the questionnaire when given)."""
    try:
        if session is not None and questionnaire_id is not None:
            load_catalogs(session, questionnaire_id, catalogs_dir)
        else:
            load_archetype_catalogs(catalogs_dir, known_factors=None)
    except DefinitionError as exc:
        return exc.issues
    return []
