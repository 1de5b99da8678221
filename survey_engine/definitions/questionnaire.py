"""Questionnaire definitions: YAML files under ``questionnaires/`` parsed into frozen, validated specs.

A questionnaire has pages of items; an item's ``name`` ties the definition, stored answers and the
analysis together (answers are ``{item name: value}``). Loading reports every problem of every
file at once (:class:`~survey_engine.definitions.errors.DefinitionError`). Answer checking lives in
:mod:`survey_engine.definitions.answers`, branching conditions in
:mod:`survey_engine.definitions.conditions`.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, Union

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from survey_engine.definitions.answers import AnswerValidation, validate_answers
from survey_engine.definitions.conditions import (
    CONDITION_FIELDS,
    CONDITION_TAGS,
    PRESENCE_OPERATORS,
    Condition,
    parse_condition,
)
from survey_engine.definitions.errors import (
    PATTERN_DESCRIPTIONS,
    DefinitionError,
    DefinitionIssue,
    PathSegment,
    format_path,
    issues_from_validation_error,
)
from survey_engine.definitions.source import read_yaml

NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
QUESTIONNAIRE_ID_PATTERN = r"^[a-z][a-z0-9_-]*$"
OPTION_VALUE_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
LANGUAGE_PATTERN = r"^[a-z]{2,3}(-[A-Z]{2})?$"
PATTERN_DESCRIPTIONS.update({
    NAME_PATTERN: "use lower-case letters, digits and underscores, starting with a letter",
    QUESTIONNAIRE_ID_PATTERN: "use lower-case letters, digits, '_' and '-', starting with a letter",
    OPTION_VALUE_PATTERN: "use lower-case letters, digits, '_' and '-'",
    LANGUAGE_PATTERN: "use a language code such as 'en', 'it' or 'pt-BR'",
})

Name = Annotated[str, StringConstraints(strict=True, pattern=NAME_PATTERN, max_length=64)]
QuestionnaireId = Annotated[str, StringConstraints(strict=True, pattern=QUESTIONNAIRE_ID_PATTERN, max_length=64)]
OptionValue = Annotated[str, StringConstraints(strict=True, pattern=OPTION_VALUE_PATTERN, max_length=64)]
LanguageCode = Annotated[str, StringConstraints(strict=True, pattern=LANGUAGE_PATTERN)]
NonEmptyText = Annotated[str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=10_000)]
StrictInt = Annotated[int, Field(strict=True)]

#: A text in every declared language: ``{en: "...", it: "...", fr: "..."}``.
LocalizedText = Annotated[dict[LanguageCode, NonEmptyText],
                          Field(description="The text in every language listed in `languages`.")]
#: Scale point labels per language, lowest point first: ``{en: [...], it: [...]}``.
PointLabels = Annotated[dict[LanguageCode, tuple[NonEmptyText, ...]],
                        Field(description="Per language, one label per scale point, lowest first.")]

ITEM_TYPES = ("likert", "attention_check", "single_choice", "multiple_choice", "free_text", "nps")
NPS_RANGE = (0, 10)
#: Fields holding translated texts; each must have exactly the declared languages.
LOCALIZED_FIELDS = ("title", "description", "consent", "thank_you", "text", "help", "label",
                    "low_label", "high_label", "point_labels")
#: Value operators a ``show_if`` may apply to an item of each type (presence tests work on all).
OPERATORS_BY_ITEM_TYPE = {
    "likert": ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in"),
    "attention_check": ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in"),
    "nps": ("eq", "ne", "lt", "le", "gt", "ge", "in", "not_in"),
    "single_choice": ("eq", "ne", "in", "not_in"),
    "multiple_choice": ("contains",),
    "free_text": (),
}
__all__ = [  # validate_answers lives in answers.py; re-exported so callers need one import
    "AnswerValidation", "AttentionCheckItem", "FreeTextItem", "Item", "LikertItem", "MultipleChoiceItem",
    "NpsItem", "Option", "PageSpec", "QuestionnaireSpec", "SingleChoiceItem", "load_questionnaire",
    "load_questionnaire_dir", "parse_questionnaire", "questionnaire_files", "questionnaire_json_schema",
    "validate_answers", "write_questionnaire_schema",
]
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "questionnaires" / "questionnaire.schema.json"
# Context flag: the loader runs the cross-item checks itself (to report each with its own path).
_CHECKED_BY_LOADER = "cross_checks_done_by_loader"


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Option(_Spec):
    """One choice of a single- or multiple-choice item."""

    value: OptionValue = Field(description="Stored answer value, e.g. `leather_goods`.")
    label: LocalizedText


class _Item(_Spec):
    type: str
    name: Name = Field(description="Stable identifier of the item; answers are stored under it.")
    text: LocalizedText
    help: LocalizedText | None = None
    required: StrictBool = True
    show_if: Condition | None = Field(
        default=None, description="Show the item only when this condition on EARLIER answers holds.")

    def is_visible(self, answers: Mapping[str, Any]) -> bool:
        """Whether the item is shown, given the answers to earlier items."""
        return self.show_if is None or self.show_if.evaluate(answers)


class _ScaleItem(_Item):
    points: Literal[5, 7] = Field(description="Number of scale points (answers are 1..points).")
    point_labels: PointLabels

    @field_validator("point_labels")
    @classmethod
    def _one_label_per_point(cls, labels: dict[str, tuple[str, ...]], info: ValidationInfo):
        points = info.data.get("points")
        if points is not None:
            wrong = [f"'{lang}' has {len(texts)}" for lang, texts in labels.items() if len(texts) != points]
            if wrong:
                raise ValueError(f"need {points} labels (one per point) in every language; {', '.join(wrong)}")
        return labels

    @property
    def scale_range(self) -> tuple[int, int]:
        """Smallest and largest valid answer."""
        return 1, self.points


with warnings.catch_warnings():
    # `construct` is the natural name of the tag; it shadows pydantic's deprecated BaseModel.construct().
    warnings.filterwarnings("ignore", message='Field name "construct"', category=UserWarning)

    class LikertItem(_ScaleItem):
        """Agreement on a 5- or 7-point scale, tagged with the construct it measures."""

        type: Literal["likert"]
        construct: Name | None = Field(default=None, description="Construct (factor) the item measures.")
        reverse: StrictBool = Field(default=False,
                                    description="Reverse keyed: agreement means LESS of the construct.")

        def keyed(self, value: int) -> int:
            """The answer scored in the construct's direction (``points + 1 - value`` when reverse keyed)."""
            return self.points + 1 - value if self.reverse else value


