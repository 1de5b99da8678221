"""Fieldwork progress: the invitation funnel, completion, durations and quality exclusions.

Counts come from the invitation timestamps (``opened_at``, ``started_at``, ``completed_at``), so
they agree with what respondents did; exclusions come from the quality gates of the questionnaire's
active factor model, which is where responses are judged.
"""
from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from survey_engine.models import Invitation, Questionnaire, QuestionnaireVersion, Response
from survey_engine.models.factors import FactorModelRecord

FUNNEL_STAGES = ("invited", "opened", "started", "completed")
PERIODS = ("week", "month")


@dataclass(frozen=True)
class Funnel:
    invited: int
    opened: int
    started: int
    completed: int

    def as_dict(self) -> dict[str, int]:
        return {stage: getattr(self, stage) for stage in FUNNEL_STAGES}

    @property
    def completion_rate(self) -> float | None:
        """Completed / invited."""
        return self.completed / self.invited if self.invited else None

    def step_rates(self) -> dict[str, float | None]:
        """Each stage as a share of the stage before it (opened / invited, …)."""
        values = self.as_dict()
        out: dict[str, float | None] = {}
        for before, stage in zip(FUNNEL_STAGES, FUNNEL_STAGES[1:]):
            out[stage] = values[stage] / values[before] if values[before] else None
        return out


@dataclass
class FieldworkReport:
    questionnaire_id: str | None
    version: int | None
    funnel: Funnel
    median_duration_seconds: float | None
    duration_quartiles: tuple[float, float] | None
    languages: dict[str, int]
    exclusions: dict[str, Any] | None
    exclusions_model_id: int | None
    over_time: list[dict[str, Any]] = field(default_factory=list)
    period: str = "week"


def _invitation_filter(questionnaire_id: str | None, version_id: int | None) -> list:
    conditions = []
    if questionnaire_id is not None:
        conditions.append(Invitation.questionnaire_id == questionnaire_id)
    if version_id is not None:
        conditions.append(Invitation.questionnaire_version_id == version_id)
    return conditions


def funnel_by_questionnaire(session: Session) -> list[dict[str, Any]]:
    """One row per questionnaire: title, funnel counts and completion rate."""
    rows = session.execute(
        sa.select(Invitation.questionnaire_id, Questionnaire.title, sa.func.count(),
                  sa.func.count(Invitation.opened_at), sa.func.count(Invitation.started_at),
                  sa.func.count(Invitation.completed_at))
        .join(Questionnaire, Questionnaire.id == Invitation.questionnaire_id)
        .group_by(Invitation.questionnaire_id, Questionnaire.title)
        .order_by(Invitation.questionnaire_id)
    ).all()
    out = []
    for questionnaire_id, title, invited, opened, started, completed in rows:
        funnel = Funnel(invited, opened, started, completed)
        out.append({"questionnaire_id": questionnaire_id, "title": title, **funnel.as_dict(),
                    "completion_rate": funnel.completion_rate})
    return out


def _period_start(value: datetime, period: str) -> date:
    day = value.date()
    if period == "month":
        return day.replace(day=1)
    return day - timedelta(days=day.weekday())


def _label(start: date, period: str) -> str:
    if period == "month":
        return start.strftime("%Y-%m")
    year, week, _ = start.isocalendar()
    return f"{year}-W{week:02d}"


def fieldwork_report(session: Session, questionnaire_id: str | None = None, version: int | None = None,
                     *, period: str = "week") -> FieldworkReport:
    """Funnel, completion rate, durations, exclusions and the funnel over time.

    ``version`` narrows to one questionnaire version (it needs ``questionnaire_id``); ``period``
    groups the timeline by ``week`` (ISO weeks, Monday first) or ``month``. Invitations count in
    the period they were sent; completions in the period they were completed.
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}")
    version_id = None
    if version is not None:
        if questionnaire_id is None:
            raise ValueError("a version needs a questionnaire")
        version_row = session.exec(select(QuestionnaireVersion).where(
            QuestionnaireVersion.questionnaire_id == questionnaire_id,
            QuestionnaireVersion.version == version)).first()
        if version_row is None:
            from survey_engine.services.survey import NotFound

            raise NotFound(f"questionnaire {questionnaire_id!r} has no version {version}", field="version")
        version_id = version_row.id
    conditions = _invitation_filter(questionnaire_id, version_id)
    invited, opened, started, completed = session.execute(
        sa.select(sa.func.count(), sa.func.count(Invitation.opened_at), sa.func.count(Invitation.started_at),
                  sa.func.count(Invitation.completed_at)).where(*conditions)
    ).one()
    funnel = Funnel(invited, opened, started, completed)

    response_conditions = [Response.status == "submitted"]
    if questionnaire_id is not None:
        response_conditions.append(QuestionnaireVersion.questionnaire_id == questionnaire_id)
    if version_id is not None:
        response_conditions.append(Response.questionnaire_version_id == version_id)
    submitted = session.execute(
        sa.select(Response.duration_seconds, Response.language)
        .join(QuestionnaireVersion, QuestionnaireVersion.id == Response.questionnaire_version_id)
        .where(*response_conditions)
    ).all()
    durations = sorted(d for d, _ in submitted if d is not None)
    median = statistics.median(durations) if durations else None
    quartiles = None
    if len(durations) >= 4:
        q = statistics.quantiles(durations, n=4)
        quartiles = (q[0], q[2])
    languages = dict(Counter(language for _, language in submitted).most_common())

    exclusions, model_id = None, None
    if questionnaire_id is not None:
        model = session.exec(select(FactorModelRecord).where(
            FactorModelRecord.questionnaire_id == questionnaire_id, FactorModelRecord.is_active)).first()
        if model is not None:
            exclusions = model.results.get("report", {}).get("exclusions")
            model_id = model.id

    timeline: dict[date, Counter] = {}
    stamps = session.execute(
        sa.select(Invitation.created_at, Invitation.opened_at, Invitation.started_at, Invitation.completed_at)
        .where(*conditions)
    ).all()
    for row in stamps:
        for stage, value in zip(FUNNEL_STAGES, row):
            if value is not None:
                timeline.setdefault(_period_start(value, period), Counter())[stage] += 1
    over_time = []
    if timeline:
        start, end = min(timeline), max(timeline)
        cursor = start
        while cursor <= end:
            counts = timeline.get(cursor, Counter())
            over_time.append({"period": _label(cursor, period), "start": cursor,
                              **{stage: counts.get(stage, 0) for stage in FUNNEL_STAGES}})
            cursor = (cursor + timedelta(days=32)).replace(day=1) if period == "month" else cursor + timedelta(days=7)
    return FieldworkReport(questionnaire_id, version, funnel, median, quartiles, languages, exclusions, model_id,
                           over_time, period)
