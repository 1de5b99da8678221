"""Migration matrices, segment stability and misfit detection on hand-made segment histories."""
import numpy as np
import pandas as pd

from survey_engine.profiling.drift import migration_matrix, segment_stability, text_misfits, value_misfits

BEFORE = pd.Series({1: "luxury", 2: "luxury", 3: "luxury", 4: "premium", 5: "premium", 6: None, 7: "entry"})
AFTER = pd.Series({1: "luxury", 2: "premium", 3: "luxury", 4: "premium", 5: "luxury", 6: "entry", 7: None, 8: "entry"})


def test_migration_matrix_counts_every_client_once():
    matrix = migration_matrix(BEFORE, AFTER, order=["ultra_luxury", "luxury", "premium", "entry"])
    assert list(matrix.index) == ["luxury", "premium", "entry", "(new)"]
    assert list(matrix.columns) == ["luxury", "premium", "entry", "(none)"]
    assert matrix.loc["luxury"].tolist() == [2, 1, 0, 0]
    assert matrix.loc["premium"].tolist() == [1, 1, 0, 0]
    assert matrix.loc["entry"].tolist() == [0, 0, 0, 1]
    assert matrix.loc["(new)"].tolist() == [0, 0, 2, 0]  # client 6 (no segment yet) and client 8 (not seen before)
    assert int(matrix.to_numpy().sum()) == len(AFTER)


def test_stability_per_segment():
    table = segment_stability(BEFORE, AFTER, order=["luxury", "premium", "entry"])
    assert list(table.index) == ["luxury", "premium", "entry"]
    assert table.loc["luxury"].tolist() == [3, 2, 2 / 3, 1, 1, 3]
    assert table.loc["premium"].tolist() == [2, 1, 0.5, 1, 1, 2]
    assert table.loc["entry"].tolist() == [1, 0, 0.0, 1, 2, 2]


def test_value_misfits():
    clients = pd.DataFrame({
        "value_tier": ["luxury"] * 6 + ["entry"] * 6,
        "p_alive_then": [0.9, 0.9, 0.9, 0.9, 0.9, 0.9, np.nan, 0.5, 0.5, 0.5, 0.5, 0.5],
        "p_alive_now": [0.5, 0.89, 0.9, 0.9, 0.9, 0.9, 0.4, 0.5, 0.5, 0.5, 0.5, 0.5],
        "spend_since": [1000, 1000, 1000, 1000, 100, 1200, 100, 100, 100, 100, 100, 500],
    }, index=range(1, 13))
    found = value_misfits(clients)
    kinds = {(row.client, row.kind) for row in found.itertuples()}
    assert kinds == {(1, "p_alive_fell"), (5, "spend_below_tier"), (12, "spend_above_tier")}
    reason = found.set_index("client").loc[1, "reason"]
    assert reason == "P(alive) fell from 0.90 to 0.50"
    assert found.set_index("client").loc[5, "reason"] == "spent 100 in the period; the median of the luxury tier is 1,000"
    assert found.set_index("client").loc[12, "severity"] > 1


def test_text_misfits_need_a_margin():
    similarity = pd.DataFrame({"a": [0.6, 0.50, 0.2], "b": [0.4, 0.53, 0.5]}, index=[1, 2, 3])
    assigned = pd.Series({1: "a", 2: "a", 3: "a"})
    found = text_misfits(similarity, assigned, margin=0.05)
    assert found["client"].tolist() == [3]
    assert found["reason"].iloc[0] == "recent answers read closer to b (0.50) than to a (0.20)"