class AttentionCheckItem(_ScaleItem):
    """A Likert-style item with one right answer, used to flag careless responding."""

    type: Literal["attention_check"]
    expected: StrictInt = Field(description="The answer an attentive respondent gives (1..points).")

    @field_validator("expected")
    @classmethod
    def _expected_on_scale(cls, expected: int, info: ValidationInfo) -> int:
        points = info.data.get("points")
        if points is not None and not 1 <= expected <= points:
            raise ValueError(f"expected answer {expected} is not on the 1–{points} scale")
        return expected


class _ChoiceItem(_Item):
    options: tuple[Option, ...] = Field(min_length=2)

    @field_validator("options")
    @classmethod
    def _unique_values(cls, options: tuple[Option, ...]) -> tuple[Option, ...]:
        values = [option.value for option in options]
        duplicates = sorted({value for value in values if values.count(value) > 1})
        if duplicates:
            raise ValueError(f"duplicate option value{'s' if len(duplicates) > 1 else ''}: "
                             + ", ".join(f"'{value}'" for value in duplicates))
        return options

    @property
    def option_values(self) -> tuple[str, ...]:
        return tuple(option.value for option in self.options)


class SingleChoiceItem(_ChoiceItem):
    """Pick exactly one option; the answer is the option's value."""

    type: Literal["single_choice"]


