"""``survey-engine create-user``: staff accounts for the web pages."""
from __future__ import annotations

import sys

import click


@click.command("create-user")
@click.option("--email", required=True, help="The person's email address; they sign in with it.")
@click.option("--role", required=True, type=click.Choice(["researcher", "marketer", "admin"]),
              help="researcher: questionnaires, fieldwork, factor analyses, archetypes; marketer: customers, "
                   "segments, exports, drift; admin: everything, plus staff accounts, API keys and webhooks.")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from the first line of standard input instead of asking for it "
                   "(for scripts: `printf '%s\\n' \"$PW\" | survey-engine create-user ...`).")
@click.option("--update", is_flag=True,
              help="If the account exists, set this role and password and lift any lock-out "
                   "(the way back in for a forgotten password).")
def create_user_command(email: str, role: str, password_stdin: bool, update: bool) -> None:
    """Create a staff account that signs in to the staff pages at /staff/.

    Asks for the password twice (it is not echoed) unless --password-stdin is given. Passwords
    need at least 12 characters; a passphrase of a few words is best. Only a scrypt hash of the
    password is stored. After five wrong passwords in a row an account is locked for 15 minutes.
    """
    from survey_engine.commands.core import _engine
    from survey_engine.db import session_scope
    from survey_engine.services.staff import MIN_PASSWORD_LENGTH, create_user, find_user, set_password
    from survey_engine.services.survey import ServiceError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(f"Password for {email} (at least {MIN_PASSWORD_LENGTH} characters)",
                                hide_input=True, confirmation_prompt="Repeat the password")
    try:
        with session_scope(_engine()) as session:
            existing = find_user(session, email)
            if existing is not None and update:
                existing.role = role
                set_password(session, existing, password)
                existing.is_active = True
                action = "Updated"
            else:
                create_user(session, email, role, password)
                action = "Created"
    except ServiceError as exc:
        hint = " (add --update to change the existing account)" if exc.field == "email" and not update else ""
        raise click.ClickException(f"{exc.field}: {exc.message}{hint}" if exc.field else exc.message) from None
    click.echo(f"{action} {role} account {email.strip().lower()}; sign in at /staff/sign-in.")


commands = [create_user_command]
