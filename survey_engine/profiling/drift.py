"""Drift of clients between segments: migration matrices, per-segment stability, and clients whose
recent behaviour no longer fits their segment (pure pandas; the data come from
``survey_engine.services.audit``)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

#: Label of clients who had no segment at the start of the period (new, or not yet assigned).
NEW = "(new)"
#: Label of clients without a segment now.
NONE = "(none)"


def _labels(values: pd.Series, missing: str) -> pd.Series:
    return values.astype(object).where(values.notna(), missing)


def _ordered(values: pd.Series, order: Sequence[str] | None, last: str) -> list:
    present = set(values)
    head = [s for s in (order or []) if s in present]
    rest = sorted(present - set(head) - {last}, key=str)
    return head + rest + ([last] if last in present else [])


def migration_matrix(before: pd.Series, after: pd.Series, order: Sequence[str] | None = None) -> pd.DataFrame:
    """Counts of clients by segment at the start (rows) and now (columns).

    Parameters
    ----------
    before, after : Series indexed by client
        Segment at the start of the period (NaN: none yet, shown as ``(new)``) and now (NaN: none,
        shown as ``(none)``). Only clients present in ``after`` are counted.
    order : sequence of str, optional
        Segment order; segments not listed follow alphabetically.
    """
    after = _labels(after, NONE)
    before = _labels(before.reindex(after.index), NEW)
    rows, columns = _ordered(before, order, NEW), _ordered(after, order, NONE)
    table = pd.crosstab(before, after).reindex(index=rows, columns=columns, fill_value=0)
    table.index.name, table.columns.name = "from", "to"
    return table.astype(int)


def segment_stability(before: pd.Series, after: pd.Series, order: Sequence[str] | None = None) -> pd.DataFrame:
    """Per segment at the start: how many clients it had, how many are still in it, the share that
    stayed, and how many joined it since (from other segments or new).

    Returns
    -------
    DataFrame indexed by segment with ``n_start``, ``stayed``, ``stability`` (stayed / n_start),
    ``left``, ``joined`` and ``n_now``.
    """
    after = _labels(after, NONE)
    before = _labels(before.reindex(after.index), NEW)
    present = (set(before) | set(after)) - {NEW, NONE}
    segments = [s for s in (order or []) if s in present] + sorted(present - set(order or []), key=str)
    rows = []
    for segment in segments:
        start = before == segment
        now = after == segment
        stayed = int((start & now).sum())
        n_start = int(start.sum())
        rows.append({"segment": segment, "n_start": n_start, "stayed": stayed,
                     "stability": stayed / n_start if n_start else np.nan, "left": n_start - stayed,
                     "joined": int((now & ~start).sum()), "n_now": int(now.sum())})
    return pd.DataFrame(rows, columns=["segment", "n_start", "stayed", "stability", "left", "joined", "n_now"]
                        ).set_index("segment")


def value_misfits(clients: pd.DataFrame, *, p_alive_drop: float = 0.25, low_ratio: float = 0.25,
                  high_ratio: float = 4.0, min_peers: int = 5) -> pd.DataFrame:
    """Clients whose purchasing no longer fits their value segment.

    Two signals: P(alive) fell by at least ``p_alive_drop`` since the start of the period (the
    model now doubts they are still a client), and spending in the period far from the median of
    their tier's members (below ``low_ratio`` times the median in the three upper tiers, or above
    ``high_ratio`` times it in a tier below the top). Tiers with fewer than ``min_peers`` members or
    a zero median are not compared.

    Parameters
    ----------
    clients : DataFrame indexed by client
        ``value_tier``, ``p_alive_then``, ``p_alive_now`` and ``spend_since``.

    Returns
    -------
    DataFrame with ``client``, ``kind`` (``p_alive_fell``, ``spend_below_tier``,
    ``spend_above_tier``), ``severity`` (larger = further from the segment) and ``reason``.
    """
    found = []
    drop = clients["p_alive_then"] - clients["p_alive_now"]
    for client in clients.index[(drop >= p_alive_drop).fillna(False).to_numpy()]:
        row = clients.loc[client]
        found.append({"client": client, "kind": "p_alive_fell", "severity": float(drop.loc[client]),
                      "reason": f"P(alive) fell from {row['p_alive_then']:.2f} to {row['p_alive_now']:.2f}"})
    for tier, members in clients.groupby("value_tier"):
        spend = members["spend_since"].fillna(0.0)
        median = float(spend.median())
        if len(members) < min_peers or median <= 0:
            continue
        ratio = spend / median
        if tier in ("ultra_luxury", "luxury", "premium"):
            for client in members.index[(ratio < low_ratio).to_numpy()]:
                found.append({"client": client, "kind": "spend_below_tier", "severity": float(1 - ratio.loc[client]),
                              "reason": f"spent {spend.loc[client]:,.0f} in the period; the median of the "
                                        f"{tier} tier is {median:,.0f}"})
        if tier != "ultra_luxury":
            for client in members.index[(ratio > high_ratio).to_numpy()]:
                found.append({"client": client, "kind": "spend_above_tier",
                              "severity": float(np.log(ratio.loc[client] / high_ratio) + 1),
                              "reason": f"spent {spend.loc[client]:,.0f} in the period, {ratio.loc[client]:.1f} "
                                        f"times the median of the {tier} tier"})
    return pd.DataFrame(found, columns=["client", "kind", "severity", "reason"])


def text_misfits(similarity: pd.DataFrame, assigned: pd.Series, *, margin: float = 0.05) -> pd.DataFrame:
    """Clients whose recent free text reads closer to another archetype than to their own.

    Parameters
    ----------
    similarity : DataFrame (clients x archetypes)
        Similarity of each client's recent answers to each archetype's descriptions and phrases
        (e.g. mean of the top cosine similarities).
    assigned : Series indexed by client
        Their current archetype.
    margin : float
        How much closer the other archetype must be.
    """
    found = []
    common = similarity.index.intersection(assigned.dropna().index)
    for client in common:
        row = similarity.loc[client]
        own = assigned.loc[client]
        if own not in row.index or row.isna().all():
            continue
        best = row.idxmax()
        gap = float(row[best] - row[own])
        if best != own and gap >= margin:
            found.append({"client": client, "kind": "text_closer_to_other", "severity": gap,
                          "reason": f"recent answers read closer to {best} ({row[best]:.2f}) than to {own} "
                                    f"({row[own]:.2f})"})
    return pd.DataFrame(found, columns=["client", "kind", "severity", "reason"])
