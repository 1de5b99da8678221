"""DefinitionIssue / DefinitionError formatting and the pydantic-error conversion shared by all loaders."""
from __future__ import annotations

from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from survey_engine.definitions.errors import (
    DefinitionError,
    DefinitionIssue,
    format_path,
    issues_from_validation_error,
    strip_union_tags,
)


def test_issue_text_names_file_path_reason_and_line():
    issue = DefinitionIssue("questionnaires/x.yaml", "pages[1].items[3].show_if.item", "refers to later item 'nps'")
    assert str(issue) == "questionnaires/x.yaml: pages[1].items[3].show_if.item: refers to later item 'nps'"
    assert str(DefinitionIssue("x.yaml", "", "the file is empty", 1)) == "x.yaml: the file is empty (line 1)"


def test_error_message_lists_every_issue():
    issues = [DefinitionIssue("a.yaml", "id", "bad"), DefinitionIssue("b.yaml", "pages", "worse", 4)]
    error = DefinitionError(issues)
    assert error.issues == issues
    assert str(error).splitlines() == ["2 problems in definition files:", "  - a.yaml: id: bad",
                                       "  - b.yaml: pages: worse (line 4)"]
    assert str(DefinitionError(issues[:1])).startswith("1 problem in definition files:")


def test_format_path_and_tag_stripping():
    assert format_path(("pages", 0, "items", 2, "points")) == "pages[0].items[2].points"
    assert format_path(()) == ""
    assert strip_union_tags(("pages", 0, "items", 2, "likert", "points"), {"likert"}) == \
        ("pages", 0, "items", 2, "points")
    # a field that shares a tag's name is kept when it does not follow a union position
    assert strip_union_tags(("catalog", "likert"), {"likert"}) == ("catalog", "likert")


class _Leaf(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["leaf"]
    weight: int = Field(ge=0)


class _Tree(BaseModel):
    model_config = ConfigDict(extra="forbid")
    leaves: list[_Leaf] = Field(min_length=1)


def test_pydantic_errors_become_issues_with_paths_and_readable_reasons():
    with pytest.raises(ValidationError) as caught:
        _Tree.model_validate({"leaves": [{"kind": "leaf", "weight": -1, "wieght": 2}, {"kind": "leaf"}]})
    issues = issues_from_validation_error(caught.value, "t.yaml", known_fields={"kind", "weight"},
                                          locate=lambda path: len(path))
    assert [(i.path, i.reason, i.line) for i in issues] == [
        ("leaves[0].weight", "input should be greater than or equal to 0", 3),
        ("leaves[0].wieght", "unknown field (did you mean 'weight'?)", 3),
        ("leaves[1].weight", "required field is missing", 3),
    ]
