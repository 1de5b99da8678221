"""Set-up and respondent-flow commands: database, questionnaires, demo data, serving, invitations, API keys."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from survey_engine.commands.common import engine as _engine
from survey_engine.commands.common import settings as _settings


@click.command("init-db")
def init_db() -> None:
    """Create or upgrade the database schema (applies every Alembic migration).

    Uses DATABASE_URL, or the SQLite file in the instance folder when it is not set. Safe to run
    again: an up-to-date database is left as it is.
    """
    from survey_engine.db import current_revision, upgrade

    engine = _engine()
    upgrade(engine)
    click.echo(f"Database ready at {engine.url.render_as_string(hide_password=True)} "
               f"(schema revision {current_revision(engine)}).")


@click.command("db-revision", hidden=True)
@click.option("-m", "--message", required=True, help="What the migration changes.")
def db_revision(message: str) -> None:
    """Developers: write a new Alembic migration from the difference between the tables and head."""
    import tempfile

    from alembic import command

    from survey_engine.db import alembic_config, make_engine, upgrade

    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/scratch.db")
        upgrade(engine)
        script = command.revision(alembic_config(engine), message=message, autogenerate=True)
        engine.dispose()
    click.echo(f"Wrote {script.path}" if script else "No changes.")


@click.command("load-questionnaires")
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def load_questionnaires(directory: Path | None) -> None:
    """Validate every questionnaire file in DIRECTORY (default: questionnaires/) and store new versions.

    Nothing is stored when any file is invalid; every problem is listed with its file, the path
    inside the file and the reason. An unchanged file keeps its version; a changed one becomes a
    new version, and earlier responses keep the version they answered.
    """
    from survey_engine.db import session_scope
    from survey_engine.definitions.errors import DefinitionError
    from survey_engine.services.survey import read_questionnaire_files, sync_questionnaires

    directory = directory or _settings().questionnaires_dir
    try:
        files = read_questionnaire_files(directory)
    except DefinitionError as exc:
        click.echo(f"Refused: {len(exc.issues)} problem(s) in the questionnaire files:", err=True)
        for issue in exc.issues:
            click.echo(f"  {issue}", err=True)
        sys.exit(1)
    with session_scope(_engine()) as session:
        results = sync_questionnaires(session, files)
    for result in results:
        state = "new version" if result.created else "unchanged"
        click.echo(f"{result.questionnaire_id}: version {result.version} ({state}) from {result.source_file}")


@click.command("invite")
@click.option("--customer", "customer", required=True, help="The customer's external id (created when new).")
@click.option("--order", "order", required=True, help="The order the survey follows.")
@click.option("--questionnaire", "questionnaire", required=True, help="Questionnaire id, e.g. post_purchase_luxury.")
@click.option("--language", default=None, help="Language of the survey (default: the respondent's browser).")
@click.option("--reissue", is_flag=True, help="Replace the link of an existing, unanswered invitation.")
def invite(customer: str, order: str, questionnaire: str, language: str | None, reissue: bool) -> None:
    """Invite a customer to the latest version of a questionnaire and print the respondent URL.

    The link is shown once: only a hash of its token is stored.
    """
    from survey_engine.db import session_scope
    from survey_engine.services.survey import ServiceError, create_invitation

    settings = _settings()
    try:
        with session_scope(_engine()) as session:
            issued = create_invitation(session, customer_external_id=customer, order_id=order,
                                       questionnaire_id=questionnaire, language=language, reissue=reissue,
                                       ttl_days=settings.invitation_ttl_days)
    except ServiceError as exc:
        raise click.ClickException(f"{exc.field}: {exc.message}" if exc.field else exc.message) from None
    click.echo(issued.url(settings.base_url))


@click.command("create-api-key")
@click.option("--role", required=True, type=click.Choice(["researcher", "marketer", "admin"]),
              help="researcher: questionnaires, responses, analyses; marketer: invitations, profiles, "
                   "exports; admin: everything.")
@click.option("--name", default="", help="A note to recognise the key by (who or what uses it).")
def create_api_key_command(role: str, name: str) -> None:
    """Create a staff API key and print it (shown once; send it as 'Authorization: Bearer <key>')."""
    from survey_engine.db import session_scope
    from survey_engine.services.survey import create_api_key

    with session_scope(_engine()) as session:
        key = create_api_key(session, role, name)
    click.echo(key)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
def serve(host: str, port: int) -> None:
    """Serve the app with Werkzeug's threaded server (for a laptop or a demo).

    For production use gunicorn: `gunicorn -c survey_engine/gunicorn_conf.py -b 0.0.0.0:8000 wsgi:app`
    (see the README).
    """
    from survey_engine.app import create_app
    from survey_engine.definitions.errors import DefinitionError

    try:
        app = create_app(_settings())
    except DefinitionError as exc:
        click.echo("The app cannot start: the questionnaire files are invalid:", err=True)
        for issue in exc.issues:
            click.echo(f"  {issue}", err=True)
        sys.exit(1)
    click.echo(f"Serving on http://{host}:{port} (Ctrl+C to stop)")
    app.run(host=host, port=port, threaded=True, debug=False, use_reloader=False)


commands = [init_db, db_revision, load_questionnaires, invite, create_api_key_command, serve]


@click.command("demo")
@click.option("--customers", default=600, show_default=True, type=click.IntRange(1, 1_000_000),
              help="How many synthetic clients to create.")
@click.option("--seed", default=7, show_default=True, type=int, help="Random seed: the same seed gives the same people.")
def demo(customers: int, seed: int) -> None:
    """Seed a reproducible synthetic population for trying the engine.

    Creates clients with survey responses (Likert answers drawn from a known factor model, free
    text from per-archetype phrase banks), open invitations, purchase histories and source-system
    records, then resolves identities, fits the factor model and the CLV model and assigns
    archetypes, so every page and export has something to show. If any step fails, nothing is
    stored and the command says which step and why. The hidden ground truth (true archetypes, planted duplicates) is written to the instance folder as
    demo_truth.csv, apart from the product tables. Loads the shipped questionnaires first; does
    nothing when the database already holds customers.
    """
    from survey_engine.db import session_scope
    from survey_engine.services.demo import DemoStepFailed, existing_customers, seed_demo
    from survey_engine.services.survey import read_questionnaire_files, sync_questionnaires

    settings = _settings()
    try:
        with session_scope(_engine()) as session:
            present = existing_customers(session)
            if present:
                click.echo(f"The database already holds {present} customers; no demo data added.")
                return
            sync_questionnaires(session, read_questionnaire_files(settings.questionnaires_dir))
            summary = seed_demo(session, customers=customers, seed=seed, instance_dir=settings.instance_dir,
                                ttl_days=settings.invitation_ttl_days)
    except DemoStepFailed as exc:
        raise click.ClickException(f"{exc} Nothing was stored.") from None
    click.echo(f"Demo population (seed {seed}): {summary.customers} customers, {summary.responses} submitted "
               f"responses, {summary.drafts} drafts, {summary.invitations} invitations.")
    for name, detail in summary.contributed.items():
        click.echo(f"  {name}: {detail}")
    click.echo(f"Ground truth for evaluation: {summary.truth_file}")


commands.append(demo)
