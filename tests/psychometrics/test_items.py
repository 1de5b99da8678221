import numpy as np
import pandas as pd
import pytest

from survey_engine.psychometrics.items import (
    ItemDataError,
    answers_to_frame,
    item_matrix,
    item_statistics,
    reverse_key,
)


def test_reverse_keying_mirrors_the_scale_and_keeps_missing():
    frame = pd.DataFrame({"a": [1.0, 4.0, np.nan, 7.0], "b": [2.0, 2.0, 3.0, 5.0]})
    out = reverse_key(frame, ["a"], 1, 7)
    assert out["a"].tolist()[:2] == [7.0, 4.0] and np.isnan(out["a"][2]) and out["a"][3] == 1.0
    assert out["b"].equals(frame["b"])
    with pytest.raises(ItemDataError, match="zz"):
        reverse_key(frame, ["zz"], 1, 7)


def test_item_statistics():
    frame = pd.DataFrame({"a": [1.0, 7.0, 7.0, np.nan], "b": [2.0, 3.0, 4.0, 5.0]})
    stats = item_statistics(frame, 1, 7)
    assert stats["a"]["n"] == 3 and stats["a"]["missing_rate"] == pytest.approx(0.25)
    assert stats["a"]["mean"] == pytest.approx(5.0)
    assert stats["a"]["sd"] == pytest.approx(np.std([1, 7, 7], ddof=1))
    assert stats["a"]["floor"] == pytest.approx(1 / 3) and stats["a"]["ceiling"] == pytest.approx(2 / 3)
    assert stats["b"]["floor"] == 0.0 and stats["b"]["ceiling"] == 0.0


def test_bad_answers_are_named_by_column_and_line():
    data = pd.DataFrame({"q1": ["1", "2", "x"], "q2": ["3", "9", "1"]}, dtype=str)
    with pytest.raises(ItemDataError, match=r"column 'q1', line 4: 'x' is not a number"):
        item_matrix(data, ["q1"], row_label="line", first_row_number=2)
    with pytest.raises(ItemDataError, match=r"column 'q2', line 3: 9 is above the scale 1–7"):
        item_matrix(data, ["q2"], 1, 7, row_label="line", first_row_number=2)
    with pytest.raises(ItemDataError, match="not found: q3"):
        item_matrix(data, ["q1", "q3"])
    with pytest.raises(ItemDataError, match="more than once: q1"):
        item_matrix(data, ["q1", "q1"])


def test_answers_to_frame_keeps_only_numeric_answers():
    frame = answers_to_frame([{"a": 3, "b": "text"}, {"a": 5, "b": 2, "c": [1]}], ["a", "b"])
    assert frame["a"].tolist() == [3.0, 5.0]
    assert np.isnan(frame["b"][0]) and frame["b"][1] == 2.0
