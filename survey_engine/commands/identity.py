"""``survey-engine identity``: customer records from several systems resolved into persons."""
from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path

import click

from survey_engine.commands.common import engine as _engine


def _who(value: str | None) -> str:
    if value:
        return value
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no login name in some containers
        return f"cli:{os.environ.get('USER', 'unknown')}"


def _fail(exc) -> None:
    from survey_engine.services.identity import RecordsRejected

    if isinstance(exc, RecordsRejected):
        click.echo(f"Refused: {exc.message}", err=True)
        for where, problem in exc.problems.items():
            click.echo(f"  {where}: {problem}", err=True)
        sys.exit(1)
    raise click.ClickException(exc.message)


@click.group()
def identity() -> None:
    """Resolve customer records from CRM, loyalty, e-commerce and store systems into persons.

    Records are normalised (emails, phones to E.164, names, postcodes), linked by identifiers
    (external id, email, phone with name) and by a scored fuzzy rule on name with postcode or phone,
    and grouped into persons, each with a golden record. Manual merges and splits are recorded with
    a reason and are never undone by a later run. Typical use:

    \b
      survey-engine identity import --csv records.csv
      survey-engine identity resolve
      survey-engine identity show 42
      survey-engine identity split store:POS000123 --reason "advisor: different client"
    """


@identity.command("import")
@click.option("--csv", "csv_path", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV with a header row: source, source_record_id (required), external_id (or customer_ref), "
                   "first_name, last_name, email, phone, postcode, city, country (ISO code), created_at (ISO date).")
def import_command(csv_path: Path) -> None:
    """Import source records from a CSV file (re-importing a record updates it).

    The whole file is checked first; if any row is invalid nothing is stored and every problem is
    listed with its line number and field. Run `identity resolve` afterwards to link the new
    records into persons.
    """
    from survey_engine.db import session_scope
    from survey_engine.services.identity import import_csv
    from survey_engine.services.survey import ServiceError

    try:
        with session_scope(_engine()) as session:
            result = import_csv(session, csv_path)
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"{csv_path}: {result.read} record(s) read, {result.inserted} new, {result.updated} updated, "
               f"{result.unchanged} unchanged. Run `survey-engine identity resolve` to link them.")


@identity.command("resolve")
@click.option("--threshold", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.9, show_default=True,
              help="Minimum match probability for a fuzzy (name + postcode/phone) link.")
@click.option("--by", "by", default=None, help="Who runs the resolution (recorded with the run); default cli:<login>.")
def resolve_command(threshold: float, by: str | None) -> None:
    """Link all source records into persons and rebuild their golden records.

    Manual merges and splits are applied first and always hold. Person ids are kept from the
    previous run wherever most of a person's records stay together.
    """
    from survey_engine.db import session_scope
    from survey_engine.services.identity import resolve_persons
    from survey_engine.services.survey import ServiceError

    try:
        with session_scope(_engine()) as session:
            summary = resolve_persons(session, threshold=threshold, triggered_by=_who(by))
    except ServiceError as exc:
        _fail(exc)
    rules = ", ".join(f"{rule} {count}" for rule, count in sorted(summary.links_by_rule.items())) or "none"
    click.echo(f"Run {summary.run_id}: {summary.records} record(s) -> {summary.persons} person(s) "
               f"({summary.new_persons} new, {summary.retired_persons} retired). Links: {rules}.")
    if summary.constraints:
        click.echo(f"{summary.constraints} manual constraint(s) applied; {summary.rejected_links} automatic "
                   f"link(s) refused because of manual splits.")
    if summary.skipped_blocks:
        click.echo(f"{summary.skipped_blocks} value(s) shared by too many records were not used as evidence "
                   f"(e.g. a shop's own phone number).")


