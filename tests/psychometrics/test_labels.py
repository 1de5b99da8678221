import numpy as np
import pytest

from survey_engine.psychometrics.labels import factor_labels, load_label_overrides


def test_labels_come_from_the_constructs_of_top_loading_items(tmp_path):
    L = np.array([[0.8, 0.1], [0.7, 0.0], [0.1, 0.6], [0.0, 0.5], [0.35, 0.1]])
    items = ["ch1", "ch2", "mi1", "mi3", "es1"]
    constructs = {"ch1": "craftsmanship_heritage", "ch2": "craftsmanship_heritage",
                  "mi1": "minimalism", "mi3": "minimalism", "es1": "exclusivity_status"}
    assert factor_labels(L, items, constructs) == ["craftsmanship_heritage", "minimalism"]
    assert factor_labels(L, items) == ["F1", "F2"]
    path = tmp_path / "labels.yaml"
    path.write_text("minimalism: quiet_luxury\n")
    overrides = load_label_overrides(path)
    assert factor_labels(L, items, constructs, overrides) == ["craftsmanship_heritage", "quiet_luxury"]
    with pytest.raises(ValueError, match="unknown factor"):
        factor_labels(L, items, constructs, {"novelty": "x"})
    path.write_text("- a\n- b\n")
    with pytest.raises(ValueError, match=str(path)):
        load_label_overrides(path)


def test_two_factors_winning_one_construct_are_told_apart():
    L = np.array([[0.8, 0.0], [0.0, 0.6]])
    constructs = {"a": "status", "b": "status"}
    assert factor_labels(L, ["a", "b"], constructs) == ["status", "status_2"]
