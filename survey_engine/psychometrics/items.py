"""The Likert item matrix: validation of answers, reverse keying and per-item statistics."""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd


class ItemDataError(ValueError):
    """Answers that cannot be analysed; the message names the column and the row."""


def item_matrix(
    data: pd.DataFrame,
    items: Sequence[str],
    scale_min: float | None = None,
    scale_max: float | None = None,
    row_label: str = "row",
    first_row_number: int = 1,
) -> pd.DataFrame:
    """Select the item columns and check every answer is a number on the scale.

    Parameters
    ----------
    data : DataFrame
        One row per respondent; empty cells are missing answers.
    items : sequence of str
        Item columns to keep, in order.
    scale_min, scale_max : float, optional
        Allowed answer range; when given, answers outside it are errors.
    row_label, first_row_number : str, int
        How rows are named in errors (a CSV reader passes ``"line"`` and 2 for the header line).

    Raises
    ------
    ItemDataError
        Missing columns, duplicated items, non-numeric or out-of-range answers.
    """
    duplicated = sorted({item for item in items if list(items).count(item) > 1})
    if duplicated:
        raise ItemDataError(f"items listed more than once: {', '.join(duplicated)}")
    missing = [item for item in items if item not in data.columns]
    if missing:
        raise ItemDataError(
            f"item column(s) not found: {', '.join(missing)} "
            f"(available: {', '.join(map(str, data.columns))})"
        )
    out = {}
    for item in items:
        column = data[item]
        numeric = pd.to_numeric(column, errors="coerce")
        bad = numeric.isna() & column.notna() & (column.astype(str).str.strip() != "")
        if bad.any():
            position = int(np.flatnonzero(bad.to_numpy())[0])
            raise ItemDataError(
                f"column {item!r}, {row_label} {position + first_row_number}: "
                f"{column.iloc[position]!r} is not a number"
            )
        values = numeric.to_numpy(dtype=float)
        for bound, test, word in ((scale_min, np.less, "below"), (scale_max, np.greater, "above")):
            if bound is None:
                continue
            with np.errstate(invalid="ignore"):
                outside = test(values, bound)
            if outside.any():
                position = int(np.flatnonzero(outside)[0])
                raise ItemDataError(
                    f"column {item!r}, {row_label} {position + first_row_number}: "
                    f"{values[position]:g} is {word} the scale {scale_min:g}–{scale_max:g}"
                    if scale_min is not None and scale_max is not None else
                    f"column {item!r}, {row_label} {position + first_row_number}: "
                    f"{values[position]:g} is {word} the allowed {bound:g}"
                )
        out[item] = values
    return pd.DataFrame(out, index=data.index)


def reverse_key(
    frame: pd.DataFrame, reverse: Iterable[str], scale_min: float, scale_max: float
) -> pd.DataFrame:
    """Reverse-key items: x' = scale_min + scale_max − x (missing stays missing)."""
    reverse = list(reverse)
    unknown = [item for item in reverse if item not in frame.columns]
    if unknown:
        raise ItemDataError(f"reverse-keyed item(s) not among the items: {', '.join(unknown)}")
    out = frame.copy()
    for item in reverse:
        out[item] = scale_min + scale_max - out[item]
    return out


def item_statistics(frame: pd.DataFrame, scale_min: float | None = None,
                    scale_max: float | None = None) -> dict[str, dict]:
    """Per item: answered n, mean, sd, missing rate and floor/ceiling shares.

    Floor (ceiling) share is the proportion of answers at the scale minimum (maximum) among the
    answered; with no scale given the observed minimum/maximum over all items is used.
    """
    values = frame.to_numpy(dtype=float)
    low = np.nanmin(values) if scale_min is None else scale_min
    high = np.nanmax(values) if scale_max is None else scale_max
    stats = {}
    for i, item in enumerate(frame.columns):
        col = values[:, i]
        answered = col[~np.isnan(col)]
        n = len(answered)
        stats[str(item)] = {
            "n": int(n),
            "mean": float(answered.mean()) if n else None,
            "sd": float(answered.std(ddof=1)) if n > 1 else None,
            "missing_rate": float(1 - n / len(col)) if len(col) else None,
            "floor": float(np.mean(answered == low)) if n else None,
            "ceiling": float(np.mean(answered == high)) if n else None,
        }
    return stats


def answers_to_frame(responses: Iterable[Mapping[str, object]], items: Sequence[str]) -> pd.DataFrame:
    """Item matrix from answer mappings ``{item: value}`` (missing or non-numeric answers → NaN)."""
    rows = []
    for answers in responses:
        row = []
        for item in items:
            value = answers.get(item)
            row.append(float(value) if isinstance(value, (int, float)) and not isinstance(value, bool)
                       else np.nan)
        rows.append(row)
    return pd.DataFrame(np.array(rows, dtype=float).reshape(len(rows), len(items)), columns=list(items))
