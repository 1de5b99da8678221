"""Branching conditions (``show_if``) as data, evaluated on earlier answers without ``eval``.

A condition is either a comparison ``{item: nps, op: le, value: 6}`` or a combinator
``{all: [...]}``, ``{any: [...]}``, ``{not: {...}}``. Comparisons with an unanswered item are false
(so ``{item: nps, op: ne, value: 10}`` hides the item until ``nps`` is answered); use ``answered`` /
``not_answered`` to test presence.
"""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PlainValidator,
    Tag,
    TypeAdapter,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from survey_engine.definitions.errors import PathSegment

#: Operators comparing an answer with ``value``.
VALUE_OPERATORS = ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "contains")
#: Operators testing whether an item has been answered; they take no ``value``.
PRESENCE_OPERATORS = ("answered", "not_answered")
OPERATORS = VALUE_OPERATORS + PRESENCE_OPERATORS
ORDER_OPERATORS = ("lt", "le", "gt", "ge")
LIST_OPERATORS = ("in", "not_in")

Operator = Literal["eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "contains", "answered", "not_answered"]

#: Tags of the condition union, removed from error paths.
CONDITION_TAGS = frozenset({"comparison", "all_of", "any_of", "negation"})
#: Fields whose value is a condition (where pydantic inserts those tags).
CONDITION_FIELDS = frozenset({"show_if", "not"})


def is_answered(value: Any) -> bool:
    """True when ``value`` is an answer: not None, not blank text, not an empty selection."""
    if value is None:
        return False
    if isinstance(value, str):
        return value.strip() != ""
    if isinstance(value, (list, tuple, set, frozenset)):
        return len(value) > 0
    return True


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _same(answer: Any, expected: Any) -> bool:
    # True == 1 in Python; an answer of kind bool never equals a number or a text here.
    if isinstance(answer, bool) or isinstance(expected, bool):
        return answer is expected
    if _is_int(answer) and _is_int(expected):
        return answer == expected
    return isinstance(answer, str) and isinstance(expected, str) and answer == expected


def _check_value_type(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        if not all(_is_int(v) or isinstance(v, str) for v in value):
            raise ValueError("every value in the list must be a whole number or a text")
        return tuple(value)
    if _is_int(value) or isinstance(value, str):
        return value
    raise ValueError(f"a condition value must be a whole number, a text or a list of those, got {value!r}")


_SCALAR_SCHEMA = {"anyOf": [{"type": "integer"}, {"type": "string"}]}
ConditionValue = Annotated[
    Any,
    PlainValidator(_check_value_type),
    WithJsonSchema({"anyOf": [*_SCALAR_SCHEMA["anyOf"], {"type": "array", "items": _SCALAR_SCHEMA, "minItems": 1},
                              {"type": "null"}]}),
]


class _ConditionModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True,
                              serialize_by_alias=True)


class Comparison(_ConditionModel):
    """Compare the answer to ``item`` with ``value`` using ``op``."""

    item: str = Field(description="Name of an item that appears earlier in the questionnaire.")
    op: Operator = Field(description="eq, ne, lt, le, gt, ge, in, not_in, contains, answered, not_answered.")
    value: ConditionValue = Field(default=None, validate_default=True,
                                  description="Value compared with (a list for in / not_in; none for answered).")

    @field_validator("value")
    @classmethod
    def _value_fits_operator(cls, value: Any, info: ValidationInfo) -> Any:
        op = info.data.get("op")
        if op is None:
            return value
        if op in PRESENCE_OPERATORS:
            if value is not None:
                raise ValueError(f"operator '{op}' takes no value")
        elif op in LIST_OPERATORS:
            if not isinstance(value, tuple) or not value:
                raise ValueError(f"operator '{op}' needs a non-empty list of values")
        elif value is None:
            raise ValueError(f"operator '{op}' needs a value")
        elif isinstance(value, tuple):
            raise ValueError(f"operator '{op}' compares with a single value, not a list (use 'in' for a list)")
        return value

    def evaluate(self, answers: Mapping[str, Any]) -> bool:
        """Evaluate on ``answers`` ({item name: value}); comparisons with an unanswered item are false."""
        answer = answers.get(self.item)
        if self.op == "answered":
            return is_answered(answer)
        if self.op == "not_answered":
            return not is_answered(answer)
        if not is_answered(answer):
            return False
        if self.op == "eq":
            return _same(answer, self.value)
        if self.op == "ne":
            return not _same(answer, self.value)
        if self.op in ORDER_OPERATORS:
            if not (_is_int(answer) and _is_int(self.value)):
                return False
            return {"lt": answer < self.value, "le": answer <= self.value,
                    "gt": answer > self.value, "ge": answer >= self.value}[self.op]
        if self.op == "in":
            return any(_same(answer, v) for v in self.value)
        if self.op == "not_in":
            return not any(_same(answer, v) for v in self.value)
        # contains: the answer is a multiple-choice selection
        return isinstance(answer, (list, tuple)) and any(_same(a, self.value) for a in answer)

    def comparisons(self) -> Iterator[tuple[tuple[PathSegment, ...], Comparison]]:
        """Yield ``(path relative to this condition, comparison)`` for every comparison inside."""
        yield (), self


class AllOf(_ConditionModel):
    """True when every condition in ``all`` is true."""

    all_: tuple[Condition, ...] = Field(alias="all", min_length=1)

    def evaluate(self, answers: Mapping[str, Any]) -> bool:
        return all(condition.evaluate(answers) for condition in self.all_)

    def comparisons(self) -> Iterator[tuple[tuple[PathSegment, ...], Comparison]]:
        for index, condition in enumerate(self.all_):
            for path, comparison in condition.comparisons():
                yield ("all", index, *path), comparison


class AnyOf(_ConditionModel):
    """True when at least one condition in ``any`` is true."""

    any_: tuple[Condition, ...] = Field(alias="any", min_length=1)

    def evaluate(self, answers: Mapping[str, Any]) -> bool:
        return any(condition.evaluate(answers) for condition in self.any_)

    def comparisons(self) -> Iterator[tuple[tuple[PathSegment, ...], Comparison]]:
        for index, condition in enumerate(self.any_):
            for path, comparison in condition.comparisons():
                yield ("any", index, *path), comparison


class Not(_ConditionModel):
    """True when the condition in ``not`` is false."""

    not_: Condition = Field(alias="not")

    def evaluate(self, answers: Mapping[str, Any]) -> bool:
        return not self.not_.evaluate(answers)

    def comparisons(self) -> Iterator[tuple[tuple[PathSegment, ...], Comparison]]:
        for path, comparison in self.not_.comparisons():
            yield ("not", *path), comparison


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, Mapping):
        for key, tag in (("all", "all_of"), ("any", "any_of"), ("not", "negation")):
            if key in value:
                return tag
        return "comparison"
    return {Comparison: "comparison", AllOf: "all_of", AnyOf: "any_of", Not: "negation"}.get(type(value))


Condition = Annotated[
    Union[
        Annotated[Comparison, Tag("comparison")],
        Annotated[AllOf, Tag("all_of")],
        Annotated[AnyOf, Tag("any_of")],
        Annotated[Not, Tag("negation")],
    ],
    Discriminator(
        _condition_kind,
        custom_error_type="invalid_condition",
        custom_error_message="a condition must be a mapping such as {item: nps, op: le, value: 6} "
                             "or one of {all: [...]}, {any: [...]}, {not: {...}}",
    ),
]

for _model in (AllOf, AnyOf, Not):
    _model.model_rebuild()

_CONDITION_ADAPTER: TypeAdapter[Condition] = TypeAdapter(Condition)


def parse_condition(data: Any) -> Comparison | AllOf | AnyOf | Not:
    """Validate condition data (as written in YAML) into a condition object."""
    return _CONDITION_ADAPTER.validate_python(data)
