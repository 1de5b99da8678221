"""Models that profiles apply to one person without refitting: the archetype assigners fitted by
``archetypes assign`` (kept per run and catalog), and the theme model of free-text answers.

A fitted :class:`~survey_engine.archetyping.assign.ArchetypeAssigner` is stored as an ``.npz``
archive of its learned arrays plus JSON parameters and the catalog's content, so a new response is
assigned with exactly the model of the current assignment run (no refit, no pickle).
"""
from __future__ import annotations

import io
import logging
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlmodel import Session, select

from survey_engine.models.profiles import FittedAssigner, ThemeModel

log = logging.getLogger(__name__)

#: Learned arrays of an ArchetypeAssigner, stored in the ``.npz`` archive.
_ASSIGNER_ARRAYS = ("profile_", "center_", "scale_", "factor_slope_", "factor_offset_", "factor_sd_", "priors_",
                    "exemplars_", "exemplar_labels_", "exemplar_weights_")
_PARAMS = ("factor_weight", "text_weight", "temperature", "text_neighbors", "max_exemplars", "phrase_weight",
           "smoothing", "top_k_phrases", "max_iter", "tol", "learn_priors", "random_state")

_lock = threading.Lock()
_assigners: dict[int, Any] = {}
_embedders: dict[str | None, Any] = {}


