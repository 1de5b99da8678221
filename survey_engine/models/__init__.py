"""SQLModel tables, one module per concern. Importing this package registers every table on
``SQLModel.metadata`` (Alembic and the tests rely on that)."""
from __future__ import annotations

import importlib
import pkgutil

from sqlmodel import SQLModel

from survey_engine.models.survey import (  # noqa: F401
    ROLES,
    ApiKey,
    Customer,
    Invitation,
    Questionnaire,
    QuestionnaireVersion,
    Response,
)

for _info in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_info.name}")

metadata = SQLModel.metadata
