"""Questionnaire definitions: the shipped file, every class of definition error, hashing, round trip, schema."""
from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import jsonschema
import pydantic
import pytest
import yaml

from survey_engine.definitions import (
    AttentionCheckItem,
    DefinitionError,
    FreeTextItem,
    LikertItem,
    MultipleChoiceItem,
    NpsItem,
    QuestionnaireSpec,
    SingleChoiceItem,
    load_questionnaire,
    load_questionnaire_dir,
    questionnaire_json_schema,
)
from survey_engine.definitions.questionnaire import SCHEMA_PATH

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "questionnaires" / "post_purchase_luxury.yaml"
DATA = Path(__file__).parent / "data"

WORLD_MODEL_CONSTRUCTS = {
    "craftsmanship_heritage": {"ch1", "ch2", "ch3", "ch4"},
    "exclusivity_status": {"es1", "es2", "es3", "es4"},
    "novelty_trends": {"nt1", "nt2", "nt3", "nt4"},
    "minimalism": {"mi1", "mi2", "mi3", "mi4"},
    "sustainability": {"su1", "su2", "su3", "su4"},
    "digital_community": {"dc1", "dc2", "dc3", "dc4"},
    "personal_service": {"ps1", "ps2", "ps3"},
    "privacy_discretion": {"pr1", "pr2", "pr3"},
}
WORLD_MODEL_REVERSED = {"ch4", "es3", "nt4", "mi2", "su3", "dc4", "pr2"}


@pytest.fixture(scope="module")
def spec() -> QuestionnaireSpec:
    return load_questionnaire(SHIPPED)


@pytest.fixture
def raw() -> dict:
    return yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))


def load_mutated(data: dict, tmp_path: Path) -> list:
    """Write ``data`` as YAML and return the issues of loading it (empty if it loads)."""
    path = tmp_path / "mutated.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    try:
        load_questionnaire(path)
    except DefinitionError as exc:
        return exc.issues
    return []


# ----- the shipped questionnaire ---------------------------------------------------------------
def test_shipped_questionnaire_follows_the_world_model(spec):
    assert spec.id == "post_purchase_luxury"
    assert spec.languages == ("en", "it", "fr")
    assert {c: set(names) for c, names in spec.constructs.items()} == WORLD_MODEL_CONSTRUCTS
    assert spec.reverse_keyed == WORLD_MODEL_REVERSED
    assert len(spec.likert_items) == 30
    assert all(item.points == 7 for item in spec.likert_items)
    attention = spec.item("attn1")
    assert isinstance(attention, AttentionCheckItem) and attention.expected == 6
    assert isinstance(spec.item("nps"), NpsItem) and spec.item("nps").scale_range == (0, 10)
    category = spec.item("category")
    assert isinstance(category, SingleChoiceItem)
    assert category.option_values == ("leather_goods", "jewellery", "watches", "ready_to_wear", "shoes",
                                      "fragrance_beauty")
    channels = spec.item("channels")
    assert isinstance(channels, MultipleChoiceItem)
    assert channels.option_values == ("boutique", "website", "app", "social_media", "events")
    lengths = {item.name: item.max_length for item in spec.items if isinstance(item, FreeTextItem)}
    assert lengths == {"style_words": 500, "special_purchase": 1000, "improve": 1000}
    assert spec.item("improve").show_if.evaluate({"nps": 6})
    assert not spec.item("improve").show_if.evaluate({"nps": 7})
    assert not spec.item("improve").required
    assert 4 <= len(spec.pages) <= 6
    # the 7 labels read from "disagree" to "agree", and the attention check's 6 is "Agree" in English
    assert attention.point_labels["en"][5] == "Agree"
    assert all(len(labels) == 7 for labels in attention.point_labels.values())


def test_construct_items_are_interleaved_across_pages(spec):
    for construct, names in spec.constructs.items():
        pages = {page.id for page in spec.pages for item in page.items if item.name in names}
        assert len(pages) >= 2, construct
    for page in spec.pages:
        constructs = [item.construct for item in page.items if isinstance(item, LikertItem)]
        assert all(a != b for a, b in zip(constructs, constructs[1:])), f"neighbours share a construct on {page.id}"


def test_every_text_of_the_shipped_file_is_translated(spec):
    texts = [spec.title, spec.description, spec.consent, spec.thank_you]
    texts += [page.title for page in spec.pages] + [item.text for item in spec.items]
    for mapping in texts:
        assert set(mapping) == {"en", "it", "fr"}
        assert len({mapping["en"], mapping["it"], mapping["fr"]}) == 3, mapping  # not copied across


def test_questionnaire_directory_loads(spec):
    specs = load_questionnaire_dir(ROOT / "questionnaires")
    assert [s.id for s in specs] == ["post_purchase_luxury"]
    assert specs[0] == spec


