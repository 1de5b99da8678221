"""Reading YAML definition files while keeping line numbers, so errors can point at a line.

PyYAML silently keeps the last of two equal keys in a mapping; here a duplicated key is reported,
because in a translated text it usually means a language was pasted twice and one text is lost.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from survey_engine.definitions.errors import DefinitionIssue, PathSegment, format_path


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file: its data, the node tree (for line numbers) and problems found while reading.

    ``data`` is ``None`` when the file could not be parsed; ``issues`` then holds the syntax error.
    """

    file: str
    data: Any
    root: yaml.Node | None = None
    issues: list[DefinitionIssue] = field(default_factory=list)

    def line_of(self, path: Sequence[PathSegment]) -> int | None:
        """The 1-based line of the deepest node on ``path`` that exists in the file."""
        node = self.root
        if node is None:
            return None
        line = node.start_mark.line + 1
        for segment in path:
            child = _child(node, segment)
            if child is None:
                break
            key_node, node = child
            line = (key_node or node).start_mark.line + 1
        return line


def _child(node: yaml.Node, segment: PathSegment) -> tuple[yaml.Node | None, yaml.Node] | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.value == str(segment):
                return key_node, value_node
    elif isinstance(node, yaml.SequenceNode) and isinstance(segment, int) and 0 <= segment < len(node.value):
        return None, node.value[segment]
    return None


def _duplicate_keys(node: yaml.Node, file: str, path: tuple[PathSegment, ...], seen: set[int]) -> list[DefinitionIssue]:
    # Aliased nodes are shared; visit each once so an anchor used 30 times is checked once.
    if id(node) in seen:
        return []
    seen.add(id(node))
    issues: list[DefinitionIssue] = []
    if isinstance(node, yaml.MappingNode):
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key is not None and key in first_line:
                issues.append(DefinitionIssue(
                    file, format_path((*path, key)),
                    f"duplicate key '{key}' (first given on line {first_line[key]}); only one value can be kept",
                    key_node.start_mark.line + 1))
            elif key is not None:
                first_line[key] = key_node.start_mark.line + 1
            issues += _duplicate_keys(value_node, file, (*path, key if key is not None else "?"), seen)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            issues += _duplicate_keys(item, file, (*path, index), seen)
    return issues


def parse_yaml(text: str, file: str) -> YamlDocument:
    """Parse YAML text (safe loader) into a :class:`YamlDocument`; never raises on bad YAML."""
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:  # a control character: refused before parsing starts
        line = text.count("\n", 0, exc.position) + 1
        reason = f"YAML syntax error: character #x{exc.character:04x} is not allowed in YAML ({exc.reason})"
        return YamlDocument(file, None, None, [DefinitionIssue(file, "", reason, line)])
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        reason = f"YAML syntax error: {problem}" + (f" ({context})" if context else "")
        if mark is not None:
            reason += f" at column {mark.column + 1}"
        return YamlDocument(file, None, None, [DefinitionIssue(file, "", reason, mark.line + 1 if mark else None)])
    finally:
        loader.dispose()
    issues = _duplicate_keys(root, file, (), set()) if root is not None else []
    return YamlDocument(file, data, root, issues)


def read_yaml(path: str | Path) -> YamlDocument:
    """Read and parse a YAML file; unreadable or non-UTF-8 files become issues, not exceptions."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return YamlDocument(file, None, None, [DefinitionIssue(file, "", f"file is not valid UTF-8 text ({exc.reason})")])
    except OSError as exc:
        return YamlDocument(file, None, None, [DefinitionIssue(file, "", f"cannot read file: {exc.strerror or exc}")])
    return parse_yaml(text, file)
