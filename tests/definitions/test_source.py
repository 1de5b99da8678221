"""YAML reading with line numbers: syntax errors, duplicate keys, unreadable files."""
from __future__ import annotations

from survey_engine.definitions.source import parse_yaml, read_yaml

TEXT = """\
a: 1
list:
  - x: 1
  - &shared
    y: 2
  - *shared
"""


def test_line_of_follows_paths_and_falls_back_to_the_deepest_known_node():
    document = parse_yaml(TEXT, "t.yaml")
    assert document.issues == [] and document.data["list"][2] == {"y": 2}
    assert document.line_of(()) == 1
    assert document.line_of(("list",)) == 2
    assert document.line_of(("list", 1, "y")) == 5
    assert document.line_of(("list", 0, "missing")) == 3
    assert document.line_of(("list", 9)) == 2


def test_syntax_error_becomes_an_issue_with_line():
    document = parse_yaml("a: [1, 2\nb: 3\n", "bad.yaml")
    assert document.data is None
    (issue,) = document.issues
    assert issue.file == "bad.yaml" and issue.line == 2 and issue.reason.startswith("YAML syntax error")


def test_duplicate_keys_are_reported_once_even_behind_aliases():
    document = parse_yaml("m: &m\n  k: 1\n  k: 2\nn: *m\n", "d.yaml")
    assert [(i.path, i.line) for i in document.issues] == [("m.k", 3)]


def test_unreadable_files(tmp_path):
    missing = read_yaml(tmp_path / "absent.yaml")
    assert missing.data is None and "cannot read file" in missing.issues[0].reason
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("title: caf\xe9\n".encode("latin-1"))
    assert "not valid UTF-8" in read_yaml(latin1).issues[0].reason