def test_navigation_helpers(spec):
    assert [item.name for item in spec.items][:3] == ["category", "channels", "ch1"]
    assert spec.item("ch4").keyed(2) == 6 and spec.item("ch1").keyed(2) == 2
    with pytest.raises(KeyError, match="no item 'missing'"):
        spec.item("missing")
    assert spec.text(spec.title, "it") == "Il Suo acquisto, il Suo stile"
    assert spec.text(spec.title, "fr-CH") == "Votre achat, votre style"
    assert spec.text(spec.title, "de") == spec.title["en"]
    assert spec.text(spec.title, None) == spec.title["en"]
    assert spec.text(None, "it") == ""
    assert spec.resolve_language("IT") == "it"


def test_spec_is_frozen(spec):
    with pytest.raises(pydantic.ValidationError):
        spec.version = 2
    with pytest.raises(pydantic.ValidationError):
        spec.item("ch1").reverse = True


# ----- each class of definition error ----------------------------------------------------------
def _set(path, value):
    def mutate(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


def _delete(path):
    def mutate(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return mutate


def _relabel(data):
    item = data["pages"][1]["items"][0]
    labels = item["point_labels"]  # shared with other items through the YAML anchor: replace, not edit
    item["point_labels"] = {**labels, "it": labels["it"][:6]}


IMPROVE = ("pages", 5, "items", 1)
CH1 = ("pages", 1, "items", 0)

ERROR_CASES = {
    "unknown item type": (_set((*CH1, "type"), "slider"), "pages[1].items[0].type", "unknown type 'slider'"),
    "missing type": (_delete((*CH1, "type")), "pages[1].items[0].type", "required field is missing"),
    "missing field": (_delete((*CH1, "text")), "pages[1].items[0].text", "required field is missing"),
    "missing top-level field": (_delete(("consent",)), "consent", "required field is missing"),
    "extra field": (_set((*CH1, "constuct"), "x"), "pages[1].items[0].constuct", "did you mean 'construct'"),
    "duplicate item name": (_set(("pages", 1, "items", 1, "name"), "ch1"), "pages[1].items[1].name",
                            "duplicate item name 'ch1' (first used by pages[1].items[0])"),
    "duplicate page id": (_set(("pages", 2, "id"), "what_matters"), "pages[2].id", "duplicate page id 'what_matters'"),
    "duplicate option value": (_set(("pages", 0, "items", 0, "options", 1, "value"), "leather_goods"),
                               "pages[0].items[0].options", "duplicate option value: 'leather_goods'"),
    "show_if names a later item": (_set((*CH1, "show_if"), {"item": "nps", "op": "ge", "value": 9}),
                                   "pages[1].items[0].show_if.item", "refers to later item 'nps'"),
    "show_if names an unknown item": (_set((*IMPROVE, "show_if"), {"item": "npss", "op": "le", "value": 6}),
                                      "pages[5].items[1].show_if.item", "refers to unknown item 'npss'"),
    "show_if names its own item": (_set((*IMPROVE, "show_if"), {"item": "improve", "op": "answered"}),
                                   "pages[5].items[1].show_if.item", "refers to the item itself"),
    "show_if value is not an option": (
        _set((*IMPROVE, "show_if"), {"item": "category", "op": "eq", "value": "handbags"}),
        "pages[5].items[1].show_if.value", "'handbags' is not an option of 'category'"),
    "show_if compares a number with text": (_set((*IMPROVE, "show_if"), {"item": "nps", "op": "le", "value": "six"}),
                                            "pages[5].items[1].show_if.value", "'six' is not a whole number"),
    "show_if value off the scale": (_set((*IMPROVE, "show_if"), {"item": "nps", "op": "le", "value": 11}),
                                    "pages[5].items[1].show_if.value", "outside the 0–10 scale"),
    "show_if operator unfit for the item": (
        _set((*IMPROVE, "show_if"), {"item": "channels", "op": "eq", "value": "boutique"}),
        "pages[5].items[1].show_if.op", "operator 'eq' cannot be used with multiple_choice item 'channels'"),
    "nested show_if": (
        _set((*IMPROVE, "show_if"), {"any": [{"item": "nps", "op": "le", "value": 6},
                                             {"not": {"item": "channels", "op": "contains", "value": "shop"}}]}),
        "pages[5].items[1].show_if.any[1].not.value", "'shop' is not an option of 'channels'"),
    "unknown operator": (_set((*IMPROVE, "show_if"), {"item": "nps", "op": "lte", "value": 6}),
                         "pages[5].items[1].show_if.op", "expected 'eq', 'ne'"),
    "condition written as an expression": (_set((*IMPROVE, "show_if"), "nps <= 6"),
                                           "pages[5].items[1].show_if", "a condition must be a mapping"),
    "presence test with a value": (_set((*IMPROVE, "show_if"), {"item": "nps", "op": "answered", "value": 3}),
                                   "pages[5].items[1].show_if.value", "operator 'answered' takes no value"),
    "list operator without a list": (_set((*IMPROVE, "show_if"), {"item": "nps", "op": "in", "value": 3}),
                                     "pages[5].items[1].show_if.value", "needs a non-empty list"),
    "missing translation": (_delete((*CH1, "text", "fr")), "pages[1].items[0].text", "missing translation for 'fr'"),
    "missing option translation": (_delete(("pages", 0, "items", 0, "options", 2, "label", "it")),
                                   "pages[0].items[0].options[2].label", "missing translation for 'it'"),
    "undeclared language": (_set(("title", "de"), "Ihr Kauf"), "title", "language not listed in `languages`: 'de'"),
    "point labels do not match points": (_relabel, "pages[1].items[0].point_labels", "'it' has 6"),
    "unsupported number of points": (_set((*CH1, "points"), 6), "pages[1].items[0].points", "expected 5 or 7"),
    "attention check answer off the scale": (_set(("pages", 2, "items", 6, "expected"), 8),
                                             "pages[2].items[6].expected", "expected answer 8 is not on the 1–7 scale"),
    "bad item name": (_set((*CH1, "name"), "Ch 1"), "pages[1].items[0].name", "lower-case letters"),
    "max_selected above the options": (_set(("pages", 0, "items", 1, "max_selected"), 9),
                                       "pages[0].items[1].max_selected", "only 5 options"),
    "empty text": (_set((*CH1, "text", "en"), "  "), "pages[1].items[0].text.en", "must not be empty"),
    "text where a number belongs": (_set(("version",), "one"), "version", "expected a whole number, got 'one'"),
    "text where a boolean belongs": (_set((*CH1, "reverse"), "yes"), "pages[1].items[0].reverse",
                                     "expected true or false"),
    "repeated language": (_set(("languages",), ["en", "it", "fr", "en"]), "languages", "more than once: en"),
}


@pytest.mark.parametrize("case", list(ERROR_CASES))
def test_each_error_is_reported_with_file_path_and_reason(case, raw, tmp_path):
    mutate, path, reason = ERROR_CASES[case]
    mutate(raw)
    issues = load_mutated(raw, tmp_path)
    assert len(issues) == 1, [str(i) for i in issues]
    (issue,) = issues
    assert issue.file == str(tmp_path / "mutated.yaml")
    assert issue.path == path
    assert reason in issue.reason
    assert issue.line is not None


def test_every_problem_in_a_file_is_listed_with_its_line():
    with pytest.raises(DefinitionError) as caught:
        load_questionnaire(DATA / "many_errors.yaml")
    found = {(issue.path, issue.line): issue.reason for issue in caught.value.issues}
    expected = {
        ("version", 3): "greater than or equal to 1",
        ("consent", 6): "missing translation for 'it'",
        ("pages[0].items[0].point_labels", 15): "'it' has 5",
        ("pages[0].items[0].show_if.item", 19): "refers to later item 'q3'",
        ("pages[0].items[1].type", 21): "unknown type 'slider'",
        ("pages[1].id", 23): "duplicate page id 'start'",
        ("pages[1].items[0].name", 26): "duplicate item name 'q1'",
        ("pages[1].items[0].options", 29): "duplicate option value: 'a'",
        ("pages[1].items[1].colour", 37): "unknown field",
        ("pages[1].items[2].expected", 41): "expected answer 6 is not on the 1–5 scale",
        ("pages[1].items[3].show_if.value", 49): "'ten' is not a whole number",
    }
    assert set(found) == set(expected)
    for key, reason in expected.items():
        assert reason in found[key], key
    lines = [issue.line for issue in caught.value.issues]
    assert lines == sorted(lines)
    message = str(caught.value)
    assert message.startswith("11 problems in definition files:")
    assert f"{DATA / 'many_errors.yaml'}: pages[1].items[1].colour: unknown field (line 37)" in message


def test_yaml_syntax_error_names_the_line():
    with pytest.raises(DefinitionError) as caught:
        load_questionnaire(DATA / "syntax_error.yaml")
    (issue,) = caught.value.issues
    assert issue.reason.startswith("YAML syntax error")
    assert issue.line == 9 and issue.path == ""


def test_duplicate_yaml_key_is_an_error_not_a_silent_overwrite():
    with pytest.raises(DefinitionError) as caught:
        load_questionnaire(DATA / "duplicate_key.yaml")
    (issue,) = caught.value.issues
    assert (issue.path, issue.line) == ("title.en", 7)
    assert "duplicate key 'en' (first given on line 5)" in issue.reason


@pytest.mark.parametrize("text, reason", [("", "the file is empty"), ("- a\n- b\n", "top level must be a mapping")])
def test_file_that_is_not_a_questionnaire(tmp_path, text, reason):
    path = tmp_path / "q.yaml"
    path.write_text(text)
    with pytest.raises(DefinitionError, match=reason):
        load_questionnaire(path)


def test_directory_gathers_errors_of_all_files_and_duplicate_ids(raw, tmp_path):
    (tmp_path / "a.yaml").write_text(SHIPPED.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "b.yml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    broken = copy.deepcopy(raw)
    broken["id"] = "other"
    broken["pages"][0]["items"][0]["type"] = "dropdown"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(broken, allow_unicode=True), encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a questionnaire")
    with pytest.raises(DefinitionError) as caught:
        load_questionnaire_dir(tmp_path)
    issues = [(Path(i.file).name, i.path, i.reason) for i in caught.value.issues]
    assert ("b.yml", "id", f"questionnaire id 'post_purchase_luxury' is already used by {tmp_path / 'a.yaml'}") in issues
    assert any(name == "c.yaml" and path == "pages[0].items[0].type" and "'dropdown'" in reason
               for name, path, reason in issues)
    assert len(issues) == 2


def test_directory_must_exist(tmp_path):
    with pytest.raises(NotADirectoryError):
        load_questionnaire_dir(tmp_path / "absent")
    assert load_questionnaire_dir(tmp_path) == []


def test_direct_model_validation_also_runs_cross_item_checks(raw):
    raw["pages"][1]["items"][1]["name"] = "ch1"
    with pytest.raises(pydantic.ValidationError, match="duplicate item name 'ch1'"):
        QuestionnaireSpec.model_validate(raw)


# ----- content hash and round trip -------------------------------------------------------------
def test_content_hash_is_stable_across_loads_and_formatting(spec, tmp_path):
    assert load_questionnaire(SHIPPED).content_hash() == spec.content_hash()
    reformatted = tmp_path / "same.yaml"
    reformatted.write_text("# a new comment\n" + SHIPPED.read_text(encoding="utf-8").replace("\n\n", "\n"),
                           encoding="utf-8")
    assert load_questionnaire(reformatted).content_hash() == spec.content_hash()
    canonical = json.dumps(spec.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert spec.content_hash() == hashlib.sha256(canonical.encode()).hexdigest()


@pytest.mark.parametrize("change", [
    _set(("pages", 3, "items", 4, "text", "fr"), "Des lignes pures définissent mon goût."),
    _set(("thank_you", "it"), "Grazie!"),
    _set(("pages", 1, "items", 0, "reverse"), True),
    _set(("pages", 5, "items", 1, "show_if", "value"), 5),
    _set(("version",), 2),
])
def test_content_hash_changes_with_any_content_change(spec, raw, tmp_path, change):
    change(raw)
    path = tmp_path / "changed.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    assert load_questionnaire(path).content_hash() != spec.content_hash()


def test_to_dict_from_dict_round_trip(spec):
    stored = json.loads(json.dumps(spec.to_dict()))  # as it comes back from a JSON column
    again = QuestionnaireSpec.from_dict(stored)
    assert again == spec
    assert again.content_hash() == spec.content_hash()
    assert again.to_dict() == stored
    assert stored["pages"][5]["items"][1]["show_if"] == {"item": "nps", "op": "le", "value": 6}


def test_from_dict_reports_problems_with_the_source_name(spec):
    data = spec.to_dict()
    data["pages"][0]["items"][1]["name"] = "category"
    with pytest.raises(DefinitionError) as caught:
        QuestionnaireSpec.from_dict(data, source="questionnaire_versions#3")
    assert [str(i) for i in caught.value.issues] == [
        "questionnaire_versions#3: pages[0].items[1].name: duplicate item name 'category' "
        "(first used by pages[0].items[0])"]


# ----- JSON Schema for editors -----------------------------------------------------------------
def test_committed_schema_is_up_to_date():
    committed = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert committed == questionnaire_json_schema(), (
        "questionnaires/questionnaire.schema.json is stale: run `python -m survey_engine.definitions schema`")


def test_shipped_yaml_names_the_schema_and_validates_against_it(raw):
    assert SHIPPED.read_text(encoding="utf-8").splitlines()[0] == \
        "# yaml-language-server: $schema=questionnaire.schema.json"
    schema = questionnaire_json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(raw)


@pytest.mark.parametrize("change", [
    _set(("pages", 1, "items", 0, "type"), "slider"),
    _set(("pages", 1, "items", 0, "points"), 6),
    _set(("pages", 5, "items", 1, "show_if"), {"item": "nps", "op": "lte", "value": 6}),
    _set(("pages", 0, "items", 0, "colour"), "red"),
])
def test_schema_rejects_structural_mistakes(raw, change):
    change(raw)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(questionnaire_json_schema()).validate(raw)