class MultipleChoiceItem(_ChoiceItem):
    """Pick any number of options (within ``min_selected``/``max_selected``); the answer is a list of values."""

    type: Literal["multiple_choice"]
    min_selected: Annotated[int, Field(strict=True, ge=1)] | None = None
    max_selected: Annotated[int, Field(strict=True, ge=1)] | None = None

    @field_validator("min_selected", "max_selected")
    @classmethod
    def _selection_bounds(cls, bound: int | None, info: ValidationInfo) -> int | None:
        options = info.data.get("options")
        if bound is not None and options is not None and bound > len(options):
            raise ValueError(f"{info.field_name} is {bound} but there are only {len(options)} options")
        low = info.data.get("min_selected")
        if info.field_name == "max_selected" and bound is not None and low is not None and bound < low:
            raise ValueError(f"max_selected ({bound}) is smaller than min_selected ({low})")
        return bound


class FreeTextItem(_Item):
    """An open answer. Unlike other items, free text is optional unless ``required: true``."""

    type: Literal["free_text"]
    required: StrictBool = False
    max_length: Annotated[int, Field(strict=True, ge=1, le=20_000)] = Field(
        default=1000, description="Maximum number of characters (after trimming spaces).")


class NpsItem(_Item):
    """Net Promoter Score: 0 (not at all likely) to 10 (extremely likely)."""

    type: Literal["nps"]
    low_label: LocalizedText
    high_label: LocalizedText

    @property
    def scale_range(self) -> tuple[int, int]:
        return NPS_RANGE


Item = Annotated[
    Union[LikertItem, AttentionCheckItem, SingleChoiceItem, MultipleChoiceItem, FreeTextItem, NpsItem],
    Field(discriminator="type"),
]
ScaleItem = LikertItem | AttentionCheckItem | NpsItem


class PageSpec(_Spec):
    """One page (screen) of the questionnaire."""

    id: Name
    title: LocalizedText
    items: tuple[Item, ...] = Field(min_length=1)


T = TypeVar("T")


class QuestionnaireSpec(_Spec):
    """A validated questionnaire definition (immutable).

    ``version`` is the label written in the file; the storage layer compares :meth:`content_hash`
    with the stored one to decide when a changed file needs a new stored version.
    """

    id: QuestionnaireId
    version: Annotated[int, Field(strict=True, ge=1)]
    languages: tuple[LanguageCode, ...] = Field(min_length=1, description="Languages; the first is the default.")
    title: LocalizedText
    description: LocalizedText | None = None
    consent: LocalizedText
    thank_you: LocalizedText
    pages: tuple[PageSpec, ...] = Field(min_length=1)

    _items: tuple[Any, ...] = PrivateAttr(default=())
    _by_name: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator("languages")
    @classmethod
    def _unique_languages(cls, languages: tuple[str, ...]) -> tuple[str, ...]:
        repeated = sorted({lang for lang in languages if languages.count(lang) > 1})
        if repeated:
            raise ValueError("language listed more than once: " + ", ".join(repeated))
        return languages

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> QuestionnaireSpec:
        if not (info.context or {}).get(_CHECKED_BY_LOADER):
            problems = _cross_problems(self.to_dict())
            if problems:
                raise ValueError("; ".join(f"{format_path(path)}: {reason}" for path, reason in problems))
        return self

    def model_post_init(self, context: Any) -> None:
        self._items = tuple(item for page in self.pages for item in page.items)
        self._by_name = {item.name: item for item in self._items}

    # ----- navigation -------------------------------------------------------------------------
    @property
    def default_language(self) -> str:
        return self.languages[0]

    @property
    def items(self) -> tuple[Any, ...]:
        """All items, page by page, in questionnaire order."""
        return self._items

    def item(self, name: str):
        """The item called ``name``; ``KeyError`` naming the questionnaire if there is none."""
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"questionnaire '{self.id}' has no item '{name}'") from None

    @property
    def likert_items(self) -> tuple[LikertItem, ...]:
        """Likert items in order (attention checks excluded: they measure care, not a construct)."""
        return tuple(item for item in self._items if isinstance(item, LikertItem))

    @property
    def constructs(self) -> dict[str, list[str]]:
        """``{construct: [item names]}`` in order of first appearance."""
        out: dict[str, list[str]] = {}
        for item in self.likert_items:
            if item.construct is not None:
                out.setdefault(item.construct, []).append(item.name)
        return out

    @property
    def reverse_keyed(self) -> frozenset[str]:
        """Names of reverse-keyed Likert items."""
        return frozenset(item.name for item in self.likert_items if item.reverse)

    # ----- languages ---------------------------------------------------------------------------
    def resolve_language(self, requested: str | None) -> str:
        """A declared language matching ``requested`` (``it``, ``it-IT``, ``IT``) or the default."""
        if requested:
            wanted = requested.strip().replace("_", "-")
            for candidate in (wanted, wanted.lower(), wanted.split("-")[0].lower()):
                if candidate in self.languages:
                    return candidate
        return self.default_language

    def text(self, mapping: Mapping[str, T] | None, lang: str | None = None) -> T | str:
        """The translation of ``mapping`` in ``lang``, falling back to the default language."""
        if not mapping:
            return ""
        chosen = self.resolve_language(lang)
        if chosen in mapping:
            return mapping[chosen]
        return mapping.get(self.default_language, next(iter(mapping.values())))

    # ----- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible dict (as stored in the database); :meth:`from_dict` reads it back."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, source: str = "<stored questionnaire>") -> QuestionnaireSpec:
        """Validate a dict (e.g. from :meth:`to_dict` or a JSON upload); raises ``DefinitionError``."""
        return parse_questionnaire(data, source=source)

    def content_hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the whole spec; any change of content changes it."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


