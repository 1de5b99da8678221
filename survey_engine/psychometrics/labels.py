"""Factor labels: named after the constructs of their top-loading items, overridable from a file."""
from __future__ import annotations

from pathlib import Path
from typing import Mapping

import numpy as np

from survey_engine.psychometrics.diagnostics import SALIENT_LOADING


def factor_labels(
    loadings: np.ndarray,
    items: list[str],
    constructs: Mapping[str, str] | None = None,
    overrides: Mapping[str, str] | None = None,
) -> list[str]:
    """One label per factor column.

    Each item votes for the factor of its largest absolute loading (if ≥ 0.3), with weight |λ|,
    on behalf of its construct; a factor is named after the construct with the largest total
    vote. Factors without construct information are named ``F1``, ``F2``… by column. If two
    factors win the same construct, the weaker one gets a ``_2`` suffix. ``overrides`` maps a
    default label (or ``F<k>``) to the researcher's label.
    """
    k = loadings.shape[1]
    defaults = [f"F{j + 1}" for j in range(k)]
    votes: list[dict[str, float]] = [dict() for _ in range(k)]
    if constructs:
        for i, item in enumerate(items):
            j = int(np.argmax(np.abs(loadings[i])))
            construct = constructs.get(item)
            if construct and abs(loadings[i, j]) >= SALIENT_LOADING:
                votes[j][construct] = votes[j].get(construct, 0.0) + abs(loadings[i, j])
    winners = []
    for j in range(k):
        if votes[j]:
            construct, weight = max(votes[j].items(), key=lambda kv: (kv[1], kv[0]))
            winners.append((construct, weight))
        else:
            winners.append((defaults[j], 0.0))
    labels = list(defaults)
    by_weight = sorted(range(k), key=lambda j: -winners[j][1])
    used: dict[str, int] = {}
    for j in by_weight:
        name = winners[j][0]
        used[name] = used.get(name, 0) + 1
        labels[j] = name if used[name] == 1 else f"{name}_{used[name]}"
    if overrides:
        unknown = [key for key in overrides if key not in labels and key not in defaults]
        if unknown:
            raise ValueError(
                f"label override(s) for unknown factor(s): {', '.join(unknown)} "
                f"(factors: {', '.join(labels)})"
            )
        labels = [overrides.get(label, overrides.get(defaults[j], label)) for j, label in enumerate(labels)]
        if len(set(labels)) != len(labels):
            raise ValueError(f"label overrides make factor labels collide: {', '.join(labels)}")
    return labels


def load_label_overrides(path: str | Path) -> dict[str, str]:
    """Read a YAML mapping ``default label → researcher label`` (e.g. next to the questionnaire)."""
    import yaml

    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, str) and v.strip() for k, v in data.items()
    ):
        raise ValueError(f"{path}: expected a mapping of factor label → new label (both text)")
    return {k: v.strip() for k, v in data.items()}
