import numpy as np
import pandas as pd
import pytest

from survey_engine.psychometrics.quality import QualityGates, apply_quality_gates


def test_each_gate_counts_its_exclusions():
    rng = np.random.default_rng(0)
    raw = pd.DataFrame(rng.integers(1, 8, size=(10, 12)).astype(float))
    raw.iloc[1] = 4.0                      # straight-liner
    raw.iloc[2, :8] = np.nan               # 8 of 12 missing
    attention = pd.DataFrame({"attn1": [6, 6, 6, 2, 6, 6, 6, 6, np.nan, 6]})
    durations = np.array([300, 310, 290, 305, 40, 320, 280, 299, 301, np.nan])
    gates = QualityGates(attention_checks={"attn1": 6}, min_median_fraction=0.33, max_missing_share=0.5)
    result = apply_quality_gates(raw, gates, attention=attention, durations=durations)
    summary = result.summary()
    assert summary["by_reason"] == {
        "failed_attention_check": 2,   # rows 3 (wrong) and 8 (no answer)
        "straight_lining": 1,
        "too_fast": 1,                 # 40 s < 0.33 × median
        "too_many_missing": 1,
    }
    assert summary["n_excluded"] == 5 and summary["n_kept"] == 5
    assert not result.keep[[1, 2, 3, 4, 8]].any()


def test_one_respondent_with_several_reasons_is_excluded_once():
    raw = pd.DataFrame(np.full((3, 10), 5.0))
    raw.iloc[0, :] = [1, 2, 3, 4, 5, 6, 7, 1, 2, 3]
    raw.iloc[2, :] = [1, 2, 3, 4, 5, 6, 7, 1, 2, 3]
    result = apply_quality_gates(raw, QualityGates(min_seconds=60), durations=[100, 10, 100])
    assert result.summary()["by_reason"]["straight_lining"] == 1
    assert result.summary()["by_reason"]["too_fast"] == 1
    assert result.n_excluded == 1


def test_attention_checks_need_their_answers():
    with pytest.raises(ValueError, match="attn1"):
        apply_quality_gates(pd.DataFrame(np.ones((2, 3))), QualityGates(attention_checks={"attn1": 6}))