def _npz(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def save_fitted_assigner(session: Session, *, run_id: str, questionnaire_id: str, catalog, assigner,
                         factor_model_id: int | None, embedding_model_id: str | None,
                         n_customers: int) -> FittedAssigner:
    """Keep a fitted assigner of one catalog so later responses are assigned by the same model."""
    arrays = {name: np.asarray(getattr(assigner, name)) for name in _ASSIGNER_ARRAYS}
    prototypes = assigner.prototypes
    if prototypes is not None:
        arrays.update(proto_owner=np.asarray(prototypes.owner), proto_embeddings=np.asarray(prototypes.embeddings))
    params = {name: getattr(assigner, name) for name in _PARAMS}
    params.update(
        factors=list(assigner.factors_), classes=[str(c) for c in assigner.classes_],
        n_text_fields=int(assigner.n_text_fields_), temperature_fitted=float(assigner.temperature_),
        n_iter=int(assigner.n_iter_), converged=bool(assigner.converged_),
        catalog=catalog.model_dump(mode="json"),
        prototypes=None if prototypes is None else {"archetype_ids": list(prototypes.archetype_ids),
                                                    "texts": list(prototypes.texts),
                                                    "model_id": prototypes.model_id},
    )
    row = FittedAssigner(run_id=run_id, questionnaire_id=questionnaire_id, catalog_id=catalog.id,
                         catalog_version=catalog.version_label, factor_model_id=factor_model_id,
                         embedding_model_id=embedding_model_id, text_items=list(catalog.catalog.text_items),
                         params=params, state=_npz(arrays), n_customers=int(n_customers))
    session.add(row)
    session.flush()
    return row


def assigner_from_row(row: FittedAssigner):
    """The fitted ArchetypeAssigner a :class:`FittedAssigner` row holds (cached per row id)."""
    from survey_engine.archetyping.assign import ArchetypeAssigner, TextPrototypes
    from survey_engine.definitions.archetypes import ArchetypeCatalog

    with _lock:
        cached = _assigners.get(row.id)
    if cached is not None:
        return cached
    params = dict(row.params)
    catalog = ArchetypeCatalog.model_validate(params["catalog"])
    with np.load(io.BytesIO(row.state), allow_pickle=False) as archive:
        arrays = {name: archive[name] for name in archive.files}
    prototypes = None
    if params.get("prototypes") is not None:
        meta = params["prototypes"]
        prototypes = TextPrototypes(tuple(meta["archetype_ids"]), tuple(meta["texts"]), arrays["proto_owner"],
                                    arrays["proto_embeddings"].astype(np.float32), meta["model_id"])
    assigner = ArchetypeAssigner(catalog, prototypes, factors=params["factors"],
                                 **{name: params[name] for name in _PARAMS})
    for name in _ASSIGNER_ARRAYS:
        setattr(assigner, name, arrays[name])
    assigner.exemplars_ = assigner.exemplars_.astype(np.float32)
    assigner.classes_ = np.asarray(params["classes"], dtype=object)
    assigner.factors_ = tuple(params["factors"])
    assigner.n_text_fields_ = int(params["n_text_fields"])
    assigner.temperature_ = float(params["temperature_fitted"])
    assigner.n_iter_ = int(params["n_iter"])
    assigner.converged_ = bool(params["converged"])
    with _lock:
        _assigners[row.id] = assigner
    return assigner


#: Columns of a fitted assigner that say what it is, without its (large) learned state.
_ASSIGNER_SUMMARY = (FittedAssigner.id, FittedAssigner.run_id, FittedAssigner.catalog_id, FittedAssigner.catalog_version,
                     FittedAssigner.factor_model_id, FittedAssigner.embedding_model_id, FittedAssigner.text_items)


def current_assigners(session: Session, questionnaire_id: str) -> list:
    """The assigner of each catalog from the latest assignment run of ``questionnaire_id``, as rows of
    :data:`_ASSIGNER_SUMMARY` (load the model itself with :func:`assigner_for`)."""
    rows = session.execute(sa.select(*_ASSIGNER_SUMMARY).where(FittedAssigner.questionnaire_id == questionnaire_id)
                           .order_by(FittedAssigner.id.desc())).all()
    latest: dict[str, Any] = {}
    for row in rows:
        latest.setdefault(row.catalog_id, row)
    return list(latest.values())


def assigner_for(session: Session, assigner_id: int):
    """The fitted ArchetypeAssigner stored under ``assigner_id`` (read from the database once)."""
    with _lock:
        cached = _assigners.get(assigner_id)
    if cached is not None:
        return cached
    return assigner_from_row(session.get(FittedAssigner, assigner_id))


def embedder_for(session: Session, model_path=None):
    """A TextEmbedder on the database cache (the model loads only when a text is not cached)."""
    from survey_engine.services.archetypes import DatabaseEmbeddingCache
    from survey_engine.text.embeddings import TextEmbedder

    with _lock:
        embedder = _embedders.get(model_path)
        if embedder is None:
            embedder = _embedders[model_path] = TextEmbedder(model_path)
    embedder.cache = DatabaseEmbeddingCache(session)
    return embedder


def embedding_model_id(model_path=None) -> str:
    """Fingerprint of the configured embedding model (no model load)."""
    from survey_engine.text.embeddings import model_fingerprint, resolve_model_path

    return model_fingerprint(resolve_model_path(model_path))


def cached_vectors(session: Session, texts: Sequence[str], model_id: str) -> dict[int, np.ndarray]:
    """Cached embeddings of ``texts`` by ``model_id``: ``{position: vector}`` for those in the cache."""
    from survey_engine.models.archetypes import EmbeddingCacheEntry
    from survey_engine.text.embeddings import normalise_text, text_key

    keys = {}
    for position, text in enumerate(texts):
        normalised = normalise_text(text)
        if normalised:
            keys[position] = text_key(normalised, model_id)
    wanted = sorted(set(keys.values()))
    found: dict[str, np.ndarray] = {}
    connection = session.connection()
    for start in range(0, len(wanted), 500):
        rows = connection.execute(sa.select(EmbeddingCacheEntry.key, EmbeddingCacheEntry.vector)
                                  .where(EmbeddingCacheEntry.key.in_(wanted[start:start + 500])))
        found.update({key: np.frombuffer(vector, dtype="<f4") for key, vector in rows})
    return {position: found[key] for position, key in keys.items() if key in found}


# ---- themes ---------------------------------------------------------------------------------------

def fit_theme_model(session: Session, texts: Sequence[str], vectors: np.ndarray, *, model_id: str,
                    text_items: Sequence[str], n_themes: int = 8, random_state: int = 0) -> ThemeModel:
    """Cluster answer embeddings into themes labelled by c-TF-IDF terms and store the model."""
    from survey_engine.text.themes import ThemeFinder

    n_themes = max(1, min(int(n_themes), len(texts)))
    finder = ThemeFinder(n_themes=n_themes, n_representatives=0, random_state=random_state).fit(vectors, list(texts))
    themes = [{"id": int(theme.label), "title": theme.title, "size": theme.size,
               "terms": [term for term, _ in theme.terms]} for theme in finder.themes_]
    centroids = np.asarray(finder.centroids_, dtype="<f4")
    row = ThemeModel(embedding_model_id=model_id, text_items=list(text_items), themes=themes,
                     centroids=centroids.tobytes(), dim=int(centroids.shape[1]), n_answers=len(texts))
    session.add(row)
    session.flush()
    return row


def latest_theme_model(session: Session, model_id: str | None = None) -> ThemeModel | None:
    query = select(ThemeModel).order_by(ThemeModel.id.desc())
    if model_id is not None:
        query = query.where(ThemeModel.embedding_model_id == model_id)
    return session.exec(query).first()


def theme_centroids(model: ThemeModel) -> np.ndarray:
    centroids = np.frombuffer(model.centroids, dtype="<f4").reshape(-1, model.dim).astype(np.float64)
    return centroids / (np.linalg.norm(centroids, axis=1, keepdims=True) + 1e-12)