# ----- checks across items (run on raw data, so they also report when other parts are broken) ----
Problem = tuple[tuple[PathSegment, ...], str]


def _sequence(value: Any) -> Sequence[Any]:
    return value if isinstance(value, (list, tuple)) else ()


def _translation_problems(container: Mapping[str, Any], path: tuple[PathSegment, ...],
                          languages: Sequence[str]) -> list[Problem]:
    problems = []
    for field in LOCALIZED_FIELDS:
        mapping = container.get(field)
        if not isinstance(mapping, Mapping):
            continue
        missing = [lang for lang in languages if lang not in mapping]
        undeclared = [str(lang) for lang in mapping if lang not in languages]
        if missing:
            problems.append(((*path, field), f"missing translation{'s' if len(missing) > 1 else ''} for "
                             + ", ".join(f"'{lang}'" for lang in missing)))
        if undeclared:
            problems.append(((*path, field), "text in a language not listed in `languages`: "
                             + ", ".join(f"'{lang}'" for lang in undeclared)
                             + f" (declared: {', '.join(languages)})"))
    return problems


def _scale_range(item: Mapping[str, Any]) -> tuple[int, int] | None:
    if item.get("type") == "nps":
        return NPS_RANGE
    points = item.get("points")
    return (1, points) if points in (5, 7) and not isinstance(points, bool) else None


def _comparison_problems(comparison, target: Mapping[str, Any]) -> list[Problem]:
    kind, name, op = target.get("type"), comparison.item, comparison.op
    allowed = OPERATORS_BY_ITEM_TYPE.get(kind) if isinstance(kind, str) else None
    if op in PRESENCE_OPERATORS or allowed is None:
        return []
    if op not in allowed:
        usable = ", ".join([*allowed, *PRESENCE_OPERATORS])
        return [(("op",), f"operator '{op}' cannot be used with {kind} item '{name}' (usable: {usable})")]
    values = comparison.value if isinstance(comparison.value, tuple) else (comparison.value,)
    problems: list[Problem] = []
    scale = _scale_range(target)
    if kind in ("likert", "attention_check", "nps"):
        for value in values:
            if not isinstance(value, int):
                problems.append((("value",), f"{value!r} is not a whole number; {kind} item '{name}' is answered "
                                 "with numbers"))
            elif scale is not None and not scale[0] <= value <= scale[1]:
                problems.append((("value",), f"{value} is outside the {scale[0]}–{scale[1]} scale of {kind} item "
                                 f"'{name}'"))
    else:
        options = [o.get("value") for o in _sequence(target.get("options")) if isinstance(o, Mapping)]
        for value in values:
            if value not in options:
                problems.append((("value",), f"{value!r} is not an option of '{name}' (options: "
                                 + ", ".join(str(option) for option in options) + ")"))
    return problems


