"""``survey-engine profiles | audit | export | webhooks | privacy``: combined client profiles, their
drift, CRM export, webhooks and privacy requests."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from survey_engine.commands.common import engine as _engine

_DATE = click.DateTime(formats=["%Y-%m-%d"])


def _fail(exc) -> None:
    field = getattr(exc, "field", None)
    message = getattr(exc, "message", str(exc))
    raise click.ClickException(f"{field}: {message}" if field else message)


def _service_errors(function):
    """Turn service errors into a one-line message and exit status 1."""
    import functools

    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        from survey_engine.definitions.errors import DefinitionError
        from survey_engine.services.survey import ServiceError

        try:
            return function(*args, **kwargs)
        except ServiceError as exc:
            _fail(exc)
        except DefinitionError as exc:
            for issue in exc.issues:
                click.echo(str(issue), err=True)
            raise click.ClickException(f"{len(exc.issues)} problem(s) in a definition file") from None

    return wrapped


def _dump(data, path: Path | None) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False, default=str)
    if path is None:
        click.echo(text)
    else:
        path.write_text(text + "\n", encoding="utf-8")
        click.echo(f"Wrote {path}")


# ---- profiles ---------------------------------------------------------------------------------------

@click.group()
def profiles() -> None:
    """Combined client profiles: one per resolved person.

    A profile brings together the person's value (predicted lifetime value, P(alive), value tier,
    rising and lapse flags, from the active CLV model over all their customer numbers), their style
    archetype and relationship style with memberships and reasons (or an advisor's correction),
    factor scores, themes of their free text, consent, a monthly contact cap and a next-best-action
    text for their advisor. New responses and transaction imports update the persons they touch at
    once; `profiles refresh` rebuilds everyone (run it after refitting models, or nightly).
    """


@profiles.command("refresh")
@click.option("--as-of", type=_DATE, default=None, help="Value everyone as of this day (YYYY-MM-DD); default today.")
@click.option("--chunk-size", type=click.IntRange(min=100), default=5000, show_default=True,
              help="Persons written per transaction.")
@click.option("--refit-themes", is_flag=True, help="Cluster the latest free-text answers into themes again.")
@_service_errors
def refresh_command(as_of, chunk_size, refit_themes) -> None:
    """Rebuild every person's profile with the active models (nothing is refitted).

    Needs resolved persons (`survey-engine identity resolve`); uses the active CLV model, the
    active factor models, the latest archetype assignments and the catalogs' engagement guidance.
    Every change of tier, flags or archetype is kept in the profile history.
    """
    from survey_engine.services.profiles import refresh_profiles

    summary = refresh_profiles(_engine(), as_of=as_of.date() if as_of else None, chunk_size=chunk_size,
                               refit_themes=refit_themes)
    tiers = ", ".join(f"{t} {n}" for t, n in sorted(summary.tiers.items()))
    click.echo(f"Refresh {summary.refresh_id}: {summary.persons} persons ({summary.valued} with purchases"
               f"{': ' + tiers if tiers else ''}); {summary.created} profiles created, {summary.updated} updated, "
               f"{summary.material} changes numbered, {summary.history} history entries, "
               f"{summary.deliveries} webhook deliveries queued, {summary.removed} merged profiles removed "
               f"in {summary.seconds:.1f} s.")


@profiles.command("show")
@click.argument("person")
@click.option("--json", "as_json", is_flag=True, help="Print the whole profile as JSON.")
@_service_errors
def show_command(person, as_json) -> None:
    """Show the profile of PERSON (a person id, a customer number or SOURCE:RECORD_ID)."""
    from survey_engine.db import session_scope
    from survey_engine.services.profiles import resolve_person, show_profile

    with session_scope(_engine()) as session:
        data = show_profile(session, resolve_person(session, person))
    if as_json:
        _dump(data, None)
        return
    lines = [
        f"Person {data['person_id']} (customer {data['customer_id'] or '-'}; "
        f"{', '.join(data['customer_ids']) or 'no customer numbers'})",
        f"  value      tier {data['value_tier'] or '-'} (past spend: {data['past_spend_tier'] or '-'}), "
        f"CLV {data['clv'] if data['clv'] is not None else '-'}, P(alive) "
        f"{data['p_alive'] if data['p_alive'] is not None else '-'}"
        f"{', RISING' if data['rising'] else ''}{', LAPSE RISK' if data['lapse_risk'] else ''}",
        f"  style      {data['style_archetype'] or '-'} ({data['style_source'] or 'no assignment'}"
        f"{', membership ' + format(data['style_membership'], '.2f') if data['style_membership'] is not None else ''})",
        f"  relation   {data['relationship_style'] or '-'} ({data['relationship_source'] or 'no assignment'}"
        f"{', membership ' + format(data['relationship_membership'], '.2f') if data['relationship_membership'] is not None else ''})",
        f"  themes     {data['themes_text'] or '-'}",
        f"  survey     {data['surveys_completed']} completed, last {data['last_survey_at'] or '-'}",
        f"  consent    marketing {'yes' if data['consent_marketing'] else 'no'}, profiling "
        f"{'yes' if data['consent_profiling'] else 'no'}",
        f"  contacts   {data['contacts_used']} of {data['contact_cap']} this month ({data['contact_month']}), "
        f"by {data['preferred_channel']}",
        f"  next       {data['next_best_action']}",
    ]
    for reason_key, label in (("style_reasons", "style"), ("relationship_reasons", "relationship")):
        reasons = data[reason_key] or {}
        factors = ", ".join(f"{f['factor']} {f['expected']} ({f['contribution']:+.2f})" for f in reasons.get("factors", []))
        phrases = "; ".join(f"'{p['phrase']}'" for p in reasons.get("phrases", []))
        if factors or phrases:
            lines.append(f"  why {label}: {factors}{' | phrases ' + phrases if phrases else ''}")
    for note in data["notes"][:5]:
        lines.append(f"  note {note['created_at'][:10]} {note['author']}: {note['text']}")
    for correction in data["corrections"][:5]:
        lines.append(f"  correction {correction['created_at'][:10]} {correction['author']}: {correction['catalog']} -> "
                     f"{correction['archetype']} (was {correction['previous'] or '-'})")
    for entry in data["history"][:10]:
        changes = ", ".join(f"{k} {v[0]} -> {v[1]}" for k, v in entry["changes"].items())
        lines.append(f"  history {entry['changed_at'][:19]} [{entry['source']}] {changes}")
    click.echo("\n".join(lines))


@profiles.command("note")
@click.argument("person")
@click.option("--author", required=True, help="Who writes the note (advisor name).")
@click.option("--text", required=True, help="The note.")
@_service_errors
def note_command(person, author, text) -> None:
    """Attach an advisor's note to the profile of PERSON."""
    from survey_engine.db import session_scope
    from survey_engine.services.profiles import add_note, resolve_person

    with session_scope(_engine()) as session:
        note = add_note(session, resolve_person(session, person), author=author, text=text)
        click.echo(f"Note {note.id} added to person {note.person_id}.")


@profiles.command("correct")
@click.argument("person")
@click.option("--catalog", required=True, help="Catalog id, e.g. style_archetypes or relationship_styles.")
@click.option("--archetype", required=True, help="The archetype the advisor knows the client to be.")
@click.option("--author", required=True, help="Who makes the correction.")
@click.option("--reason", default=None, help="Why (shown on the profile).")
@_service_errors
def correct_command(person, catalog, archetype, author, reason) -> None:
    """Correct the archetype of PERSON in one catalog.

    The correction shows on the profile at once and labels the person's response in the next
    `survey-engine archetypes assign` (the assigner keeps labelled customers fixed while it learns).
    """
    from survey_engine.db import session_scope
    from survey_engine.services.profiles import correct_archetype, resolve_person

    with session_scope(_engine()) as session:
        correction = correct_archetype(session, resolve_person(session, person), catalog_id=catalog,
                                       archetype_id=archetype, author=author, reason=reason)
        click.echo(f"Correction {correction.id}: person {correction.person_id} is {archetype} in {catalog} "
                   f"(was {correction.previous_archetype or '-'}).")


@profiles.command("contact")
@click.argument("person")
@click.option("--channel", required=True, help="How the client was contacted (email, phone, boutique, ...).")
@click.option("--by", "recorded_by", required=True, help="Who made the contact.")
@click.option("--note", default=None, help="What it was about.")
@click.option("--over-cap", is_flag=True, help="Record it even if this month's contact cap is used up.")
@_service_errors
def contact_command(person, channel, recorded_by, note, over_cap) -> None:
    """Record an outreach to PERSON; it counts against their monthly contact cap."""
    from survey_engine.db import session_scope
    from survey_engine.services.profiles import get_profile, record_contact, resolve_person

    with session_scope(_engine()) as session:
        person_id = resolve_person(session, person)
        record_contact(session, person_id, channel=channel, recorded_by=recorded_by, note=note,
                       allow_over_cap=over_cap)
        profile = get_profile(session, person_id)
        click.echo(f"Contact recorded; {profile.contacts_remaining} of {profile.contact_cap} left this month.")


# ---- audit ------------------------------------------------------------------------------------------

@click.command("audit")
@click.option("--since", required=True, type=_DATE, help="Start of the period (YYYY-MM-DD).")
@click.option("--sample", type=click.IntRange(min=0), default=20, show_default=True,
              help="Clients listed whose recent behaviour no longer fits their segment.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the full report as JSON here.")
@_service_errors
def audit(since, sample, json_path) -> None:
    """Drift audit of profiles since a date.

    For value tiers, style archetypes and relationship styles: the migration matrix (segment at the
    start of the period, from the profile history, against the segment now), the stability of each
    segment (share still in it), and a sample of clients who no longer fit: P(alive) fell, spending
    in the period unlike their tier, or recent answers closer to another archetype.
    """
    from survey_engine.db import session_scope
    from survey_engine.services.audit import drift_audit

    with session_scope(_engine()) as session:
        report = drift_audit(session, since.date(), sample=sample)
    click.echo(f"Drift since {report['since']}: {report['n_profiles']} profiles, "
               f"{report['n_with_history_before']} with a segment at the start.")
    for dimension, data in report["dimensions"].items():
        matrix = data["matrix"]
        columns = list(dict.fromkeys(c for row in matrix.values() for c in row))
        width = max([len(c) for c in columns] + [8])
        click.echo(f"\n{dimension}: from (rows) -> to (columns)")
        click.echo(" " * 24 + "".join(c[:width].rjust(width + 1) for c in columns))
        for name, row in matrix.items():
            click.echo(name[:24].ljust(24) + "".join(str(row.get(c, 0)).rjust(width + 1) for c in columns))
        click.echo("stability: " + ", ".join(
            f"{s} {v['stability']:.0%} of {v['n_start']}" if v["stability"] is not None else f"{s} new ({v['n_now']})"
            for s, v in data["stability"].items()))
    misfits = report["misfits"]
    click.echo("\nNo longer fitting their segment: " + (", ".join(f"{k} {n}" for k, n in misfits["counts"].items())
                                                         or "none"))
    for item in misfits["sample"]:
        click.echo(f"  person {item['person_id']} ({item['customer_id'] or '-'}) [{item['kind']}]: {item['reason']}")
    if json_path is not None:
        _dump(report, json_path)


# ---- export -----------------------------------------------------------------------------------------

@click.command("export")
@click.option("--format", "fmt", required=True, type=click.Choice(["salesforce", "hubspot", "csv", "jsonl"]),
              help="salesforce: Contact upsert CSV (API names, __c custom fields, external id); hubspot: contacts "
                   "import CSV (internal property names, email as key); csv; jsonl (one JSON object per line).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="File to write.")
@click.option("--since", default=None,
              help="Export only changes after this cursor (printed by the previous export), or 'last' for where "
                   "the previous export to this destination ended; default everything.")
@click.option("--destination", default=None, help="Destination in the mappings file (default: the one named like the format).")
@click.option("--mappings", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Column mappings YAML (default the packaged survey_engine/export/mappings.yaml).")
@_service_errors
def export(fmt, out, since, destination, mappings) -> None:
    """Export profiles for a CRM, incrementally by cursor.

    Only people whose consent allows it (the destination's consent list, by default marketing and
    profiling) are written, and only the columns the destination maps. Each change is exported
    once: pass the printed cursor as --since next time (or --since last).
    """
    from survey_engine.services.exports import export_profiles

    result = export_profiles(_engine(), fmt=fmt, out=out, since=since, destination=destination, mappings=mappings,
                             triggered_by="cli")
    click.echo(f"Wrote {result.rows} profiles to {result.file} ({result.destination}, changes "
               f"{result.since + 1}..{result.next_cursor}); left out: {result.without_consent} without consent"
               + (f", {result.without_key} without email" if result.format == "hubspot" else "") + ".")
    click.echo(f"next cursor: {result.next_cursor}")


# ---- webhooks ---------------------------------------------------------------------------------------

@click.group()
def webhooks() -> None:
    """Send profile changes to subscribers as signed JSON.

    Each change that takes a new change number is queued for every active subscriber whose consent
    rule the person meets. `webhooks deliver` posts what is due; a failed delivery is retried with
    exponential backoff and lands in the dead-letter table after its last attempt. The signature
    header is X-SurveyEngine-Signature: v1=HMAC-SHA256(secret, "<X-SurveyEngine-Timestamp>.<body>")
    (see the README for how a receiver verifies it).
    """


@webhooks.command("add")
@click.option("--name", required=True, help="A name for the subscriber.")
@click.option("--url", required=True, help="http(s) URL that receives POSTed JSON.")
@click.option("--field", "fields", multiple=True,
              help="Profile field the subscriber may receive (repeat); default person_id, customer_id, value and "
                   "archetype fields, contact policy and next best action (no contact details).")
@click.option("--consent", "consents", multiple=True, type=click.Choice(["marketing", "profiling"]),
              help="Consent a person needs to be sent (repeat); default both.")
@click.option("--max-attempts", type=click.IntRange(1, 20), default=6, show_default=True,
              help="Attempts before a delivery goes to the dead-letter table.")
@click.option("--timeout", type=click.FloatRange(0.1, 60), default=10.0, show_default=True,
              help="Seconds to wait for the subscriber's answer.")
@_service_errors
def webhooks_add(name, url, fields, consents, max_attempts, timeout) -> None:
    """Add a subscriber and print its signing secret (shown once)."""
    from survey_engine.db import session_scope
    from survey_engine.services.webhooks import add_subscription

    with session_scope(_engine()) as session:
        subscription, secret = add_subscription(session, name=name, url=url, fields=list(fields) or None,
                                                consent=list(consents) or ("marketing", "profiling"),
                                                max_attempts=max_attempts, timeout_seconds=timeout)
        click.echo(f"Subscription {subscription.id} ({subscription.name}) -> {subscription.url}")
        click.echo(f"fields: {', '.join(subscription.fields)}")
        click.echo(f"secret: {secret}")


@webhooks.command("list")
@_service_errors
def webhooks_list() -> None:
    """List subscribers with their pending, delivered and dead deliveries, and open dead letters."""
    from sqlmodel import select

    from survey_engine.db import session_scope
    from survey_engine.models.profiles import WebhookSubscription
    from survey_engine.services.webhooks import list_dead_letters, subscription_public

    with session_scope(_engine()) as session:
        subscriptions = [subscription_public(s, session) for s in
                         session.exec(select(WebhookSubscription).order_by(WebhookSubscription.id)).all()]
        letters = list_dead_letters(session)
    if not subscriptions:
        click.echo("No subscribers (add one with `survey-engine webhooks add`).")
    for s in subscriptions:
        d = s["deliveries"]
        click.echo(f"{s['id']} {s['name']} {'active' if s['active'] else 'inactive'} {s['url']}: "
                   f"{d['pending']} pending, {d['delivered']} delivered, {d['dead']} dead")
    for letter in letters:
        click.echo(f"  dead letter {letter['id']}: delivery {letter['delivery_id']} after {letter['attempts']} "
                   f"attempts: {letter['last_error']}")


@webhooks.command("deliver")
@click.option("--limit", type=click.IntRange(min=1), default=1000, show_default=True, help="Deliveries to attempt at most.")
@click.option("--every", type=click.FloatRange(min=0.1), default=None, metavar="SECONDS",
              help="Keep running as the delivery worker: deliver what is due every SECONDS until stopped "
                   "(SIGTERM or Ctrl+C ends it after the delivery in progress). Without it: one pass.")
@_service_errors
def webhooks_deliver(limit, every) -> None:
    """Post the deliveries that are due: one pass (from a scheduler, e.g. every minute), or with
    --every a long-running worker (a service of its own next to the web server) that also rides
    out database outages: it reports them and tries again."""
    import signal
    import threading

    from sqlalchemy.exc import InterfaceError, OperationalError

    from survey_engine.services.webhooks import deliver_due

    def report(summary) -> None:
        click.echo(f"{summary.attempted} attempted: {summary.delivered} delivered, {summary.failed} failed "
                   f"({summary.dead} moved to dead letters).")
        for error in summary.errors[:20]:
            click.echo(f"  {error}", err=True)

    if every is None:
        report(deliver_due(_engine(), limit=limit))
        return
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    click.echo(f"Delivering due webhooks every {every:g} s; stop with SIGTERM or Ctrl+C.")
    while not stop.is_set():
        try:
            summary = deliver_due(_engine(), limit=limit, stop=stop)
        except (OperationalError, InterfaceError) as exc:
            click.echo(f"database unavailable ({exc.__class__.__name__}); trying again in {every:g} s", err=True)
        else:
            if summary.attempted:
                report(summary)
        stop.wait(every)
    click.echo("Stopped.")


@webhooks.command("replay")
@click.option("--id", "ids", multiple=True, type=int, help="Dead letter to replay (repeat); default all not replayed yet.")
@click.option("--no-deliver", is_flag=True, help="Only put them back in the queue.")
@_service_errors
def webhooks_replay(ids, no_deliver) -> None:
    """Send dead-lettered deliveries again (their attempts start over)."""
    from survey_engine.db import session_scope
    from survey_engine.services.webhooks import deliver_due, replay_dead_letters

    with session_scope(_engine()) as session:
        requeued = replay_dead_letters(session, list(ids) or None)
    click.echo(f"{len(requeued)} deliveries back in the queue.")
    if requeued and not no_deliver:
        summary = deliver_due(_engine(), limit=len(requeued) * 2)
        click.echo(f"{summary.delivered} delivered, {summary.failed} failed.")


# ---- privacy ----------------------------------------------------------------------------------------

@click.group()
def privacy() -> None:
    """Data-subject requests: export or erase everything held about one person."""


def _person_id(session, person: int | None, customer: str | None) -> int:
    from survey_engine.services.identity import find_person, person_for_customer
    from survey_engine.services.survey import NotFound

    if (person is None) == (customer is None):
        raise click.UsageError("give exactly one of --person or --customer")
    if person is not None:
        return find_person(session, person).id
    found = person_for_customer(session, customer)
    if found is None:
        raise NotFound(f"no person with customer number {customer!r}", field="customer")
    return found.id


@privacy.command("export")
@click.option("--person", type=int, default=None, help="Person id.")
@click.option("--customer", default=None, help="A customer number of the person (instead of --person).")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path), help="JSON file to write.")
@_service_errors
def privacy_export(person, customer, out) -> None:
    """Write everything held about a person (all their records, answers, purchases, profile,
    history, notes and deliveries) to a JSON file."""
    from survey_engine.db import session_scope
    from survey_engine.services.privacy import export_person

    with session_scope(_engine()) as session:
        data = export_person(session, _person_id(session, person, customer))
    out.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    rows = sum(len(v) for v in data["tables"].values())
    click.echo(f"Wrote {rows} rows from {sum(1 for v in data['tables'].values() if v)} tables to {out}")


@privacy.command("erase")
@click.option("--person", type=int, default=None, help="Person id.")
@click.option("--customer", default=None, help="A customer number of the person (instead of --person).")
@click.option("--by", "requested_by", required=True, help="Staff member carrying out the request (logged).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_service_errors
def privacy_erase(person, customer, requested_by, yes) -> None:
    """Erase everything held about a person: identity records, customer rows, responses and free
    text, embeddings, purchases, profile, history, notes and webhook deliveries.

    Fitted models and stored reports keep their aggregates. The erasure log keeps the time, who
    asked and the number of rows per table, nothing that identifies the person. This cannot be undone.
    """
    from survey_engine.db import session_scope
    from survey_engine.services.privacy import erase_person

    with session_scope(_engine()) as session:
        person_id = _person_id(session, person, customer)
        if not yes and not click.confirm(f"Erase everything about person {person_id}? This cannot be undone"):
            click.echo("Nothing erased.")
            sys.exit(1)
        entry = erase_person(session, person_id, requested_by=requested_by)
    total = sum(v for v in entry.rows_deleted.values())
    click.echo(f"Erased {total} rows ({', '.join(f'{k} {v}' for k, v in entry.rows_deleted.items() if v)}); "
               f"logged as erasure {entry.id}.")


commands = [profiles, audit, export, webhooks, privacy]
