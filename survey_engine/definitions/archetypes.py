"""Archetype catalogs: researcher-written YAML files under ``archetypes/`` parsed into frozen specs.

A catalog (style archetypes, relationship styles, or a set of proposals from discovery) lists
archetypes, each with names and descriptions in the catalog's languages, example phrases, an
expected factor profile (direction and strength on factors named after the questionnaire's
constructs) and engagement guidance. Loading gathers every problem of every file and raises one
:class:`~survey_engine.definitions.errors.DefinitionError`; each issue names the file, the path
inside it (``archetypes[2].profile.minimalism``) and the reason.

File format::

    catalog:
      id: style_archetypes
      version: 1
      kind: style                    # style | relationship | other
      languages: [en, it, fr]
      text_items: [style_words]      # free-text items the phrases describe (optional)
      proposal: false                # true for candidates written by discovery
    archetypes:
      - id: modern_minimalist
        name: {en: Modern minimalist, it: ..., fr: ...}
        description: {en: ..., it: ..., fr: ...}
        phrases: {en: [...], it: [...], fr: [...]}
        profile:
          minimalism: {direction: high, strength: 0.9}
          exclusivity_status: {direction: low, strength: 0.2}
        engagement:
          channels: [boutique, email]
          tone: {en: ..., it: ..., fr: ...}
          monthly_contact_cap: 2
"""
from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from survey_engine.definitions.errors import (
    DefinitionError,
    DefinitionIssue,
    PathSegment,
    format_path,
    issues_from_validation_error,
)
from survey_engine.definitions.source import YamlDocument, parse_yaml, read_yaml

#: Channels an engagement plan may name (survey channels plus outreach channels).
ENGAGEMENT_CHANNELS: tuple[str, ...] = (
    "boutique", "private_appointment", "events", "private_events", "phone", "email", "messaging",
    "direct_mail", "website", "app", "social_media",
)
#: Catalog kinds.
CATALOG_KINDS: tuple[str, ...] = ("style", "relationship", "other")
#: Highest monthly contact cap accepted (one contact a day).
MAX_MONTHLY_CONTACTS = 31

_ID_PATTERN = r"^[a-z][a-z0-9_]*$"
_LANG_PATTERN = r"^[a-z]{2}$"


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class FactorExpectation(_Spec):
    """Expected position of an archetype on one factor: ``direction`` and ``strength`` in (0, 1]."""

    direction: Literal["high", "low"]
    strength: float = Field(gt=0, le=1)

    @property
    def signed(self) -> float:
        """``+strength`` for high, ``-strength`` for low."""
        return self.strength if self.direction == "high" else -self.strength


class Engagement(_Spec):
    """How to engage members: preferred channels, tone of voice, and at most this many contacts a month."""

    channels: tuple[str, ...] = Field(min_length=1)
    tone: dict[str, str]
    monthly_contact_cap: int = Field(ge=0, le=MAX_MONTHLY_CONTACTS)


class DiscoveryEvidence(_Spec):
    """What discovery observed for a proposed archetype (present only when ``proposal`` is true)."""

    size: int = Field(ge=0)
    share: float = Field(ge=0, le=1)
    stability_ari: float | None = None
    nearest_archetype: str | None = None
    nearest_catalog: str | None = None
    nearest_similarity: float | None = None
    top_terms: tuple[str, ...] = ()
    representative_answers: tuple[str, ...] = ()


class ArchetypeSpec(_Spec):
    """One archetype of a catalog."""

    id: str = Field(pattern=_ID_PATTERN)
    name: dict[str, str]
    description: dict[str, str]
    phrases: dict[str, tuple[str, ...]]
    profile: dict[str, FactorExpectation] = Field(min_length=1)
    engagement: Engagement
    discovery: DiscoveryEvidence | None = None

    def all_phrases(self, languages: Iterable[str] | None = None) -> list[str]:
        """Example phrases in ``languages`` (all when None), in catalog order."""
        langs = list(self.phrases) if languages is None else [lang for lang in languages if lang in self.phrases]
        return [phrase for lang in langs for phrase in self.phrases[lang]]


