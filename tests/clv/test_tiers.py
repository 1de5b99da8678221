"""Value tiers, flags, the tiers file and the hold-out comparison."""
import numpy as np
import pandas as pd
import pytest
import yaml

from survey_engine.clv.tiers import (
    DEFAULT_TIERS_FILE, TierConfig, assign_value_tiers, holdout_tier_comparison, load_tier_config,
    parse_tier_config,
)

CONFIG = TierConfig(weights={"clv": 1.0}, top_shares={"ultra_luxury": 0.1, "luxury": 0.3, "premium": 0.6},
                    past_spend_thresholds=None, lapse_p_alive_below=0.5)


def _customers():
    # ten customers: predicted value rises with the id, past spend falls with it
    ids = [f"c{i}" for i in range(10)]
    return pd.DataFrame(
        {
            "clv": np.arange(10, dtype=float) * 100,
            "total_spend": np.arange(10, 0, -1, dtype=float) * 50,
            "p_alive": np.linspace(0.05, 0.95, 10),
            "probability_of_purchase": np.full(10, 0.5),
            "revenue_holdout": [0, 0, 0, 0, 10, 20, 30, 40, 50, 500.0],
        },
        index=pd.Index(ids, name="customer_id"),
    )


def test_tier_sizes_follow_the_cumulative_shares_and_flags():
    tiers, used = assign_value_tiers(_customers(), CONFIG)
    assert used == ["clv"]
    assert tiers["tier"].tolist() == ["entry"] * 4 + ["premium"] * 3 + ["luxury"] * 2 + ["ultra_luxury"]
    assert tiers["past_spend_tier"].tolist() == ["ultra_luxury"] + ["luxury"] * 2 + ["premium"] * 3 + ["entry"] * 4
    assert tiers["rising"].tolist() == [False] * 6 + [True] * 4
    assert tiers["lapse_risk"].tolist() == [True] * 5 + [False] * 5
    np.testing.assert_allclose(tiers["tier_score"], np.arange(1, 11) / 10)
    # upgrade propensity: P(purchase) x progress from the tier's lowest score to the next tier's lowest
    assert tiers.loc["c9", "upgrade_propensity"] == 0.0
    assert tiers.loc["c7", "upgrade_propensity"] == pytest.approx(0.0)  # bottom of luxury
    assert tiers.loc["c8", "upgrade_propensity"] == pytest.approx(0.5 * (0.9 - 0.8) / (1.0 - 0.8))
    assert tiers.loc["c5", "upgrade_propensity"] == pytest.approx(0.5 * (0.6 - 0.5) / (0.8 - 0.5))


def test_components_are_weighted_percentile_ranks():
    customers = _customers().assign(category_breadth=np.arange(10, 0, -1, dtype=float))
    config = TierConfig({"clv": 3.0, "category_breadth": 1.0, "tenure": 5.0}, CONFIG.top_shares, None, 0.5)
    tiers, used = assign_value_tiers(customers, config)
    assert used == ["clv", "category_breadth"]  # no tenure column: left out, weights rescaled
    expected = 0.75 * np.arange(1, 11) / 10 + 0.25 * np.arange(10, 0, -1) / 10
    np.testing.assert_allclose(tiers["tier_score"], expected)


def test_absolute_past_spend_thresholds():
    config = TierConfig(CONFIG.weights, CONFIG.top_shares,
                        {"ultra_luxury": 450.0, "luxury": 300.0, "premium": 100.0}, 0.5)
    tiers, _ = assign_value_tiers(_customers(), config)
    assert tiers["past_spend_tier"].tolist() == ["ultra_luxury"] * 2 + ["luxury"] * 3 + ["premium"] * 4 + ["entry"]


def test_holdout_comparison_numbers():
    customers = _customers()
    tiers, _ = assign_value_tiers(customers, CONFIG)
    report = holdout_tier_comparison(customers.join(tiers))
    assert report["total_holdout_revenue"] == 650.0
    top = report["levels"]["ultra_luxury"]
    assert top["n_actual_top"] == 1  # c9
    assert top["predictive"] == {"n_placed": 1, "share_of_actual_top_placed": 1.0,
                                 "share_of_holdout_revenue": pytest.approx(500 / 650)}
    assert top["past_spend"] == {"n_placed": 1, "share_of_actual_top_placed": 0.0, "share_of_holdout_revenue": 0.0}
    two = report["levels"]["ultra_luxury+luxury"]
    assert two["n_actual_top"] == 3 and two["predictive"]["share_of_actual_top_placed"] == 1.0
    assert two["past_spend"]["share_of_holdout_revenue"] == 0.0
    three = report["levels"]["ultra_luxury+luxury+premium"]
    assert three["n_actual_top"] == 6  # the six customers who spent
    assert three["past_spend"]["share_of_actual_top_placed"] == pytest.approx(2 / 6)  # c4, c5
    assert three["past_spend"]["share_of_holdout_revenue"] == pytest.approx(30 / 650)
    assert report["rising"]["n"] == 4
    assert report["rising"]["mean_holdout_revenue"] == pytest.approx((40 + 50 + 500 + 30) / 4)


def test_shipped_tiers_file_is_valid():
    config = load_tier_config()
    assert config.weights["clv"] > 0
    assert list(config.top_shares) == ["ultra_luxury", "luxury", "premium"]
    assert load_tier_config(DEFAULT_TIERS_FILE) == config


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda d: d["weights"].update(loyalty=1), "weights.loyalty: unknown component"),
        (lambda d: d["weights"].update(clv=-1), "weights.clv: must be >= 0"),
        (lambda d: d["weights"].update(clv=0), "weights.clv: must be > 0"),
        (lambda d: d["top_shares"].update(luxury=0.01), "cumulative shares must increase"),
        (lambda d: d["top_shares"].pop("premium"), "top_shares: expected exactly the keys"),
        (lambda d: d["top_shares"].update(premium=1.5), "top_shares.premium: must be <= 1"),
        (lambda d: d.update(past_spend_thresholds={"ultra_luxury": 1, "luxury": 5, "premium": 0}), "must decrease"),
        (lambda d: d["lapse_risk"].update(p_alive_below="high"), "lapse_risk.p_alive_below: must be a number"),
        (lambda d: d.update(colour="gold"), "unknown key"),
    ],
)
def test_invalid_tiers_files_name_the_file_and_key(tmp_path, edit, message):
    data = yaml.safe_load(DEFAULT_TIERS_FILE.read_text())
    edit(data)
    path = tmp_path / "tiers.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=message) as info:
        load_tier_config(path)
    assert str(path) in str(info.value)


def test_unreadable_tiers_file(tmp_path):
    with pytest.raises(ValueError, match="cannot read tiers file"):
        load_tier_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("weights: [")
    with pytest.raises(ValueError, match="invalid YAML"):
        load_tier_config(bad)
    with pytest.raises(ValueError, match="<x>: expected a mapping"):
        parse_tier_config([1], "<x>")
