import numpy as np
import pandas as pd

from survey_engine.psychometrics.diagnostics import data_warnings, model_warnings


def test_data_warnings_name_the_items():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.integers(1, 8, size=(50, 4)).astype(float), columns=["a", "b", "c", "d"])
    frame["flat"] = 4.0
    frame["copy_of_a"] = frame["a"]
    codes = {w["code"]: w for w in data_warnings(frame)}
    assert "50 respondents for 6 items" in codes["too_few_respondents"]["message"]
    assert codes["zero_variance_items"]["items"] == ["flat"]
    assert codes["duplicate_items"]["items"] == ["a", "copy_of_a"]


def test_model_warnings_heywood_nothing_and_cross_loadings():
    L = np.array([[0.9, 0.0], [0.1, 0.2], [0.5, 0.45], [0.0, 0.7]])
    h2 = np.array([1.02, 0.05, 0.5, 0.49])
    codes = {w["code"]: w for w in model_warnings(L, h2, ["w", "x", "y", "z"], ["F1", "F2"])}
    assert codes["heywood_cases"]["items"] == ["w"]
    assert codes["items_loading_on_nothing"]["items"] == ["x"]
    assert codes["cross_loadings"]["items"] == ["y"]
    assert "F1 +0.50, F2 +0.45" in codes["cross_loadings"]["message"]
