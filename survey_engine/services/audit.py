"""Drift audit of profiles since a date: where clients moved between segments (from the profile
history), how stable each segment was, and a sample of clients whose recent behaviour no longer
fits their segment (P(alive) fell, spending unlike their tier, recent free text closer to another
archetype)."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlmodel import Session

from survey_engine.clv.tiers import TIERS
from survey_engine.models import QuestionnaireVersion, Response
from survey_engine.models.clv import Transaction
from survey_engine.models.identity import CustomerPerson
from survey_engine.models.profiles import Profile, ProfileHistory

DIMENSIONS = ("value_tier", "style_archetype", "relationship_style")


def _segments_at(session: Session, moment: datetime) -> pd.DataFrame:
    """Each person's last recorded assignment snapshot at or before ``moment``."""
    ranked = (sa.select(ProfileHistory.person_id, ProfileHistory.value_tier, ProfileHistory.style_archetype,
                        ProfileHistory.relationship_style, ProfileHistory.p_alive,
                        sa.func.row_number().over(partition_by=ProfileHistory.person_id,
                                                  order_by=(ProfileHistory.changed_at.desc(),
                                                            ProfileHistory.id.desc())).label("rank"))
              .where(ProfileHistory.changed_at <= moment).subquery())
    rows = session.execute(sa.select(ranked.c.person_id, ranked.c.value_tier, ranked.c.style_archetype,
                                     ranked.c.relationship_style, ranked.c.p_alive)
                           .where(ranked.c.rank == 1)).all()
    return pd.DataFrame(rows, columns=["person_id", *DIMENSIONS, "p_alive"]).set_index("person_id")


def _spend_since(session: Session, moment: datetime) -> pd.Series:
    rows = session.execute(sa.select(CustomerPerson.person_id, sa.func.sum(Transaction.amount))
                           .join(CustomerPerson, CustomerPerson.external_id == Transaction.customer_external_id)
                           .where(Transaction.purchased_at >= moment)
                           .group_by(CustomerPerson.person_id)).all()
    return pd.Series(dict(rows), dtype=float)


def _text_similarity(session: Session, profiles: pd.DataFrame, moment: datetime) -> tuple[pd.DataFrame, pd.Series]:
    """Similarity of the free text of responses given since ``moment`` to each style archetype
    (mean of the three highest cosines to the archetype's descriptions and phrases, as the
    assigner's zero-shot start), for persons surveyed in the period."""
    from survey_engine.services.profile_models import assigner_for, cached_vectors, current_assigners
    from survey_engine.services.profiles import load_guidance

    recent = profiles[(profiles["last_survey_at"] >= pd.Timestamp(moment)) & profiles["response_id"].notna()]
    if recent.empty:
        return pd.DataFrame(), pd.Series(dtype=object)
    questionnaires = dict(session.execute(
        sa.select(Response.id, QuestionnaireVersion.questionnaire_id)
        .join(QuestionnaireVersion, QuestionnaireVersion.id == Response.questionnaire_version_id)
        .where(Response.id.in_([int(r) for r in recent["response_id"]]))).all())
    kinds = {cid: entry["kind"] for cid, entry in load_guidance().items()}
    frames, assigned = [], []
    for questionnaire in sorted(set(questionnaires.values())):
        for row in current_assigners(session, questionnaire):
            if kinds.get(row.catalog_id) != "style" or not row.text_items:
                continue
            assigner = assigner_for(session, row.id)
            prototypes = assigner.prototypes
            if prototypes is None:
                continue
            members = recent[[questionnaires.get(int(r)) == questionnaire for r in recent["response_id"]]]
            answers = dict(session.execute(sa.select(Response.id, Response.answers)
                                           .where(Response.id.in_([int(r) for r in members["response_id"]]))).all())
            texts, owners = [], []
            for person_id, response_id in zip(members.index, members["response_id"]):
                for item in row.text_items:
                    text = answers.get(int(response_id), {}).get(item)
                    if isinstance(text, str) and text.strip():
                        texts.append(text)
                        owners.append(person_id)
            vectors = cached_vectors(session, texts, prototypes.model_id)
            if not vectors:
                continue
            positions = sorted(vectors)
            sims = np.vstack([vectors[i] for i in positions]) @ prototypes.embeddings.T
            scores = np.column_stack([np.sort(sims[:, lo:hi], axis=1)[:, -3:].mean(axis=1)
                                      for lo, hi in prototypes.bounds()])
            frame = pd.DataFrame(scores, columns=list(prototypes.archetype_ids),
                                 index=[owners[i] for i in positions]).groupby(level=0).mean()
            frames.append(frame)
            assigned.append(members["style_archetype"])
    if not frames:
        return pd.DataFrame(), pd.Series(dtype=object)
    return pd.concat(frames), pd.concat(assigned)