@identity.command("merge")
@click.argument("a")
@click.argument("b")
@click.option("--reason", required=True, help="Why the two are one person (kept with the decision).")
@click.option("--by", "by", default=None, help="Who decides; default cli:<login>.")
def merge_command(a: str, b: str, reason: str, by: str | None) -> None:
    """Make A and B one person. Each is a person id (e.g. 42) or a record (SOURCE:ID, e.g. store:POS000123).

    B's records join A and B is retired. The decision is kept and every later resolution applies
    it before any rule; an earlier split between the two is lifted.
    """
    from survey_engine.db import session_scope
    from survey_engine.services.identity import merge
    from survey_engine.services.survey import ServiceError

    try:
        with session_scope(_engine()) as session:
            person = merge(session, a, b, reason=reason, decided_by=_who(by))
            person_id, n = person.id, person.n_records
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"Merged: person {person_id} now has {n} record(s).")


@identity.command("split")
@click.argument("record")
@click.option("--reason", required=True, help="Why the record is not this person (kept with the decision).")
@click.option("--by", "by", default=None, help="Who decides; default cli:<login>.")
def split_command(record: str, reason: str, by: str | None) -> None:
    """Take RECORD (SOURCE:ID, e.g. store:POS000123) out of its person.

    The record never again joins the other records of that person, whatever rule links them,
    until a later merge says otherwise.
    """
    from survey_engine.db import session_scope
    from survey_engine.services.identity import split
    from survey_engine.services.survey import ServiceError

    try:
        with session_scope(_engine()) as session:
            person = split(session, record, reason=reason, decided_by=_who(by))
            person_id, n = person.id, person.n_records
    except ServiceError as exc:
        _fail(exc)
    click.echo(f"Split: {record} is now in person {person_id} ({n} record(s)).")


@identity.command("show")
@click.argument("person")
@click.option("--json", "as_json", is_flag=True, help="Print everything as JSON.")
def show_command(person: str, as_json: bool) -> None:
    """Show a person: golden record, source records, the links between them and manual decisions.

    PERSON is a person id, a record (SOURCE:ID) or a customer external id prefixed with
    customer: (e.g. customer:C000123). A retired person is followed to the one it merged into.
    """
    from survey_engine.db import session_scope
    from survey_engine.services.identity import find_person, find_record, person_for_customer, person_public
    from survey_engine.services.survey import NotFound, ServiceError

    try:
        with session_scope(_engine()) as session:
            if person.isdigit():
                found = find_person(session, int(person))
            elif person.startswith("customer:"):
                found = person_for_customer(session, person.split(":", 1)[1])
                if found is None:
                    raise NotFound(f"no person for customer {person.split(':', 1)[1]!r}")
            else:
                record = find_record(session, person)
                if record.person_id is None:
                    raise NotFound(f"record {person!r} has not been resolved yet; run `survey-engine identity resolve`")
                found = find_person(session, record.person_id)
            detail = person_public(session, found)
    except ServiceError as exc:
        _fail(exc)
    if as_json:
        click.echo(json.dumps(detail, indent=2, ensure_ascii=False))
        return
    golden = detail["golden"]
    name = " ".join(v for v in (golden["first_name"], golden["last_name"]) if v) or "(no name)"
    click.echo(f"Person {detail['id']}: {name}")
    for label in ("email", "phone", "postcode", "city", "country", "external_id"):
        if golden[label]:
            click.echo(f"  {label:<12}{golden[label]}")
    if detail["customer_ids"]:
        click.echo(f"  customers   {', '.join(detail['customer_ids'])}")
    click.echo(f"Records ({detail['n_records']}):")
    for record in detail["records"]:
        fields = ", ".join(str(record[k]) for k in ("first_name", "last_name", "email", "phone", "postcode")
                           if record[k])
        click.echo(f"  {record['ref']:<24}{fields}")
    click.echo(f"Links ({len(detail['links'])}):")
    for link in detail["links"]:
        click.echo(f"  {link['a']} - {link['b']}  {link['rule']} {link['score']:.3f}"
                   + (f"  ({link['detail']})" if link["detail"] else ""))
    for decision in detail["decisions"]:
        target = f"{decision['a']} + {decision['b']}" if decision["b"] else decision["a"]
        click.echo(f"  {decision['kind']} {target} by {decision['by']} at {decision['at']}: {decision['reason']}")


commands = [identity]
