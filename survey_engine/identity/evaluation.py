"""Pairwise precision and recall of a resolution against known true identities (evaluation only)."""
from __future__ import annotations

import pandas as pd


def _pairs(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_scores(predicted: pd.Series, truth: pd.Series) -> dict[str, float]:
    """Precision, recall and F1 over record pairs (Christen 2012, *Data Matching*, §7.3).

    A pair of records is *predicted* when both records are in one person and *true* when they
    belong to one real customer. Precision = true predicted pairs / predicted pairs, recall = true
    predicted pairs / true pairs. Counted from cluster sizes, without listing pairs.

    Parameters
    ----------
    predicted : Series
        Person of each source record, indexed by source record id.
    truth : Series
        True customer of each source record, indexed by source record id (same ids).

    Returns
    -------
    dict
        ``precision``, ``recall``, ``f1``, ``true_positive_pairs``, ``predicted_pairs``,
        ``true_pairs`` (precision and recall are 1.0 when their denominator is 0).
    """
    missing = predicted.index.difference(truth.index)
    if len(missing) or len(truth.index.difference(predicted.index)):
        example = list(missing[:3]) or list(truth.index.difference(predicted.index)[:3])
        raise ValueError(f"predicted and truth must cover the same records; e.g. {example} differ")
    joined = pd.DataFrame({"p": predicted, "t": truth.reindex(predicted.index)})
    both = _pairs(joined.groupby(["p", "t"]).size())
    predicted_pairs = _pairs(joined.groupby("p").size())
    true_pairs = _pairs(joined.groupby("t").size())
    precision = both / predicted_pairs if predicted_pairs else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_positive_pairs": both,
            "predicted_pairs": predicted_pairs, "true_pairs": true_pairs}