def drift_audit(session: Session, since: date, *, sample: int = 20) -> dict[str, Any]:
    """Migration matrices, stability per segment and a sample of misfits since ``since``.

    Returns
    -------
    dict
        ``since``, ``n_profiles``, and per dimension (value tier, style archetype, relationship
        style) ``matrix`` ({from: {to: count}}) and ``stability`` ({segment: {n_start, stayed,
        stability, left, joined, n_now}}); ``misfits`` {``counts`` by kind, ``sample`` of
        {person_id, customer_id, segment, kind, reason}}.
    """
    from survey_engine.profiling.drift import migration_matrix, segment_stability, text_misfits, value_misfits

    moment = datetime.combine(since, time(), tzinfo=timezone.utc)
    rows = session.execute(sa.select(Profile.person_id, Profile.customer_id, *[getattr(Profile, d) for d in DIMENSIONS],
                                     Profile.p_alive, Profile.response_id, Profile.last_survey_at)).all()
    profiles = pd.DataFrame(rows, columns=["person_id", "customer_id", *DIMENSIONS, "p_alive", "response_id",
                                           "last_survey_at"]).set_index("person_id")
    profiles["last_survey_at"] = pd.to_datetime(profiles["last_survey_at"], utc=True)
    then = _segments_at(session, moment)
    report: dict[str, Any] = {"since": since.isoformat(), "n_profiles": int(len(profiles)),
                              "n_with_history_before": int(len(then.index.intersection(profiles.index))),
                              "dimensions": {}}
    for dimension in DIMENSIONS:
        order = list(TIERS) if dimension == "value_tier" else None
        before = then[dimension].reindex(profiles.index) if not then.empty else pd.Series(np.nan, index=profiles.index)
        matrix = migration_matrix(before, profiles[dimension], order)
        stability = segment_stability(before, profiles[dimension], order)
        report["dimensions"][dimension] = {
            "matrix": {str(r): {str(c): int(matrix.loc[r, c]) for c in matrix.columns} for r in matrix.index},
            "stability": {str(segment): {k: (None if pd.isna(v) else round(float(v), 4) if k == "stability" else int(v))
                                         for k, v in values.items()}
                          for segment, values in stability.to_dict(orient="index").items()},
        }
    clients = pd.DataFrame({"value_tier": profiles["value_tier"],
                            "p_alive_then": then["p_alive"].reindex(profiles.index) if not then.empty else np.nan,
                            "p_alive_now": profiles["p_alive"],
                            "spend_since": _spend_since(session, moment).reindex(profiles.index).fillna(0.0)})
    similarity, assigned = _text_similarity(session, profiles, moment)
    found = pd.concat([value_misfits(clients[clients["value_tier"].notna()]),
                       text_misfits(similarity, assigned) if not similarity.empty else None], ignore_index=True)
    counts = {k: int(v) for k, v in found["kind"].value_counts().items()} if not found.empty else {}
    chosen = found
    if len(found) > sample:  # round-robin over the kinds, most severe first
        ranked = found.assign(order=found.groupby("kind")["severity"].rank(ascending=False, method="first"))
        chosen = ranked.sort_values(["order", "severity"], ascending=[True, False]).head(sample)
    report["misfits"] = {"counts": counts, "sample": [
        {"person_id": int(r.client), "customer_id": profiles.loc[r.client, "customer_id"],
         "segment": {d: profiles.loc[r.client, d] for d in DIMENSIONS}, "kind": r.kind, "severity": round(r.severity, 4),
         "reason": r.reason} for r in chosen.itertuples()]}
    return report
