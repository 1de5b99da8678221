"""Property tests of the questionnaire parser on hostile input: whatever the data or the file
holds, ``parse_questionnaire`` and ``load_questionnaire`` either return a spec or raise
``DefinitionError`` whose issues name the file; nothing else escapes. (The answer validator's
properties are in tests/definitions/test_answers.py; the form-mode and type-confusion cases they
leave out are added here.)"""
from __future__ import annotations

import copy
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from werkzeug.datastructures import MultiDict

from survey_engine.definitions.errors import DefinitionError
from survey_engine.definitions.questionnaire import (
    QuestionnaireSpec,
    load_questionnaire,
    parse_questionnaire,
    validate_answers,
)

SHIPPED = Path(__file__).resolve().parents[2] / "questionnaires" / "post_purchase_luxury.yaml"
DATA = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
SPEC = load_questionnaire(SHIPPED)

scalars = (st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True)
           | st.text(max_size=20) | st.sampled_from(["likert", "nps", "free_text", "en", "ch1", "le", "", "-1"]))
values = st.recursive(scalars, lambda children: st.lists(children, max_size=4)
                      | st.dictionaries(st.text(max_size=10) | st.sampled_from(["type", "name", "show_if", "item",
                                                                                 "op", "value", "options"]),
                                        children, max_size=4), max_leaves=12)
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None)


def _paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, prefix + (key,))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _paths(child, prefix + (index,))


PATHS = list(_paths(DATA))


def _replace(data, path, value):
    data = copy.deepcopy(data)
    if not path:
        return value
    node = data
    for segment in path[:-1]:
        node = node[segment]
    node[path[-1]] = value
    return data


def _parses_or_explains(call, source: str):
    try:
        spec = call()
    except DefinitionError as exc:
        assert exc.issues, "a DefinitionError without issues"
        for issue in exc.issues:
            assert issue.file == source and issue.reason
        return None
    assert isinstance(spec, QuestionnaireSpec)
    return spec


@SETTINGS
@given(path=st.sampled_from(PATHS), value=values)
def test_any_node_of_the_shipped_file_replaced_by_anything(path, value):
    mutated = _replace(DATA, path, value)
    spec = _parses_or_explains(lambda: parse_questionnaire(mutated, source="mutated.yaml"), "mutated.yaml")
    if spec is not None:  # still valid: it survives the storage round trip unchanged
        assert QuestionnaireSpec.from_dict(spec.to_dict()) == spec


@SETTINGS
@given(path=st.sampled_from([p for p in PATHS if p and isinstance(p[-1], int)]))
def test_any_list_entry_removed_or_duplicated(path):
    parent = DATA
    for segment in path[:-1]:
        parent = parent[segment]
    for change in ("remove", "duplicate"):
        mutated = _replace(DATA, path[:-1], parent[:path[-1]] + parent[path[-1] + 1:] if change == "remove"
                           else parent + [parent[path[-1]]])
        _parses_or_explains(lambda: parse_questionnaire(mutated, source="m.yaml"), "m.yaml")


yaml_ish = st.lists(st.sampled_from(["id: x", "pages:", "  - id: p", "    items:", "      - name: a",
                                     "        type: likert", "&a [1, 2]", "*a", "<<: *a", "!!python/object:os.system",
                                     "? complex", "- ", ":", "'", '"', "\t", "{", "}", "[", "---", "...", "%YAML 1.1",
                                     "key: value", "key: key", "\x00", "\ufeff", "é: ü"]) | st.text(max_size=30),
                    max_size=25).map("\n".join)


@SETTINGS
@given(text=yaml_ish | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_any_file_content(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("q") / "hostile.yaml"
    path.write_bytes(text.encode("utf-8", "surrogatepass"))
    _parses_or_explains(lambda: load_questionnaire(path), str(path))


@SETTINGS
@given(text=st.text(max_size=200))
def test_shipped_file_with_text_spliced_in(tmp_path_factory, text):
    source = SHIPPED.read_text(encoding="utf-8")
    at = len(text) * 97 % len(source)
    path = tmp_path_factory.mktemp("q") / "spliced.yaml"
    path.write_text(source[:at] + text + source[at:], encoding="utf-8", errors="surrogatepass")
    _parses_or_explains(lambda: load_questionnaire(path), str(path))


def test_a_billion_laughs_file_is_refused_quickly(tmp_path):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]"
              for i in range(9)]
    path = tmp_path / "laughs.yaml"
    path.write_text("\n".join(lines) + "\n")
    import time

    started = time.perf_counter()
    _parses_or_explains(lambda: load_questionnaire(path), str(path))
    assert time.perf_counter() - started < 5


form_values = st.text(st.characters(codec="utf-8"), max_size=30) | st.sampled_from(
    ["", " ", "7", "07", "7.0", "+7", "٧", "²", "1e3", "true", "None", "\x00", "boutique", "watches"])


@SETTINGS
@given(pairs=st.lists(st.tuples(st.sampled_from([i.name for i in SPEC.items]) | st.text(max_size=8), form_values),
                      max_size=40), partial=st.booleans())
def test_answers_from_any_posted_form(pairs, partial):
    result = validate_answers(SPEC, MultiDict(pairs), partial=partial, from_form=True)
    for name, value in result.answers.items():
        item = SPEC.item(name)
        if item.type in {"likert", "attention_check", "nps"}:
            assert type(value) is int
        elif item.type == "multiple_choice":
            assert isinstance(value, list) and all(isinstance(v, str) for v in value)
        else:
            assert isinstance(value, str)
        assert name not in result.errors


@SETTINGS
@given(value=st.sampled_from([True, False, 7.0, 6.5, float("inf"), float("nan"), 10**100, -0, "7", [7], {"v": 7}]),
       name=st.sampled_from(["ch1", "attn1", "nps"]))
def test_json_answers_that_only_look_like_numbers_are_refused(value, name):
    result = validate_answers(SPEC, {name: value}, partial=True)
    if type(value) is int and value == 0 and name != "nps":
        assert name in result.errors
    elif type(value) is int and value == 0:
        assert result.answers == {name: 0}
    else:
        assert name in result.errors and name not in result.answers


def test_control_character_in_a_file_is_an_issue_with_its_line(tmp_path):
    """Found by the properties above: PyYAML refused the text before parsing, outside the handler."""
    import pytest

    path = tmp_path / "nul.yaml"
    path.write_text("id: x\nversion: 1\ntitle: {en: \"a\x00b\"}\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as raised:
        load_questionnaire(path)
    [issue] = raised.value.issues
    assert issue.line == 3 and "#x0000" in issue.reason and issue.file == str(path)
