"""Answer validation shared by the HTML form and the JSON API: every rule, both modes, plus properties."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from survey_engine.definitions import (
    AttentionCheckItem,
    FreeTextItem,
    LikertItem,
    MultipleChoiceItem,
    NpsItem,
    SingleChoiceItem,
    load_questionnaire,
    parse_questionnaire,
    validate_answers,
)
from survey_engine.definitions.answers import MESSAGES

SHIPPED = Path(__file__).resolve().parents[2] / "questionnaires" / "post_purchase_luxury.yaml"
SPEC = load_questionnaire(SHIPPED)
REQUIRED = {item.name for item in SPEC.items if item.required}


def complete_answers(**changes):
    answers = {item.name: 4 for item in SPEC.likert_items}
    answers.update(attn1=6, nps=9, category="jewellery", channels=["boutique", "app"],
                   style_words="Quiet, tailored, timeless.", special_purchase="Being known by name.")
    answers.update(changes)
    return {name: value for name, value in answers.items() if value is not None}


def form_of(answers):
    """The same answers as a browser posts them: every value a string, a multiple choice repeated."""
    return {name: [str(v) for v in value] if isinstance(value, list) else str(value)
            for name, value in answers.items()}


def test_complete_json_answers_pass_unchanged():
    answers = complete_answers()
    result = validate_answers(SPEC, answers)
    assert result.ok and result.errors == {}
    assert result.answers == answers


def test_form_strings_are_coerced_to_the_same_answers():
    result = validate_answers(SPEC, form_of(complete_answers(category=" jewellery ")), from_form=True)
    assert result.errors == {}
    assert result.answers == complete_answers()
    assert isinstance(result.answers["ch1"], int)


def test_werkzeug_multidict_keeps_every_checkbox():
    form = MultiDict(list(form_of(complete_answers(channels=None)).items()))
    form.add("channels", "boutique")
    form.add("channels", "events")
    result = validate_answers(SPEC, form, from_form=True)
    assert result.errors == {}
    assert result.answers["channels"] == ["boutique", "events"]


@pytest.mark.parametrize("nps, shown", [(0, True), (6, True), (7, False), (10, False)])
def test_improve_is_kept_only_when_nps_is_six_or_less(nps, shown):
    result = validate_answers(SPEC, complete_answers(nps=nps, improve="Faster delivery, please."))
    assert result.errors == {}
    assert ("improve" in result.answers) is shown


def test_hidden_items_answers_are_dropped_even_when_invalid():
    result = validate_answers(SPEC, complete_answers(nps=9, improve=12345))
    assert result.errors == {} and "improve" not in result.answers
    result = validate_answers(SPEC, complete_answers(nps=3, improve=12345))
    assert result.errors == {"improve": "Please answer with text."}


def test_visibility_uses_only_valid_earlier_answers():
    # an invalid nps is not an answer, so improve stays hidden and only nps is reported
    result = validate_answers(SPEC, complete_answers(nps=11, improve="x"))
    assert set(result.errors) == {"nps"} and "improve" not in result.answers


@pytest.mark.parametrize("name, value, message", [
    ("ch1", "5", "Please choose a whole number from 1 to 7."),
    ("ch1", True, "Please choose a whole number from 1 to 7."),
    ("ch1", 5.0, "Please choose a whole number from 1 to 7."),
    ("ch1", 0, "Please choose a whole number from 1 to 7."),
    ("ch1", 8, "Please choose a whole number from 1 to 7."),
    ("attn1", 9, "Please choose a whole number from 1 to 7."),
    ("nps", -1, "Please choose a whole number from 0 to 10."),
    ("nps", [9], "Please choose a whole number from 0 to 10."),
    ("category", "handbags", "'handbags' is not one of the options offered."),
    ("category", 3, "Please choose one of the options offered."),
    ("category", ["jewellery"], "Please choose one of the options offered."),
    ("channels", "boutique", "Please choose from the options offered."),
    ("channels", ["boutique", 3], "Please choose from the options offered."),
    ("channels", ["boutique", "shop"], "'shop' is not one of the options offered."),
    ("channels", ["app", "app"], "Each option can be chosen only once."),
    ("style_words", 42, "Please answer with text."),
    ("style_words", "x" * 501, "Please shorten your answer to 500 characters or fewer (it has 501)."),
    ("style_words", "minimal\x00", "Your answer contains invisible control characters; please remove them."),
    ("special_purchase", "bell\x07", "Your answer contains invisible control characters; please remove them."),
    ("special_purchase", "\ud800", "Your answer contains invisible control characters; please remove them."),
])
def test_json_mode_rejects_wrong_types_and_values(name, value, message):
    result = validate_answers(SPEC, complete_answers(**{name: value}))
    assert result.errors == {name: message}
    assert name not in result.answers


@pytest.mark.parametrize("name, value, expected", [
    ("ch1", " 5 ", 5),
    ("ch1", ["3"], 3),
    ("nps", "0", 0),
    ("channels", "events", ["events"]),
    ("channels", ["app", "app", ""], ["app"]),
    ("style_words", ["  calm  "], "calm"),
    ("special_purchase", "line one\r\nline two\twith tab", "line one\nline two\twith tab"),
])
def test_form_mode_coercions(name, value, expected):
    result = validate_answers(SPEC, {**form_of(complete_answers()), name: value}, from_form=True)
    assert result.errors == {}
    assert result.answers[name] == expected


@pytest.mark.parametrize("name, value", [("ch1", "five"), ("ch1", "5.0"), ("ch1", ["5", "6"]), ("nps", "1e1"),
                                         ("category", ["a", "b"])])
def test_form_mode_still_rejects_what_is_not_an_answer(name, value):
    result = validate_answers(SPEC, {**form_of(complete_answers()), name: value}, from_form=True)
    assert set(result.errors) == {name}


def test_text_length_counts_characters_after_trimming():
    padded = "  " + "é" * 500 + "\n\n"
    result = validate_answers(SPEC, complete_answers(style_words=padded))
    assert result.errors == {} and result.answers["style_words"] == "é" * 500


@pytest.mark.parametrize("blank", [None, "", "   ", []])
def test_required_items_must_be_answered_unless_partial(blank):
    answers = complete_answers()
    answers["category"] = blank
    answers["ch1"] = blank
    del answers["nps"]
    result = validate_answers(SPEC, answers)
    assert result.errors == {name: "Please answer this question." for name in ("category", "ch1", "nps")}
    partial = validate_answers(SPEC, answers, partial=True)
    assert partial.errors == {} and "category" not in partial.answers


def test_empty_submission_lists_every_required_item():
    result = validate_answers(SPEC, {})
    assert set(result.errors) == REQUIRED
    assert "style_words" not in result.errors and "improve" not in result.errors  # free text is optional
    assert validate_answers(SPEC, {}, partial=True).errors == {}


def test_partial_mode_still_checks_given_answers():
    result = validate_answers(SPEC, {"ch1": 9, "es1": 3}, partial=True)
    assert result.errors == {"ch1": "Please choose a whole number from 1 to 7."}
    assert result.answers == {"es1": 3}


def test_unknown_items_are_reported_by_name():
    result = validate_answers(SPEC, complete_answers(ch9=3, csrf_token="abc"))
    assert result.errors == {"ch9": "This questionnaire has no question named 'ch9'.",
                             "csrf_token": "This questionnaire has no question named 'csrf_token'."}


@pytest.mark.parametrize("raw", [None, [1, 2], "ch1=5", 5])
def test_answers_that_are_not_a_mapping(raw):
    result = validate_answers(SPEC, raw)
    assert result.answers == {} and list(result.errors) == ["_answers"]


@pytest.mark.parametrize("lang, expected", [
    ("en", "Please answer this question."),
    ("it", "Per favore, risponda a questa domanda."),
    ("fr-CA", "Merci de répondre à cette question."),
    ("de", "Please answer this question."),
])
def test_messages_follow_the_language(lang, expected):
    assert validate_answers(SPEC, {}, lang=lang).errors["nps"] == expected


def test_every_language_has_every_message():
    assert all(set(messages) == set(MESSAGES["en"]) for messages in MESSAGES.values())


SELECTION_SPEC = parse_questionnaire({
    "id": "selection", "version": 1, "languages": ["en"], "title": {"en": "T"}, "consent": {"en": "C"},
    "thank_you": {"en": "Thanks"},
    "pages": [{"id": "p", "title": {"en": "P"}, "items": [
        {"type": "multiple_choice", "name": "pick", "text": {"en": "Pick two or three"}, "min_selected": 2,
         "max_selected": 3, "options": [{"value": v, "label": {"en": v}} for v in "abcd"]},
        {"type": "free_text", "name": "why", "required": True, "max_length": 5, "text": {"en": "Why?"},
         "show_if": {"item": "pick", "op": "contains", "value": "d"}},
    ]}]})


@pytest.mark.parametrize("pick, error", [
    (["a"], "Please choose at least 2 of the options."),
    (["a", "b"], None),
    (["a", "b", "c"], None),
    (["a", "b", "c", "d"], "Please choose no more than 3 of the options."),
])
def test_min_and_max_selected(pick, error):
    result = validate_answers(SELECTION_SPEC, {"pick": pick})
    assert result.errors == ({"pick": error} if error else {})


def test_required_free_text_shown_by_a_condition():
    assert validate_answers(SELECTION_SPEC, {"pick": ["a", "b"]}).errors == {}
    assert validate_answers(SELECTION_SPEC, {"pick": ["a", "d"]}).errors == {"why": "Please answer this question."}
    assert validate_answers(SELECTION_SPEC, {"pick": ["a", "d"], "why": "fit"}).answers == {"pick": ["a", "d"],
                                                                                          "why": "fit"}


# ----- properties ------------------------------------------------------------------------------
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10**12, 10**12) | st.floats(allow_nan=True) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
item_names = st.sampled_from([item.name for item in SPEC.items]) | st.text(max_size=12)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=st.dictionaries(item_names, json_values, max_size=12), from_form=st.booleans(), partial=st.booleans())
def test_validate_answers_never_raises_and_returns_only_clean_answers(raw, from_form, partial):
    result = validate_answers(SPEC, raw, from_form=from_form, partial=partial)
    for name, value in result.answers.items():
        item = SPEC.item(name)
        assert name not in result.errors
        if isinstance(item, (LikertItem, AttentionCheckItem, NpsItem)):
            assert type(value) is int and item.scale_range[0] <= value <= item.scale_range[1]
        elif isinstance(item, SingleChoiceItem):
            assert value in item.option_values
        elif isinstance(item, MultipleChoiceItem):
            assert value and set(value) <= set(item.option_values)
        else:
            assert isinstance(item, FreeTextItem) and 0 < len(value) <= item.max_length
    for name in raw:
        if name not in {item.name for item in SPEC.items}:
            assert name in result.errors


def _valid_answer(item):
    if isinstance(item, (LikertItem, AttentionCheckItem, NpsItem)):
        return st.integers(*item.scale_range)
    if isinstance(item, SingleChoiceItem):
        return st.sampled_from(item.option_values)
    if isinstance(item, MultipleChoiceItem):
        return st.lists(st.sampled_from(item.option_values), min_size=1, unique=True)
    alphabet = st.characters(blacklist_categories=("Cc", "Cs", "Zs", "Zl", "Zp"))
    return st.text(alphabet, min_size=1, max_size=item.max_length)


valid_answers = st.fixed_dictionaries({item.name: _valid_answer(item) for item in SPEC.items if item.required},
                                      optional={item.name: _valid_answer(item) for item in SPEC.items
                                                if not item.required})


@settings(max_examples=150, deadline=None)
@given(answers=valid_answers, from_form=st.booleans())
def test_any_valid_answers_to_the_shipped_questionnaire_pass(answers, from_form):
    raw = form_of(answers) if from_form else answers
    result = validate_answers(SPEC, raw, from_form=from_form)
    assert result.errors == {}
    expected = dict(answers)
    if answers["nps"] > 6:
        expected.pop("improve", None)
    assert result.answers == expected


def test_unstorable_characters_are_exactly_control_characters_and_surrogates():
    """The free-text check refuses Unicode categories Cc and Cs except tab and newline, over every
    code point (the pattern stands in for a per-character ``unicodedata.category`` loop)."""
    import unicodedata

    from survey_engine.definitions.answers import _UNSTORABLE

    for code in range(0x110000):
        char = chr(code)
        expected = unicodedata.category(char) in ("Cc", "Cs") and char not in "\n\t"
        assert bool(_UNSTORABLE.search(char)) is expected, hex(code)
