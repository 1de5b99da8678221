"""Staff page: fieldwork. The invited → opened → started → completed funnel, completion rate,
median duration and quality exclusions, for all questionnaires and for one, over time."""
from __future__ import annotations

from flask import Blueprint, render_template, request

from survey_engine.services import fieldwork as service
from survey_engine.services import survey as survey_service
from survey_engine.services.survey import ServiceError
from survey_engine.web import charts, get_session
from survey_engine.web.staff_auth import staff_required

bp = Blueprint("staff_fieldwork", __name__, url_prefix="/staff/fieldwork")

STAGE_TITLES = {"invited": "Invited", "opened": "Opened the link", "started": "Started answering",
                "completed": "Completed"}
REASON_TITLES = {"failed_attention_check": "Failed the attention check", "straight_lining": "Straight-lining",
                 "too_fast": "Implausibly fast", "too_many_missing": "Too many missing answers"}


def _minutes(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    return f"{seconds / 60:.1f} min"


@bp.get("/")
@staff_required("fieldwork")
def index():
    session = get_session()
    questionnaires = survey_service.list_questionnaires(session)
    known = {q["id"]: [v["version"] for v in q["versions"]] for q in questionnaires}
    questionnaire_id = request.args.get("questionnaire") or (questionnaires[0]["id"] if questionnaires else None)
    if questionnaire_id is not None and questionnaire_id not in known:
        raise ServiceError(f"unknown questionnaire {questionnaire_id!r}", field="questionnaire")
    version = request.args.get("version", "")
    if version and (not (version.isascii() and version.isdigit()) or int(version) not in known.get(questionnaire_id, [])):
        raise ServiceError("choose a stored version, or all versions", field="version")
    period = request.args.get("period", "month")
    if period not in service.PERIODS:
        raise ServiceError(f"period must be one of {', '.join(service.PERIODS)}", field="period")
    overview = service.funnel_by_questionnaire(session)
    context = {"active_section": "fieldwork", "questionnaires": questionnaires, "overview": overview,
               "questionnaire_id": questionnaire_id, "version": version, "period": period,
               "versions": known.get(questionnaire_id, []), "minutes": _minutes, "stage_titles": STAGE_TITLES}
    if questionnaire_id is None:
        return render_template("staff/fieldwork.html", report=None, **context)
    report = service.fieldwork_report(session, questionnaire_id, int(version) if version else None, period=period)
    funnel = report.funnel.as_dict()
    rates = report.funnel.step_rates()
    invited = funnel["invited"] or 1
    funnel_chart = charts.bar_chart(
        [STAGE_TITLES[s] for s in funnel], list(funnel.values()), title="Invitation funnel",
        description="Invitations sent, opened, started and completed: "
                    + ", ".join(f"{STAGE_TITLES[s].lower()} {n}" for s, n in funnel.items()) + ".",
        value_label="Invitations", extra_columns=("Share of invited", "Share of previous stage"),
        extra=[(f"{n / invited:.0%}", "—" if rates.get(s) is None else f"{rates[s]:.0%}")
               for s, n in funnel.items()])
    exclusions_chart = None
    if report.exclusions:
        reasons = report.exclusions["by_reason"]
        exclusions_chart = charts.bar_chart(
            [REASON_TITLES.get(r, r) for r in reasons], list(reasons.values()), title="Exclusions by reason",
            description=f"{report.exclusions['n_excluded']} of {report.exclusions['n_total']} submitted responses "
                        "were excluded from the active factor model by the quality gates; a response may fail "
                        "several gates.", value_label="Responses", colors=["#a4161a"] * len(reasons))
    time_chart = None
    if report.over_time:
        time_chart = charts.time_chart(
            [row["period"] for row in report.over_time],
            {STAGE_TITLES[s]: [row[s] for row in report.over_time] for s in service.FUNNEL_STAGES},
            title=f"Fieldwork per {period}",
            description=f"Invitations sent, opened, started and completed per {period}, from "
                        f"{report.over_time[0]['period']} to {report.over_time[-1]['period']}.",
            value_label="Invitations")
    return render_template("staff/fieldwork.html", report=report, funnel=funnel, funnel_chart=funnel_chart,
                           exclusions_chart=exclusions_chart, time_chart=time_chart, reason_titles=REASON_TITLES,
                           **context)
