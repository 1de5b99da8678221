"""How customers spread over archetypes, for the staff pages: archetype × value-tier counts, a 2-D
map of respondents in factor space, and candidate archetypes from discovery that a researcher can
accept into a catalog file.

Assignments come from ``archetype_assignment`` (current rows), value tiers from the active CLV
model's ``clv_customer_value`` rows, factor scores from the factor model each assignment records.
Proposals (``archetypes propose``) are kept as catalog-format YAML files in the instance folder
until a researcher accepts a candidate: it is then appended to the chosen catalog file, which is
validated as a whole before it replaces the old one.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from sqlmodel import Session, select

from survey_engine.models import Customer, Response
from survey_engine.models.archetypes import ArchetypeAssignment
from survey_engine.models.clv import CLVModelRecord, CustomerValue
from survey_engine.models.factors import FactorModelRecord
from survey_engine.services.survey import NotFound, ServiceError, latest_version, spec_of

PROPOSALS_DIR = "proposals"


def _current(session: Session, questionnaire_id: str, catalog_id: str) -> list[ArchetypeAssignment]:
    return list(session.exec(select(ArchetypeAssignment).where(
        ArchetypeAssignment.questionnaire_id == questionnaire_id, ArchetypeAssignment.catalog_id == catalog_id,
        ArchetypeAssignment.is_current).order_by(ArchetypeAssignment.customer_id)).all())


def tier_crosstab(session: Session, questionnaire_id: str, catalog_id: str) -> dict[str, Any] | None:
    """Counts of customers per (top archetype, value tier) under the active CLV model.

    Returns None when there is no active CLV model. Customers without a value (no purchases in
    the model's data) are counted under ``no value``.
    """
    from survey_engine.clv.tiers import TIERS

    model = session.exec(select(CLVModelRecord).where(CLVModelRecord.is_active == True)).first()  # noqa: E712
    if model is None:
        return None
    rows = session.exec(
        select(ArchetypeAssignment.top_archetype, CustomerValue.tier)
        .join(Customer, Customer.id == ArchetypeAssignment.customer_id)
        .join(CustomerValue, (CustomerValue.customer_external_id == Customer.external_id)
              & (CustomerValue.model_id == model.id), isouter=True)
        .where(ArchetypeAssignment.questionnaire_id == questionnaire_id,
               ArchetypeAssignment.catalog_id == catalog_id, ArchetypeAssignment.is_current)
    ).all()
    if not rows:
        return None
    frame = pd.DataFrame(rows, columns=["archetype", "tier"]).fillna({"tier": "no value"})
    columns = list(TIERS) + (["no value"] if (frame["tier"] == "no value").any() else [])
    table = pd.crosstab(frame["archetype"], frame["tier"]).reindex(columns=columns, fill_value=0)
    return {"clv_model_version": model.version, "archetypes": list(table.index), "tiers": columns,
            "counts": table.to_numpy().tolist(), "n_customers": int(len(frame))}


def _scores(record: FactorModelRecord, answers: list[dict]) -> pd.DataFrame:
    """Factor scores of stored answers with one factor model (reverse keying as in its fit)."""
    from survey_engine.psychometrics.efa import FactorModel

    model = FactorModel.from_dict(record.results["model"])
    reverse = set(record.results["reverse_keyed"])
    low, high = record.results["scale"]["min"], record.results["scale"]["max"]
    rows = [{item: (low + high - value if item in reverse else float(value))
             for item in model.items_
             if isinstance((value := answer.get(item)), (int, float)) and not isinstance(value, bool)}
            for answer in answers]
    frame = pd.DataFrame(rows, columns=model.items_, dtype=float)
    return pd.DataFrame(model.transform(frame), columns=record.results["labels"])


@dataclass(frozen=True)
class RespondentMap:
    """Respondents projected on the first two principal components of their standardised factor
    scores; ``axes`` describes each component by its variance share and heaviest factors."""

    x: list[float]
    y: list[float]
    archetypes: list[str]
    axes: list[dict[str, Any]]
    factor_model_id: int


def respondent_map(session: Session, questionnaire_id: str, catalog_id: str) -> RespondentMap | None:
    """The 2-D map of the currently assigned respondents of one catalog, or None without assignments.

    Principal components of the z-scored factor scores (Pearson 1901; SVD of the centred matrix):
    a faithful 2-D picture of the factor space in which the archetypes were assigned.
    """
    assignments = _current(session, questionnaire_id, catalog_id)
    if not assignments:
        return None
    model_ids = {a.factor_model_id for a in assignments if a.factor_model_id is not None}
    if len(model_ids) != 1:
        return None
    record = session.get(FactorModelRecord, model_ids.pop())
    responses = {r.id: r for r in session.exec(select(Response).where(
        Response.id.in_([a.response_id for a in assignments]))).all()}
    scores = _scores(record, [responses[a.response_id].answers for a in assignments]).to_numpy()
    keep = ~np.isnan(scores).any(axis=1)
    scores = scores[keep]
    if len(scores) < 3:
        return None
    z = (scores - scores.mean(axis=0)) / np.where(scores.std(axis=0) > 0, scores.std(axis=0), 1.0)
    _, singular, components = np.linalg.svd(z, full_matrices=False)
    share = singular ** 2 / np.sum(singular ** 2)
    coordinates = z @ components[:2].T
    labels = record.results["labels"]
    axes = []
    for k in range(2):
        weights = components[k]
        if weights[np.argmax(np.abs(weights))] < 0:
            weights, coordinates[:, k] = -weights, -coordinates[:, k]
        heaviest = np.argsort(-np.abs(weights))[:2]
        axes.append({"share": float(share[k]),
                     "factors": [(labels[j], float(weights[j])) for j in heaviest]})
    kept = [a for a, k in zip(assignments, keep) if k]
    return RespondentMap(coordinates[:, 0].round(4).tolist(), coordinates[:, 1].round(4).tolist(),
                         [a.top_archetype for a in kept], axes, record.id)


# --------------------------------------------------------------------------------------------
# Proposals from discovery, and accepting a candidate into a catalog file
# --------------------------------------------------------------------------------------------

def proposals_dir(instance_dir: Path) -> Path:
    return Path(instance_dir) / PROPOSALS_DIR


def _proposal_path(instance_dir: Path, questionnaire_id: str, text_item: str) -> Path:
    return proposals_dir(instance_dir) / f"{questionnaire_id}.{text_item}.yaml"


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def run_discovery(session: Session, questionnaire_id: str, text_item: str, *, catalogs_dir: Path,
                  instance_dir: Path, embedder=None) -> Path:
    """Discover candidate archetypes (``services.archetypes.propose_archetypes``) and keep the
    proposal file in the instance folder; returns its path."""
    from survey_engine.services.archetypes import propose_archetypes

    text = propose_archetypes(session, questionnaire_id, text_item=text_item, catalogs_dir=catalogs_dir,
                              embedder=embedder)
    path = _proposal_path(instance_dir, questionnaire_id, text_item)
    _write_atomically(path, text)
    _accepted_file(path).unlink(missing_ok=True)
    return path


def _accepted_file(proposal: Path) -> Path:
    return proposal.with_suffix(".accepted.json")


def _accepted(proposal: Path) -> dict[str, dict[str, str]]:
    path = _accepted_file(proposal)
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _known(session: Session, questionnaire_id: str) -> tuple[set[str], list[str]]:
    spec = spec_of(latest_version(session, questionnaire_id))
    return set(spec.constructs), [item.name for item in spec.items if item.type == "free_text"]


def list_proposals(session: Session, questionnaire_id: str, instance_dir: Path) -> list[dict[str, Any]]:
    """The stored proposals of a questionnaire: file, catalog and which candidates were accepted."""
    from survey_engine.definitions.archetypes import load_archetype_catalog
    from survey_engine.definitions.errors import DefinitionError

    factors, text_items = _known(session, questionnaire_id)
    out = []
    folder = proposals_dir(instance_dir)
    for path in sorted(folder.glob(f"{questionnaire_id}.*.yaml")) if folder.is_dir() else []:
        if path.name.endswith(".accepted.json"):
            continue
        try:
            catalog = load_archetype_catalog(path, known_factors=None, known_text_items=text_items)
        except DefinitionError as exc:
            out.append({"file": path.name, "catalog": None, "issues": exc.issues, "accepted": {}})
            continue
        header = [line[2:] for line in path.read_text(encoding="utf-8").splitlines() if line.startswith("# ")]
        out.append({"file": path.name, "catalog": catalog, "issues": [], "accepted": _accepted(path),
                    "note": " ".join(header)})
    return out


_ID = re.compile(r"^[a-z][a-z0-9_]*$")


class _PlainDumper(yaml.SafeDumper):
    """No anchors and aliases: a researcher edits the written file by hand."""

    def ignore_aliases(self, data) -> bool:
        return True


def accept_candidate(session: Session, questionnaire_id: str, *, proposal_file: str, candidate_id: str,
                     catalog_id: str, new_id: str, name: str | None, catalogs_dir: Path,
                     instance_dir: Path, author: str) -> Path:
    """Append one candidate to a catalog file, validated, and return the file written.

    The candidate's ``discovery`` evidence is dropped, its id and English name replaced by the
    researcher's, and the catalog's version raised by one. The new file text is parsed and
    checked against the questionnaire (factors, free-text items, languages) together with the
    other catalogs before it replaces the old file (atomically, keeping its comments); any
    problem raises :class:`ServiceError` and leaves every file as it was.
    """
    from survey_engine.definitions.archetypes import (
        load_archetype_catalog,
        load_archetype_catalogs,
        parse_archetype_catalog,
    )
    from survey_engine.definitions.errors import DefinitionError

    folder = proposals_dir(instance_dir)
    proposal = folder / proposal_file
    if "/" in proposal_file or "\\" in proposal_file or not proposal.is_file() \
            or not proposal_file.startswith(f"{questionnaire_id}."):
        raise NotFound(f"no proposal {proposal_file!r} for {questionnaire_id!r}", field="proposal")
    factors, text_items = _known(session, questionnaire_id)
    candidates = load_archetype_catalog(proposal, known_factors=None, known_text_items=text_items)
    try:
        candidate = candidates.archetype(candidate_id)
    except KeyError:
        raise NotFound(f"the proposal has no candidate {candidate_id!r}", field="candidate") from None
    new_id = (new_id or "").strip()
    if not _ID.match(new_id):
        raise ServiceError("the new id must start with a letter and use only a-z, 0-9 and _", field="new_id")
    try:
        catalogs = load_archetype_catalogs(catalogs_dir, known_factors=factors, known_text_items=text_items)
    except DefinitionError as exc:
        raise ServiceError(f"fix the catalogs first: {exc.issues[0]}", field="catalog") from None
    targets = {c.id: (Path(c.file), c) for c in catalogs.values() if not c.catalog.proposal}
    if catalog_id not in targets:
        raise ServiceError(f"choose one of the catalogs: {', '.join(sorted(targets))}", field="catalog")
    path, target = targets[catalog_id]
    if new_id in target.archetype_ids:
        raise ServiceError(f"catalog {catalog_id!r} already has an archetype {new_id!r}", field="new_id")
    data = candidate.model_dump(mode="json", exclude_none=True)
    data.pop("discovery", None)
    data["id"] = new_id
    if name and name.strip():
        data["name"] = {**data["name"], "en": name.strip()}
    block = yaml.dump([data], Dumper=_PlainDumper, allow_unicode=True, sort_keys=False, width=110)
    original = path.read_text(encoding="utf-8")
    text = original.rstrip("\n") + "\n\n" + f"  # accepted from {proposal_file} ({candidate_id}) by {author}\n" \
        + "".join(f"  {line}\n" if line else "\n" for line in block.splitlines())
    text, bumped = re.subn(r"(?m)^(  version:\s*)(\d+)\s*$", lambda m: f"{m.group(1)}{int(m.group(2)) + 1}", text,
                           count=1)
    if not bumped:
        raise ServiceError(f"{path.name}: no 'version:' line in the catalog header to raise", field="catalog")
    try:
        parsed = parse_archetype_catalog(text, str(path), known_factors=factors, known_text_items=text_items)
    except DefinitionError as exc:
        raise ServiceError("the catalog would be invalid: " + "; ".join(str(i) for i in exc.issues[:5]),
                           field="candidate") from None
    if new_id not in parsed.archetype_ids:
        raise ServiceError(f"{path.name} does not end with its archetypes list; add {new_id!r} by hand",
                           field="catalog")
    _write_atomically(path, text)
    accepted = _accepted(proposal)
    accepted[candidate_id] = {"catalog": catalog_id, "id": new_id, "by": author}
    _write_atomically(_accepted_file(proposal), json.dumps(accepted, indent=2))
    return path
