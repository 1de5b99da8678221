"""Errors for definition files (questionnaires, archetype catalogs): every problem with file, path, reason.

Both loaders gather all problems of all files before raising one :class:`DefinitionError`, so an
author fixes a file in one pass instead of one error per run.
"""
from __future__ import annotations

import difflib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

PathSegment = str | int


@dataclass(frozen=True)
class DefinitionIssue:
    """One problem in a definition file.

    Parameters
    ----------
    file : str
        The file as the user named it (``questionnaires/x.yaml``), or ``<data>`` for in-memory input.
    path : str
        Where inside the file, e.g. ``pages[1].items[3].show_if.item``; empty for whole-file problems.
    reason : str
        What is wrong, in words an author understands.
    line : int or None
        1-based line in the file when known (YAML input only).
    """

    file: str
    path: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}: {self.path}: " if self.path else f"{self.file}: "
        suffix = f" (line {self.line})" if self.line is not None else ""
        return f"{where}{self.reason}{suffix}"


class DefinitionError(Exception):
    """A definition (file, directory or stored dict) is invalid; ``issues`` lists every problem."""

    def __init__(self, issues: Iterable[DefinitionIssue]):
        self.issues: list[DefinitionIssue] = list(issues)
        count = len(self.issues)
        header = f"{count} problem{'s' if count != 1 else ''} in definition files:"
        super().__init__("\n".join([header, *(f"  - {issue}" for issue in self.issues)]))


def format_path(segments: Sequence[PathSegment]) -> str:
    """Render ``("pages", 1, "items", 3, "show_if")`` as ``pages[1].items[3].show_if``."""
    out = ""
    for segment in segments:
        if isinstance(segment, int):
            out += f"[{segment}]"
        else:
            out += f".{segment}" if out else str(segment)
    return out


def strip_union_tags(loc: Sequence[PathSegment], tags: Collection[str],
                     union_fields: Collection[str] = ()) -> tuple[PathSegment, ...]:
    """Drop the tag segments pydantic inserts after a union position (``items.3.likert.points``).

    A segment counts as a tag when it is one of ``tags`` and follows a list index or one of
    ``union_fields`` (fields whose value is a tagged union), so a field sharing a tag's name is kept.
    """
    out: list[PathSegment] = []
    previous: PathSegment | None = None
    for segment in loc:
        if isinstance(segment, str) and segment in tags and (previous is None or isinstance(previous, int)
                                                              or previous in union_fields):
            previous = segment
            continue
        out.append(segment)
        previous = segment
    return tuple(out)


#: Friendly descriptions of the regular expressions used by definition models, keyed by pattern.
PATTERN_DESCRIPTIONS: dict[str, str] = {}

_SIMPLE_REASONS = {
    "dict_type": "expected a mapping",
    "list_type": "expected a list",
    "tuple_type": "expected a list",
    "string_type": "expected a text",
    "int_type": "expected a whole number",
    "int_from_float": "expected a whole number",
    "int_parsing": "expected a whole number",
    "bool_type": "expected true or false",
    "bool_parsing": "expected true or false",
    "model_type": "expected a mapping",
    "model_attributes_type": "expected a mapping",
}


def _short_repr(value: object) -> str | None:
    if isinstance(value, (str, int, float, bool)) or value is None:
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    return None


def _reason(error: dict, known_fields: Collection[str]) -> str:
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = _short_repr(error.get("input"))
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        name = str(error["loc"][-1]) if error["loc"] else ""
        close = difflib.get_close_matches(name, known_fields, n=1, cutoff=0.75)
        return "unknown field" + (f" (did you mean '{close[0]}'?)" if close else "")
    if kind == "value_error":
        return str(ctx.get("error", error["msg"].removeprefix("Value error, ")))
    if kind == "string_pattern_mismatch":
        pattern = ctx.get("pattern", "")
        description = PATTERN_DESCRIPTIONS.get(pattern, f"must match the pattern {pattern}")
        return f"{got} is not valid: {description}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}" + (f", got {got}" if got else "")
    if kind == "string_too_short" and ctx.get("min_length") == 1:
        return "must not be empty"
    if kind in ("too_short",):
        return f"must have at least {ctx.get('min_length')} entr{'y' if ctx.get('min_length') == 1 else 'ies'}"
    if kind in _SIMPLE_REASONS:
        return _SIMPLE_REASONS[kind] + (f", got {got}" if got else "")
    message = error["msg"]
    return message[:1].lower() + message[1:]


def _consequential(error: dict) -> bool:
    # A list whose entries all failed is "too short after validation"; the entries' own errors say why.
    if error["type"] != "too_short":
        return False
    value = error.get("input")
    return isinstance(value, (list, tuple)) and len(value) >= (error.get("ctx") or {}).get("min_length", 0)


def issues_from_validation_error(
    exc: ValidationError,
    file: str,
    *,
    tags: Collection[str] = (),
    union_fields: Collection[str] = (),
    known_fields: Collection[str] = (),
    locate: Callable[[Sequence[PathSegment]], int | None] | None = None,
) -> list[DefinitionIssue]:
    """Convert a pydantic ``ValidationError`` into :class:`DefinitionIssue` objects.

    Parameters
    ----------
    exc : pydantic.ValidationError
        The error raised while validating a definition.
    file : str
        File name to report.
    tags : collection of str
        Discriminator tags of tagged unions, removed from paths (see :func:`strip_union_tags`).
    union_fields : collection of str
        Fields whose value is a tagged union.
    known_fields : collection of str
        Field names used to suggest a correction for unknown fields.
    locate : callable, optional
        Maps a path (tuple of segments) to a 1-based line number.
    """
    issues = []
    for error in exc.errors(include_url=False):
        if _consequential(error):
            continue
        loc = strip_union_tags(error["loc"], tags, union_fields)
        reason = _reason(error, known_fields)
        ctx = error.get("ctx") or {}
        if error["type"] in ("union_tag_invalid", "union_tag_not_found"):
            discriminator = str(ctx.get("discriminator", "")).strip("'")
            expected = ctx.get("expected_tags", "")
            if error["type"] == "union_tag_invalid":
                reason = f"unknown {discriminator} {ctx.get('tag')!r}; expected one of: {expected}"
            else:
                reason = f"required field is missing; expected one of: {expected}"
            if discriminator.isidentifier():
                loc = (*loc, discriminator)
        issues.append(DefinitionIssue(file, format_path(loc), reason, locate(loc) if locate else None))
    return issues
