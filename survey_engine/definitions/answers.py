"""Checking a respondent's answers against a questionnaire: one set of rules for the HTML form and the API.

Answers are ``{item name: value}``: Likert, attention check and NPS an ``int``, single choice the
option value (``str``), multiple choice a list of option values, free text a ``str``. Items hidden
by ``show_if`` (evaluated in questionnaire order on the valid answers so far) are dropped without
error. ``None``, blank text and an empty selection count as "not answered" in both modes.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from survey_engine.definitions.conditions import is_answered

if TYPE_CHECKING:  # questionnaire.py re-exports validate_answers, so no runtime import back
    from survey_engine.definitions.questionnaire import (
        FreeTextItem,
        MultipleChoiceItem,
        QuestionnaireSpec,
        SingleChoiceItem,
    )

#: Key of ``AnswerValidation.errors`` used when the answers are not a mapping at all.
ROOT_ERROR_KEY = "_answers"

MESSAGES: dict[str, dict[str, str]] = {
    "en": {
        "not_mapping": "Answers must be an object that maps question names to answers.",
        "unknown": "This questionnaire has no question named '{name}'.",
        "required": "Please answer this question.",
        "whole_number": "Please choose a whole number from {low} to {high}.",
        "one_option": "Please choose one of the options offered.",
        "not_an_option": "'{value}' is not one of the options offered.",
        "option_list": "Please choose from the options offered.",
        "repeated": "Each option can be chosen only once.",
        "min_selected": "Please choose at least {count} of the options.",
        "max_selected": "Please choose no more than {count} of the options.",
        "text": "Please answer with text.",
        "too_long": "Please shorten your answer to {limit} characters or fewer (it has {length}).",
        "bad_characters": "Your answer contains invisible control characters; please remove them.",
    },
    "it": {
        "not_mapping": "Le risposte devono essere un oggetto che associa i nomi delle domande alle risposte.",
        "unknown": "Questo questionario non contiene una domanda chiamata '{name}'.",
        "required": "Per favore, risponda a questa domanda.",
        "whole_number": "Scelga un numero intero da {low} a {high}.",
        "one_option": "Scelga una delle opzioni proposte.",
        "not_an_option": "'{value}' non è tra le opzioni proposte.",
        "option_list": "Scelga tra le opzioni proposte.",
        "repeated": "Ogni opzione può essere scelta una sola volta.",
        "min_selected": "Scelga almeno {count} opzioni.",
        "max_selected": "Scelga al massimo {count} opzioni.",
        "text": "Risponda con un testo.",
        "too_long": "Accorci la risposta a {limit} caratteri al massimo (ora ne ha {length}).",
        "bad_characters": "La risposta contiene caratteri di controllo invisibili; la preghiamo di rimuoverli.",
    },
    "fr": {
        "not_mapping": "Les réponses doivent être un objet associant les noms des questions aux réponses.",
        "unknown": "Ce questionnaire ne comporte aucune question nommée « {name} ».",
        "required": "Merci de répondre à cette question.",
        "whole_number": "Veuillez choisir un nombre entier de {low} à {high}.",
        "one_option": "Veuillez choisir l’une des options proposées.",
        "not_an_option": "« {value} » ne fait pas partie des options proposées.",
        "option_list": "Veuillez choisir parmi les options proposées.",
        "repeated": "Chaque option ne peut être choisie qu’une seule fois.",
        "min_selected": "Veuillez choisir au moins {count} options.",
        "max_selected": "Veuillez choisir au plus {count} options.",
        "text": "Veuillez répondre par un texte.",
        "too_long": "Veuillez raccourcir votre réponse à {limit} caractères au maximum (elle en compte {length}).",
        "bad_characters": "Votre réponse contient des caractères de contrôle invisibles ; merci de les retirer.",
    },
}

_FORM_INTEGER = re.compile(r"[+-]?\d{1,6}")
#: Control characters (Unicode category Cc: U+0000-001F, U+007F-009F) other than tab and newline,
#: and lone surrogates (Cs): NUL breaks PostgreSQL text, surrogates cannot be encoded.
_UNSTORABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")


@dataclass(frozen=True)
class AnswerValidation:
    """Outcome of :func:`validate_answers`.

    Attributes
    ----------
    answers : dict
        Clean, typed answers to the visible items that passed (unanswered items are absent).
    errors : dict
        ``{item name: message}``; unknown names get their own entry, a non-mapping input the key
        ``"_answers"``.
    """

    answers: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


class _Invalid(Exception):
    def __init__(self, key: str, **params: Any):
        self.key, self.params = key, params


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _single(value: Any, from_form: bool) -> Any:
    # Form parsers give lists for repeated fields; a single-valued item takes a one-element list.
    if from_form and isinstance(value, (list, tuple)) and len(value) <= 1:
        return value[0] if value else None
    return value


def _scale(item, value: Any, from_form: bool) -> int:
    low, high = item.scale_range
    value = _single(value, from_form)
    if from_form and isinstance(value, str) and _FORM_INTEGER.fullmatch(value.strip()):
        value = int(value.strip())
    if not _is_int(value) or not low <= value <= high:
        raise _Invalid("whole_number", low=low, high=high)
    return value


def _single_choice(item: SingleChoiceItem, value: Any, from_form: bool) -> str:
    value = _single(value, from_form)
    if isinstance(value, str) and from_form:
        value = value.strip()
    if not isinstance(value, str):
        raise _Invalid("one_option")
    if value not in item.option_values:
        raise _Invalid("not_an_option", value=value[:50])
    return value


def _multiple_choice(item: MultipleChoiceItem, value: Any, from_form: bool) -> list[str]:
    if from_form and isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise _Invalid("option_list")
    chosen = [v.strip() for v in value if v.strip()] if from_form else list(value)
    if from_form:
        chosen = list(dict.fromkeys(chosen))  # a repeated checkbox value is the same choice
    elif len(set(chosen)) != len(chosen):
        raise _Invalid("repeated")
    for choice in chosen:
        if choice not in item.option_values:
            raise _Invalid("not_an_option", value=choice[:50])
    if item.min_selected is not None and len(chosen) < item.min_selected:
        raise _Invalid("min_selected", count=item.min_selected)
    if item.max_selected is not None and len(chosen) > item.max_selected:
        raise _Invalid("max_selected", count=item.max_selected)
    return chosen


def _free_text(item: FreeTextItem, value: Any, from_form: bool) -> str:
    value = _single(value, from_form)
    if not isinstance(value, str):
        raise _Invalid("text")
    text = value.replace("\r\n", "\n").replace("\r", "\n").strip()
    # Control characters (NUL breaks PostgreSQL text) and lone surrogates cannot be stored.
    if _UNSTORABLE.search(text):
        raise _Invalid("bad_characters")
    if len(text) > item.max_length:
        raise _Invalid("too_long", limit=item.max_length, length=len(text))
    return text


_CLEANERS = {
    "likert": _scale,
    "attention_check": _scale,
    "nps": _scale,
    "single_choice": _single_choice,
    "multiple_choice": _multiple_choice,
    "free_text": _free_text,
}


def _messages(lang: str | None) -> dict[str, str]:
    code = (lang or "en").split("-")[0].split("_")[0].lower()
    return MESSAGES.get(code, MESSAGES["en"])


def _blank(value: Any, from_form: bool) -> bool:
    if from_form and isinstance(value, (list, tuple)):
        return not any(is_answered(v) for v in value)
    return not is_answered(value)


def validate_answers(
    spec: QuestionnaireSpec,
    raw: Mapping[str, Any],
    *,
    partial: bool = False,
    from_form: bool = False,
    lang: str = "en",
) -> AnswerValidation:
    """Check and clean answers to ``spec``; never raises on bad input.

    Parameters
    ----------
    spec : QuestionnaireSpec
        The questionnaire answered.
    raw : mapping
        ``{item name: value}``; a werkzeug ``MultiDict`` (``request.form``) works as is. Callers strip their own control fields (CSRF token, buttons)
        first: every other unknown name is an error.
    partial : bool
        Saving progress: missing required answers are not errors (all others are).
    from_form : bool
        Values come from an HTML form: numbers as strings (``"5"``), a multiple choice as a list of
        strings or one string, surrounding spaces ignored. Otherwise (JSON) types must be exact:
        ``"5"`` or ``true`` is not a Likert answer.
    lang : str
        Language of the messages (``en``, ``it``, ``fr``; others fall back to English).

    Returns
    -------
    AnswerValidation
        Clean answers of the visible, valid items and ``{item name: message}`` errors.
    """
    messages = _messages(lang)
    if not isinstance(raw, Mapping):
        return AnswerValidation({}, {ROOT_ERROR_KEY: messages["not_mapping"]})
    known = {item.name for item in spec.items}
    errors = {str(name): messages["unknown"].format(name=str(name)[:50]) for name in raw if name not in known}
    answers: dict[str, Any] = {}
    for item in spec.items:
        if not item.is_visible(answers):
            continue
        if from_form and item.type == "multiple_choice" and hasattr(raw, "getlist"):
            value = raw.getlist(item.name)  # werkzeug MultiDict: .get() would keep only the first box
        else:
            value = raw.get(item.name)
        if _blank(value, from_form):
            if item.required and not partial:
                errors[item.name] = messages["required"]
            continue
        try:
            cleaned = _CLEANERS[item.type](item, value, from_form)
        except _Invalid as problem:
            errors[item.name] = messages[problem.key].format(**problem.params)
            continue
        if is_answered(cleaned):
            answers[item.name] = cleaned
        elif item.required and not partial:
            errors[item.name] = messages["required"]
    return AnswerValidation(answers, errors)