def _cross_problems(data: Mapping[str, Any]) -> list[Problem]:
    """Problems that involve several parts of the file: translations, duplicates, show_if references."""
    problems: list[Problem] = []
    languages = [lang for lang in _sequence(data.get("languages")) if isinstance(lang, str)]
    if languages:
        problems += _translation_problems(data, (), languages)

    page_ids: dict[str, int] = {}
    records: list[tuple[tuple[PathSegment, ...], Mapping[str, Any]]] = []
    for page_index, page in enumerate(_sequence(data.get("pages"))):
        if not isinstance(page, Mapping):
            continue
        page_id = page.get("id")
        if isinstance(page_id, str):
            if page_id in page_ids:
                problems.append((("pages", page_index, "id"),
                                 f"duplicate page id '{page_id}' (first used by pages[{page_ids[page_id]}])"))
            else:
                page_ids[page_id] = page_index
        if languages:
            problems += _translation_problems(page, ("pages", page_index), languages)
        for item_index, item in enumerate(_sequence(page.get("items"))):
            if isinstance(item, Mapping):
                records.append((("pages", page_index, "items", item_index), item))

    first_path: dict[str, tuple[PathSegment, ...]] = {}
    for path, item in records:
        name = item.get("name")
        if isinstance(name, str):
            if name in first_path:
                problems.append(((*path, "name"), f"duplicate item name '{name}' (first used by "
                                 f"{format_path(first_path[name])})"))
            else:
                first_path[name] = path

    earlier: dict[str, Mapping[str, Any]] = {}
    for path, item in records:
        if languages:
            problems += _translation_problems(item, path, languages)
            for option_index, option in enumerate(_sequence(item.get("options"))):
                if isinstance(option, Mapping):
                    problems += _translation_problems(option, (*path, "options", option_index), languages)
        name = item.get("name")
        if item.get("show_if") is not None:
            try:
                condition = parse_condition(item["show_if"])
            except ValidationError:
                condition = None  # reported by the structural validation
            for relative, comparison in condition.comparisons() if condition is not None else ():
                where = (*path, "show_if", *relative)
                target = comparison.item
                if target in earlier:
                    problems += [((*where, *field), reason)
                                 for field, reason in _comparison_problems(comparison, earlier[target])]
                elif target == name:
                    problems.append(((*where, "item"), f"refers to the item itself ('{target}'); a condition "
                                     "may only use answers to earlier items"))
                elif target in first_path:
                    problems.append(((*where, "item"), f"refers to later item '{target}'; a condition may only "
                                     "use answers to earlier items"))
                else:
                    problems.append(((*where, "item"), f"refers to unknown item '{target}'"))
        if isinstance(name, str) and name not in earlier:
            earlier[name] = item
    return problems


# ----- loading ---------------------------------------------------------------------------------
_KNOWN_FIELDS = frozenset(
    name
    for model in (QuestionnaireSpec, PageSpec, Option, LikertItem, AttentionCheckItem, SingleChoiceItem,
                  MultipleChoiceItem, FreeTextItem, NpsItem)
    for name in model.model_fields
) | {"item", "op", "value", "all", "any", "not"}


