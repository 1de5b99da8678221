"""Drift & exports page: the audit's migration matrix, export runs with downloads, webhook failures."""
from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta

from sqlmodel import func, select

from survey_engine.models.profiles import Profile
from survey_engine.services import audit as audit_service
from tests.helpers import csrf_from
from tests.web.staff_support import fit_clv, make_staff, seed_population, sign_in


def _profiles(db_engine, tmp_path, customers=80):
    from survey_engine.services.profiles import refresh_profiles

    seed_population(db_engine, tmp_path, customers=customers)
    fit_clv(db_engine)
    refresh_profiles(db_engine)


def test_drift_matrix_and_stability_show_the_audit(client, db_engine, session, tmp_path):
    _profiles(db_engine, tmp_path)
    make_staff(db_engine, "marketer")
    sign_in(client, "marketer")
    tomorrow = date.today() + timedelta(days=1)
    html = client.get(f"/staff/exports/?since={tomorrow.isoformat()}").get_data(as_text=True)
    report = audit_service.drift_audit(session, tomorrow)
    assert f"{report['n_profiles']} profiles; {report['n_with_history_before']} already had a segment" in html
    assert "Value tier: where clients moved</title>" in html
    counts = dict(session.exec(select(Profile.value_tier, func.count()).group_by(Profile.value_tier)).all())
    table = html[html.index("Data behind “Value tier: where clients moved”"):]
    table = table[:table.index("</table>")]
    for tier, n in counts.items():
        if tier is None:
            continue
        row = re.search(rf'<th scope="row">{tier}</th>(.*?)</tr>', table, re.S).group(1)
        cells = [int(v) for v in re.findall(r'<td class="num">(\d+)</td>', row)]
        assert sum(cells) == n and n in cells  # nobody moved since "tomorrow": all on the diagonal
    stability = report["dimensions"]["value_tier"]["stability"]
    for segment, values in stability.items():
        if values["stability"] is not None:
            assert re.search(rf'<th scope="row">{segment}</th>\s*<td class="num">{values["n_start"]}</td>', html)
    bad = client.get("/staff/exports/?since=last-week")
    assert bad.status_code == 400 and "<strong>since</strong>" in bad.get_data(as_text=True)


def test_export_run_from_the_page_can_be_downloaded(client, db_engine, session, tmp_path, settings):
    from survey_engine.services.exports import export_profiles

    _profiles(db_engine, tmp_path, customers=60)
    elsewhere = tmp_path / "cli-export.csv"
    export_profiles(db_engine, fmt="csv", out=elsewhere, triggered_by="cli")
    make_staff(db_engine, "marketer")
    sign_in(client, "marketer")
    page = client.get("/staff/exports/").get_data(as_text=True)
    assert re.search(r'<th scope="row" data-sort="1">1</th>.*?elsewhere', page, re.S)
    assert client.get("/staff/exports/runs/1/download").status_code == 404
    done = client.post("/staff/exports/run", data={"format": "hubspot", "since": "0", "csrf_token": csrf_from(page)})
    assert done.status_code == 303
    page = client.get(done.headers["Location"]).get_data(as_text=True)
    written = int(re.search(r"Export 2 written: (\d+) profiles", page).group(1))
    assert written > 0
    download = client.get("/staff/exports/runs/2/download")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert download.headers["Content-Disposition"].startswith("attachment; filename=hubspot-")
    rows = list(csv.DictReader(io.StringIO(download.get_data(as_text=True))))
    assert len(rows) == written and "email" in rows[0]
    files = list((settings.instance_dir / "exports").iterdir())
    assert len(files) == 1 and files[0].name.startswith("hubspot-")
    again = client.post("/staff/exports/run", data={"format": "hubspot", "since": "last",
                                                    "csrf_token": csrf_from(page)})
    assert "Export 3 written: 0 profiles" in client.get(again.headers["Location"]).get_data(as_text=True)
    bad = client.post("/staff/exports/run", data={"format": "excel", "csrf_token": csrf_from(page)})
    assert bad.status_code == 400 and "<strong>format</strong>" in bad.get_data(as_text=True)


def test_webhook_failures_and_dead_letters_are_listed(client, db_engine, session, tmp_path):
    from survey_engine.services import webhooks
    from survey_engine.services.profiles import refresh_profiles

    seed_population(db_engine, tmp_path, customers=40)
    fit_clv(db_engine)
    webhooks.add_subscription(session, name="crm-hook", url="http://127.0.0.1:9/hook", max_attempts=1,
                              timeout_seconds=2, consent=[])
    session.commit()
    refresh_profiles(db_engine)  # queues one delivery per profile for the subscriber
    summary = webhooks.deliver_due(db_engine, limit=3)
    assert summary.dead == 3
    make_staff(db_engine, "marketer", "admin")
    sign_in(client, "marketer")
    html = client.get("/staff/exports/").get_data(as_text=True)
    row = re.search(r'<th scope="row">crm-hook <span class="muted">http://127.0.0.1:9/hook</span></th>(.*?)</tr>',
                    html, re.S).group(1)
    cells = [int(v) for v in re.findall(r'<td class="num">(\d+)</td>', row)]
    assert cells[2] == 3 and cells[0] > 0  # dead, and pending still queued
    failures = html[html.index('id="failures"'):]
    assert failures.count("<tr><th scope=\"row\">") == 3 and "URLError" in failures
    assert "3 dead letters waiting for a replay" in html and "replay them" not in html  # marketers cannot replay
