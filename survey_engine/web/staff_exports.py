"""Staff page: drift and exports. The drift audit's migration matrices, segment stability and
misfits; CRM export runs with downloads (and a form to run one); webhook deliveries and failures."""
from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from sqlmodel import select

from survey_engine.models.base import utcnow
from survey_engine.models.profiles import WebhookDelivery, WebhookSubscription
from survey_engine.services import audit as audit_service
from survey_engine.services import exports as export_service
from survey_engine.services import webhooks as webhook_service
from survey_engine.services.survey import ServiceError
from survey_engine.web import charts, get_session, settings
from survey_engine.web.staff_auth import current_staff, staff_required

bp = Blueprint("staff_exports", __name__, url_prefix="/staff/exports")

FORMATS = ("salesforce", "hubspot", "csv", "jsonl")
DIMENSION_TITLES = {"value_tier": "Value tier", "style_archetype": "Style archetype",
                    "relationship_style": "Relationship style"}
DEFAULT_AUDIT_DAYS = 90
RECENT_FAILURES = 50


def exports_dir() -> Path:
    """Where exports started from these pages are written, and the only place downloads come from."""
    return Path(settings().instance_dir) / "exports"


def _since() -> date:
    raw = request.args.get("since")
    if not raw:
        return date.today() - timedelta(days=DEFAULT_AUDIT_DAYS)
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ServiceError("since must be a date such as 2025-01-31", field="since") from None


def _migration_chart(dimension: str, matrix: dict[str, dict[str, int]], since: date):
    rows = list(matrix)
    columns = list(next(iter(matrix.values()), {}))
    if not rows or not columns:
        return None
    return charts.heatmap([[matrix[r][c] for c in columns] for r in rows], rows, columns,
                          title=f"{DIMENSION_TITLES[dimension]}: where clients moved",
                          description=f"Clients by their {DIMENSION_TITLES[dimension].lower()} on {since.isoformat()} "
                                      "(rows) and now (columns); the diagonal stayed put.",
                          row_header=f"On {since.isoformat()}", value_format="{:.0f}")


@bp.get("/")
@staff_required("exports")
def index():
    session = get_session()
    since = _since()
    audit = audit_service.drift_audit(session, since)
    matrices = {d: _migration_chart(d, values["matrix"], since) for d, values in audit["dimensions"].items()}
    runs = export_service.list_export_runs(session)
    downloadable = {run["id"] for run in runs if _download_path(run["file"]) is not None}
    subscriptions = [webhook_service.subscription_public(s, session)
                     for s in session.exec(select(WebhookSubscription).order_by(WebhookSubscription.name)).all()]
    names = {s["id"]: s["name"] for s in subscriptions}
    failures = session.exec(select(WebhookDelivery).where(WebhookDelivery.last_error.is_not(None))
                            .order_by(WebhookDelivery.id.desc()).limit(RECENT_FAILURES)).all()
    return render_template("staff/exports.html", active_section="exports", since=since, audit=audit,
                           matrices=matrices, titles=DIMENSION_TITLES, runs=runs, downloadable=downloadable,
                           formats=FORMATS, subscriptions=subscriptions, failures=failures, names=names,
                           dead_letters=webhook_service.list_dead_letters(session))


@bp.post("/run")
@staff_required("exports")
def run_export():
    fmt = request.form.get("format", "")
    if fmt not in FORMATS:
        raise ServiceError(f"format must be one of {', '.join(FORMATS)}", field="format")
    since = request.form.get("since", "last").strip() or "last"
    folder = exports_dir()
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{fmt}-{utcnow().strftime('%Y%m%dT%H%M%S%f')}.{'jsonl' if fmt == 'jsonl' else 'csv'}"
    result = export_service.export_profiles(current_app.extensions["engine"], fmt=fmt, out=out, since=since,
                                            triggered_by=f"staff page: {current_staff().email}")
    flash(f"Export {result.run_id} written: {result.rows} profiles ({result.without_consent} left out for consent"
          f"{f', {result.without_key} without a key' if result.without_key else ''}); next cursor {result.next_cursor}.")
    return redirect(url_for("staff_exports.index") + "#exports", code=303)


def _download_path(file: str | None) -> Path | None:
    """The export's file when it lies in the exports folder and exists, else None."""
    if not file:
        return None
    path = Path(file).resolve()
    folder = exports_dir().resolve()
    if folder not in path.parents or not path.is_file():
        return None
    return path


@bp.get("/runs/<int:run_id>/download")
@staff_required("exports")
def download(run_id: int):
    run = export_service.get_export_run(get_session(), run_id)
    path = _download_path(run.file) if run.status == "completed" else None
    if path is None:
        abort(404, f"export {run_id} has no file to download here (only exports written to {exports_dir()} can be "
                   "downloaded; the file may also have been moved)")
    mimetype = "application/x-ndjson" if path.suffix == ".jsonl" else "text/csv"
    return send_file(path, mimetype=mimetype, as_attachment=True, download_name=path.name, max_age=0)