def _validate(data: Any, file: str, locate=None) -> tuple[QuestionnaireSpec | None, list[DefinitionIssue]]:
    if not isinstance(data, Mapping):
        reason = ("the file is empty" if data is None else "the top level must be a mapping") + \
            " (expected id, version, languages, title, consent, thank_you and pages)"
        return None, [DefinitionIssue(file, "", reason)]
    issues: list[DefinitionIssue] = []
    spec = None
    try:
        spec = QuestionnaireSpec.model_validate(data, context={_CHECKED_BY_LOADER: True})
    except ValidationError as exc:
        issues += issues_from_validation_error(exc, file, tags=frozenset(ITEM_TYPES) | CONDITION_TAGS,
                                               union_fields=CONDITION_FIELDS,
                                               known_fields=_KNOWN_FIELDS, locate=locate)
    issues += [DefinitionIssue(file, format_path(path), reason, locate(path) if locate else None)
               for path, reason in _cross_problems(data)]
    return (None if issues else spec), issues


def parse_questionnaire(data: Mapping[str, Any], *, source: str = "<data>") -> QuestionnaireSpec:
    """Validate questionnaire data (parsed YAML/JSON); raise ``DefinitionError`` listing every problem."""
    spec, issues = _validate(data, source)
    if issues:
        raise DefinitionError(issues)
    return spec


def _load(path: str | Path) -> tuple[QuestionnaireSpec | None, Any, list[DefinitionIssue]]:
    document = read_yaml(path)
    if document.data is None and document.issues:
        return None, None, document.issues
    spec, issues = _validate(document.data, document.file, document.line_of)
    issues = sorted(document.issues + issues, key=lambda issue: issue.line or 0)  # file order
    return (None if issues else spec), document.data, issues


def load_questionnaire(path: str | Path) -> QuestionnaireSpec:
    """Load one questionnaire YAML file; raise ``DefinitionError`` listing every problem in it."""
    spec, _, issues = _load(path)
    if issues:
        raise DefinitionError(issues)
    return spec


def questionnaire_files(directory: str | Path) -> list[Path]:
    """The ``*.yaml`` and ``*.yml`` files directly in ``directory``, sorted by name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise NotADirectoryError(f"questionnaire directory not found: {directory}")
    return sorted(p for p in directory.iterdir() if p.is_file() and p.suffix in (".yaml", ".yml"))


def load_questionnaire_dir(directory: str | Path) -> list[QuestionnaireSpec]:
    """Load every questionnaire in ``directory`` (sorted by file name).

    Problems of all files, and questionnaire ids used by two files, are gathered into one
    ``DefinitionError``; nothing is returned unless every file is valid.
    """
    specs: list[QuestionnaireSpec] = []
    issues: list[DefinitionIssue] = []
    owner: dict[str, str] = {}
    for path in questionnaire_files(directory):
        spec, data, file_issues = _load(path)
        issues += file_issues
        questionnaire_id = data.get("id") if isinstance(data, Mapping) else None
        if isinstance(questionnaire_id, str):
            if questionnaire_id in owner:
                document_line = read_yaml(path).line_of(("id",))
                issues.append(DefinitionIssue(str(path), "id", f"questionnaire id '{questionnaire_id}' is "
                                              f"already used by {owner[questionnaire_id]}", document_line))
            else:
                owner[questionnaire_id] = str(path)
        if spec is not None:
            specs.append(spec)
    if issues:
        raise DefinitionError(issues)
    return specs


# ----- JSON Schema for editors -----------------------------------------------------------------
def questionnaire_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of a questionnaire file, generated from the models.

    It checks structure and types as an editor aid; cross-item rules (translations, references,
    duplicates) are only checked by :func:`load_questionnaire`.
    """
    schema = QuestionnaireSpec.model_json_schema(by_alias=True, mode="validation")
    schema["description"] = ("A questionnaire for survey-engine: pages of items answered by customers. "
                             "Validate fully with `python -m survey_engine.definitions check FILE`.")
    schema["title"] = "Questionnaire"
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def write_questionnaire_schema(path: str | Path = SCHEMA_PATH) -> Path:
    """Write :func:`questionnaire_json_schema` to ``path`` (default ``questionnaires/questionnaire.schema.json``)."""
    path = Path(path)
    path.write_text(json.dumps(questionnaire_json_schema(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path
