"""Definition files parsed into frozen, validated specs: questionnaires (and the shared error type).

Pure layer: no Flask, no SQL. Errors name the file, the path inside it and the reason.
"""
from survey_engine.definitions.answers import AnswerValidation, validate_answers
from survey_engine.definitions.conditions import AllOf, AnyOf, Comparison, Condition, Not, parse_condition
from survey_engine.definitions.errors import DefinitionError, DefinitionIssue
from survey_engine.definitions.questionnaire import (
    AttentionCheckItem,
    FreeTextItem,
    Item,
    LikertItem,
    MultipleChoiceItem,
    NpsItem,
    Option,
    PageSpec,
    QuestionnaireSpec,
    SingleChoiceItem,
    load_questionnaire,
    load_questionnaire_dir,
    parse_questionnaire,
    questionnaire_json_schema,
    write_questionnaire_schema,
)

__all__ = [
    "AllOf", "AnswerValidation", "AnyOf", "AttentionCheckItem", "Comparison", "Condition", "DefinitionError",
    "DefinitionIssue", "FreeTextItem", "Item", "LikertItem", "MultipleChoiceItem", "Not", "NpsItem", "Option",
    "PageSpec", "QuestionnaireSpec", "SingleChoiceItem", "load_questionnaire", "load_questionnaire_dir",
    "parse_condition", "parse_questionnaire", "questionnaire_json_schema", "validate_answers",
    "write_questionnaire_schema",
]