class CatalogHeader(_Spec):
    id: str = Field(pattern=_ID_PATTERN)
    version: int = Field(ge=1)
    kind: Literal["style", "relationship", "other"] = "other"
    title: str | None = None
    languages: tuple[str, ...] = Field(min_length=1)
    text_items: tuple[str, ...] = ()
    proposal: bool = False


class ArchetypeCatalog(_Spec):
    """A validated archetype catalog (frozen)."""

    catalog: CatalogHeader
    archetypes: tuple[ArchetypeSpec, ...] = Field(min_length=2)
    _file: str = PrivateAttr(default="<data>")

    def model_post_init(self, context: Any) -> None:
        if isinstance(context, Mapping) and "file" in context:
            self._file = str(context["file"])

    @property
    def file(self) -> str:
        """The file the catalog was read from (``<data>`` for in-memory input)."""
        return self._file

    @property
    def id(self) -> str:
        return self.catalog.id

    @property
    def version(self) -> int:
        return self.catalog.version

    @property
    def archetype_ids(self) -> tuple[str, ...]:
        return tuple(a.id for a in self.archetypes)

    @property
    def factors(self) -> tuple[str, ...]:
        """Factors named in any profile, in first-mention order."""
        seen: dict[str, None] = {}
        for archetype in self.archetypes:
            for factor in archetype.profile:
                seen.setdefault(factor, None)
        return tuple(seen)

    @property
    def content_hash(self) -> str:
        """SHA-256 (hex) of the catalog's canonical JSON; changes with any edit of its content."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    @property
    def version_label(self) -> str:
        """``"<id>@v<version>+<first 8 hex of content_hash>"``: stored with every assignment."""
        return f"{self.id}@v{self.version}+{self.content_hash[:8]}"

    def archetype(self, archetype_id: str) -> ArchetypeSpec:
        for archetype in self.archetypes:
            if archetype.id == archetype_id:
                return archetype
        raise KeyError(f"catalog {self.id!r} has no archetype {archetype_id!r}")

    def profile_matrix(self, factors: Iterable[str] | None = None) -> np.ndarray:
        """Signed strengths, shape (n_archetypes, n_factors); 0 where a profile omits a factor."""
        factors = list(self.factors if factors is None else factors)
        matrix = np.zeros((len(self.archetypes), len(factors)))
        for row, archetype in enumerate(self.archetypes):
            for col, factor in enumerate(factors):
                expectation = archetype.profile.get(factor)
                if expectation is not None:
                    matrix[row, col] = expectation.signed
        return matrix

    def to_data(self) -> dict[str, Any]:
        """Plain data in the file format (for writing YAML)."""
        data = self.model_dump(mode="json", exclude_none=True)
        for archetype in data["archetypes"]:
            if archetype.get("discovery") is None:
                archetype.pop("discovery", None)
        return data


_FIELD_NAMES = frozenset(
    name
    for model in (ArchetypeCatalog, CatalogHeader, ArchetypeSpec, Engagement, FactorExpectation, DiscoveryEvidence)
    for name in model.model_fields
)


def _suggest(name: str, known: Collection[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _semantic_issues(data: Mapping[str, Any], known_factors: Collection[str] | None,
                     known_text_items: Collection[str] | None,
                     languages: Collection[str] | None) -> list[tuple[tuple[PathSegment, ...], str]]:
    """Cross-field checks pydantic cannot express, on the raw data so that they are reported even
    when other parts of the file fail validation; returns (path, reason) pairs."""
    problems: list[tuple[tuple[PathSegment, ...], str]] = []
    header = data.get("catalog") if isinstance(data.get("catalog"), Mapping) else {}
    raw_langs = header.get("languages")
    langs = [lang for lang in raw_langs if isinstance(lang, str)] if isinstance(raw_langs, list) else []
    if len(set(langs)) != len(langs):
        problems.append((("catalog", "languages"), "a language is listed twice"))
    for index, lang in enumerate(langs):
        if not (len(lang) == 2 and lang.isascii() and lang.isalpha() and lang.islower()):
            problems.append((("catalog", "languages", index), f"{lang!r} is not a two-letter language code"))
    if languages is not None and isinstance(raw_langs, list):
        for lang in sorted(set(languages) - set(langs)):
            problems.append((("catalog", "languages"), f"language '{lang}' of the questionnaire is missing"))
    text_items = header.get("text_items")
    if known_text_items is not None and isinstance(text_items, list):
        for index, item in enumerate(text_items):
            if isinstance(item, str) and item not in known_text_items:
                problems.append((("catalog", "text_items", index),
                                 f"unknown free-text item '{item}'{_suggest(item, known_text_items)}"))
    archetypes = data.get("archetypes")
    if not isinstance(archetypes, list):
        return problems
    first_index: dict[str, int] = {}
    for a_index, archetype in enumerate(archetypes):
        if not isinstance(archetype, Mapping):
            continue
        base: tuple[PathSegment, ...] = ("archetypes", a_index)
        archetype_id = archetype.get("id")
        if isinstance(archetype_id, str):
            if archetype_id in first_index:
                problems.append(((*base, "id"), f"duplicate archetype id '{archetype_id}' "
                                                 f"(also archetypes[{first_index[archetype_id]}])"))
            else:
                first_index[archetype_id] = a_index
        engagement = archetype.get("engagement") if isinstance(archetype.get("engagement"), Mapping) else {}
        for field_path, texts in (((*base, "name"), archetype.get("name")),
                                  ((*base, "description"), archetype.get("description")),
                                  ((*base, "phrases"), archetype.get("phrases")),
                                  ((*base, "engagement", "tone"), engagement.get("tone"))):
            if not isinstance(texts, Mapping) or not isinstance(raw_langs, list):
                continue
            for lang in langs:
                if lang not in texts:
                    problems.append((field_path, f"missing language '{lang}'"))
            for lang, value in texts.items():
                if lang not in langs:
                    problems.append(((*field_path, lang), f"language '{lang}' is not in catalog.languages {langs}"))
                elif isinstance(value, str) and not value.strip():
                    problems.append(((*field_path, lang), "must not be empty"))
                elif isinstance(value, list):
                    if not value:
                        problems.append(((*field_path, lang), "must have at least 1 phrase"))
                    for p_index, phrase in enumerate(value):
                        if isinstance(phrase, str) and not phrase.strip():
                            problems.append(((*field_path, lang, p_index), "must not be empty"))
        profile = archetype.get("profile")
        if known_factors is not None and isinstance(profile, Mapping):
            for factor in profile:
                if factor not in known_factors:
                    problems.append(((*base, "profile", factor),
                                     f"unknown factor or construct '{factor}'{_suggest(str(factor), known_factors)}; "
                                     f"the questionnaire defines: {', '.join(sorted(known_factors))}"))
        channels = engagement.get("channels")
        seen_channels: set[str] = set()
        for c_index, channel in enumerate(channels if isinstance(channels, list) else []):
            if not isinstance(channel, str):
                continue
            if channel not in ENGAGEMENT_CHANNELS:
                problems.append(((*base, "engagement", "channels", c_index),
                                 f"unknown channel '{channel}'{_suggest(channel, ENGAGEMENT_CHANNELS)}; "
                                 f"expected one of: {', '.join(ENGAGEMENT_CHANNELS)}"))
            elif channel in seen_channels:
                problems.append(((*base, "engagement", "channels", c_index), f"channel '{channel}' listed twice"))
            seen_channels.add(channel)
        if archetype.get("discovery") is not None and header.get("proposal") is not True:
            problems.append(((*base, "discovery"), "discovery evidence is only allowed in a proposal catalog "
                                                   "(catalog.proposal: true); remove it when accepting"))
    return problems


def _validate_document(document: YamlDocument, known_factors, known_text_items, languages):
    issues = list(document.issues)
    data = document.data
    if document.data is None and not issues:
        issues.append(DefinitionIssue(document.file, "", "file is empty"))
    if issues:
        return None, issues
    if not isinstance(data, Mapping):
        return None, [DefinitionIssue(document.file, "", "expected a mapping with 'catalog' and 'archetypes'")]
    catalog = None
    try:
        catalog = ArchetypeCatalog.model_validate(data, context={"file": document.file})
    except ValidationError as exc:
        issues += issues_from_validation_error(exc, document.file, known_fields=_FIELD_NAMES,
                                               locate=document.line_of)
    for path, reason in _semantic_issues(data, known_factors, known_text_items, languages):
        issues.append(DefinitionIssue(document.file, format_path(path), reason, document.line_of(path)))
    return (None if issues else catalog), issues


def validate_archetype_catalog_data(data: Any, file: str = "<data>", *, known_factors: Collection[str] | None,
                                    known_text_items: Collection[str] | None = None,
                                    languages: Collection[str] | None = None) -> list[DefinitionIssue]:
    """Every problem of an in-memory catalog (the file format as Python data); empty when valid."""
    return _validate_document(YamlDocument(file, data), known_factors, known_text_items, languages)[1]


def parse_archetype_catalog(text: str, file: str = "<data>", *, known_factors: Collection[str] | None,
                            known_text_items: Collection[str] | None = None,
                            languages: Collection[str] | None = None) -> ArchetypeCatalog:
    """Parse catalog YAML text.

    Parameters
    ----------
    text : str
        YAML source.
    file : str
        Name used in error messages.
    known_factors : collection of str or None
        Factor/construct names of the questionnaire the catalog is used with; a profile naming
        anything else is an error. ``None`` skips this check (catalog checked on its own).
    known_text_items : collection of str, optional
        Free-text item names; ``catalog.text_items`` must be among them.
    languages : collection of str, optional
        The questionnaire's languages; each must be among ``catalog.languages``.

    Raises
    ------
    DefinitionError
        Listing every problem (file, path, reason, line).
    """
    catalog, issues = _validate_document(parse_yaml(text, file), known_factors, known_text_items, languages)
    if issues:
        raise DefinitionError(issues)
    return catalog


def load_archetype_catalog(path: str | Path, *, known_factors: Collection[str] | None,
                           known_text_items: Collection[str] | None = None,
                           languages: Collection[str] | None = None) -> ArchetypeCatalog:
    """Read and validate one catalog file (see :func:`parse_archetype_catalog` for the arguments)."""
    catalog, issues = _validate_document(read_yaml(path), known_factors, known_text_items, languages)
    if issues:
        raise DefinitionError(issues)
    return catalog


def load_archetype_catalogs(directory: str | Path, *, known_factors: Collection[str] | None,
                            known_text_items: Collection[str] | None = None,
                            languages: Collection[str] | None = None) -> dict[str, ArchetypeCatalog]:
    """Load every ``*.yaml``/``*.yml`` catalog in ``directory``, keyed by catalog id.

    All files are checked before raising, so one :class:`DefinitionError` lists the problems of
    every file; two files with the same catalog id are an error too.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise DefinitionError([DefinitionIssue(str(directory), "", "catalog directory does not exist")])
    catalogs: dict[str, ArchetypeCatalog] = {}
    issues: list[DefinitionIssue] = []
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        catalog, file_issues = _validate_document(read_yaml(path), known_factors, known_text_items, languages)
        issues += file_issues
        if catalog is None:
            continue
        if catalog.id in catalogs:
            issues.append(DefinitionIssue(str(path), "catalog.id",
                                          f"catalog id '{catalog.id}' is also used by {catalogs[catalog.id].file}"))
            continue
        catalogs[catalog.id] = catalog
    if issues:
        raise DefinitionError(issues)
    return catalogs


def dump_archetype_catalog(catalog: ArchetypeCatalog | Mapping[str, Any]) -> str:
    """YAML text of a catalog in the file format (keys in schema order, Unicode kept)."""
    import yaml

    data = catalog.to_data() if isinstance(catalog, ArchetypeCatalog) else dict(catalog)
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)
