import json

import numpy as np
import pytest

from survey_engine.psychometrics import QualityGates, run_analysis

from .conftest import simulate


def test_report_on_the_generating_model(world):
    raw = simulate(2500, seed=21)
    raw.iloc[:5] = 4.0  # five straight-liners
    constructs = dict(zip(world.items, [world.constructs[j] for j in np.argmax(np.abs(world.loadings), 1)]))
    reverse = [item for item, rev in zip(world.items, world.reverse) if rev]
    result = run_analysis(raw, list(world.items), reverse=reverse, scale_min=1, scale_max=7,
                          constructs=constructs, parallel_iterations=8)
    report = json.loads(json.dumps(result.report))  # JSON-ready
    assert report["n_respondents"] == 2495 and report["exclusions"]["by_reason"]["straight_lining"] == 5
    assert report["correlation_type"] == "polychoric" and report["missing_data"] == "pairwise"
    assert report["parallel_analysis"]["suggested_factors"] == 8 and report["n_factors"] == 8
    assert sorted(report["factors"]) == sorted(world.constructs)
    for item, construct in constructs.items():
        row = report["loadings"][item]
        assert max(row, key=lambda f: abs(row[f])) == construct
        assert row[construct] > 0.4
    assert report["kmo"]["overall"] > 0.8 and report["bartlett"]["p"] < 1e-10
    assert set(report["fit"]) >= {"rmsr", "tli", "rmsea", "bic"}
    for construct in world.constructs:
        rel = report["reliability"][construct]
        assert rel["type"] == "factor" and rel["alpha"] > 0.6 and rel["omega"] >= rel["alpha"] - 0.02
        assert report["reliability"][f"{construct} (construct)"]["items"]
    assert report["smoothing"] is None and report["smoothing_note"] is None
    scores = result.model.transform(raw.iloc[10:12].assign(
        **{item: 8 - raw[item].iloc[10:12] for item in reverse}))
    assert scores.shape == (2, 8)


def test_scales_and_listwise_pearson_options(world):
    raw = simulate(800, seed=3)
    a, b, c, d = world.items[:4]  # the fourth heritage item is reverse keyed
    assert list(world.reverse[:4]) == [False, False, False, True]
    raw = raw.mask(np.random.default_rng(0).random(raw.shape) < 0.03)
    report = run_analysis(raw, list(world.items[:8]), scale_min=1, scale_max=7, n_factors=2,
                          correlation="pearson", missing="listwise", rotation="promax",
                          scales={"heritage": [a, b, c, f"-{d}"]},
                          quality=QualityGates(straight_lining_min_items=0), parallel_iterations=5).report
    assert report["correlation_type"] == "pearson" and report["missing_data"] == "listwise"
    assert report["n_factors"] == 2 and report["rotation"] == "promax"
    heritage = report["reliability"]["heritage"]
    assert heritage["type"] == "scale" and heritage["items"] == [a, b, c, f"-{d}"]
    assert heritage["alpha"] > 0.6


def test_constant_items_are_left_out_with_a_warning(world):
    raw = simulate(600, seed=4)[list(world.items[:8])]
    raw["es1"] = 4.0
    report = run_analysis(raw, list(raw.columns), scale_min=1, scale_max=7, n_factors=2,
                          parallel_iterations=3).report
    assert report["excluded_items"] == ["es1"] and "es1" not in report["loadings"]
    assert any(w["code"] == "zero_variance_items" for w in report["warnings"])


def test_too_few_items_is_an_error(world):
    raw = simulate(100, seed=1)[["ch1", "ch2"]]
    with pytest.raises(ValueError, match="at least 3"):
        run_analysis(raw, ["ch1", "ch2"], scale_min=1, scale_max=7)
