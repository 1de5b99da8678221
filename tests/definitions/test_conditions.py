"""Branching conditions: evaluation table for every operator, combinators, and parsing errors."""
from __future__ import annotations

import pydantic
import pytest

from survey_engine.definitions import AllOf, AnyOf, Comparison, Not, parse_condition

ANSWERS = {"nps": 6, "category": "jewellery", "channels": ["boutique", "app"], "style": "quiet luxury",
           "blank": "   ", "none_chosen": [], "flag": True}


@pytest.mark.parametrize("condition, expected", [
    ({"item": "nps", "op": "eq", "value": 6}, True),
    ({"item": "nps", "op": "eq", "value": 7}, False),
    ({"item": "nps", "op": "ne", "value": 7}, True),
    ({"item": "nps", "op": "lt", "value": 6}, False),
    ({"item": "nps", "op": "le", "value": 6}, True),
    ({"item": "nps", "op": "gt", "value": 5}, True),
    ({"item": "nps", "op": "ge", "value": 7}, False),
    ({"item": "nps", "op": "in", "value": [0, 6, 9]}, True),
    ({"item": "nps", "op": "not_in", "value": [0, 6, 9]}, False),
    ({"item": "category", "op": "eq", "value": "jewellery"}, True),
    ({"item": "category", "op": "in", "value": ["watches", "shoes"]}, False),
    ({"item": "category", "op": "not_in", "value": ["watches", "shoes"]}, True),
    ({"item": "channels", "op": "contains", "value": "app"}, True),
    ({"item": "channels", "op": "contains", "value": "events"}, False),
    ({"item": "category", "op": "contains", "value": "jewel"}, False),  # text is not a selection
    ({"item": "nps", "op": "eq", "value": "6"}, False),                 # no coercion between kinds
    ({"item": "category", "op": "lt", "value": 3}, False),
    ({"item": "flag", "op": "eq", "value": 1}, False),                  # True == 1 in Python, not here
    ({"item": "style", "op": "answered"}, True),
    ({"item": "blank", "op": "answered"}, False),
    ({"item": "none_chosen", "op": "answered"}, False),
    ({"item": "absent", "op": "not_answered"}, True),
    ({"item": "nps", "op": "not_answered"}, False),
])
def test_comparison_operators(condition, expected):
    assert parse_condition(condition).evaluate(ANSWERS) is expected


@pytest.mark.parametrize("op, value", [("eq", 1), ("ne", 1), ("lt", 1), ("le", 1), ("gt", 1), ("ge", 1),
                                       ("in", [1]), ("not_in", [1]), ("contains", "a")])
def test_comparisons_with_an_unanswered_item_are_false(op, value):
    condition = parse_condition({"item": "absent", "op": op, "value": value})
    assert condition.evaluate(ANSWERS) is False
    assert condition.evaluate({"absent": None}) is False
    assert condition.evaluate({"absent": ""}) is False


def test_combinators_nest():
    condition = parse_condition({"all": [
        {"item": "nps", "op": "le", "value": 6},
        {"any": [{"item": "category", "op": "eq", "value": "watches"},
                 {"item": "channels", "op": "contains", "value": "boutique"}]},
        {"not": {"item": "style", "op": "not_answered"}},
    ]})
    assert isinstance(condition, AllOf)
    assert isinstance(condition.all_[1], AnyOf) and isinstance(condition.all_[2], Not)
    assert condition.evaluate(ANSWERS) is True
    assert condition.evaluate({**ANSWERS, "channels": ["website"]}) is False
    assert condition.evaluate({**ANSWERS, "nps": 9}) is False
    assert condition.evaluate({**ANSWERS, "style": ""}) is False
    paths = [(path, comparison.item) for path, comparison in condition.comparisons()]
    assert paths == [(("all", 0), "nps"), (("all", 1, "any", 0), "category"),
                     (("all", 1, "any", 1), "channels"), (("all", 2, "not"), "style")]


def test_conditions_serialise_with_their_yaml_keys():
    data = {"not": {"any": [{"item": "nps", "op": "in", "value": [9, 10]}, {"item": "x", "op": "answered"}]}}
    condition = parse_condition(data)
    assert condition.model_dump(mode="json", exclude_none=True) == data
    assert parse_condition(condition.model_dump()) == condition
    assert Comparison(item="nps", op="le", value=6).evaluate({"nps": 3})


@pytest.mark.parametrize("data, message", [
    ({"item": "nps", "op": "eq"}, "operator 'eq' needs a value"),
    ({"item": "nps", "op": "eq", "value": [1, 2]}, "single value, not a list"),
    ({"item": "nps", "op": "in", "value": []}, "needs a non-empty list"),
    ({"item": "nps", "op": "answered", "value": 1}, "takes no value"),
    ({"item": "nps", "op": "le", "value": True}, "whole number, a text or a list"),
    ({"item": "nps", "op": "le", "value": 6.5}, "whole number, a text or a list"),
    ({"item": "nps", "op": "matches", "value": "x"}, "Input should be"),
    ({"all": []}, "at least 1 item"),
    ({"all": [{"item": "a", "op": "answered"}], "item": "b"}, "Extra inputs"),
    ("nps <= 6", "a condition must be a mapping"),
    ({"item": "__import__('os').system('true')", "op": "eq"}, "needs a value"),
])
def test_invalid_conditions_are_rejected(data, message):
    with pytest.raises(pydantic.ValidationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_condition(data)


def test_item_names_are_data_never_code():
    condition = parse_condition({"item": "__import__('os')", "op": "answered"})
    assert condition.evaluate({"__import__('os')": "x"}) is True
    assert condition.evaluate({}) is False
