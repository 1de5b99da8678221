"""``survey-engine create-user``: interactive and scripted passwords, refusals, --update."""
from __future__ import annotations

from sqlmodel import Session

from survey_engine.services import staff as accounts

PASSWORD = "a long enough passphrase"


def _user(db_engine, email):
    with Session(db_engine) as session:
        return accounts.find_user(session, email)


def test_create_user_prompts_twice_without_echo(runner, db_engine):
    result = runner.invoke(args=["create-user", "--email", "Ada@Example.com", "--role", "researcher"],
                           input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Repeat the password" in result.output
    assert PASSWORD not in result.output
    assert "Created researcher account ada@example.com" in result.output
    user = _user(db_engine, "ada@example.com")
    assert user.role == "researcher"
    with Session(db_engine) as session:
        assert accounts.authenticate(session, "ada@example.com", PASSWORD).user is not None


def test_mismatched_confirmation_asks_again(runner, db_engine):
    result = runner.invoke(args=["create-user", "--email", "a@example.com", "--role", "admin"],
                           input=f"{PASSWORD}\nsomething else entirely\n{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output.lower() or "don't match" in result.output.lower()
    assert _user(db_engine, "a@example.com").role == "admin"


def test_password_from_stdin(runner, db_engine):
    result = runner.invoke(args=["create-user", "--email", "m@example.com", "--role", "marketer", "--password-stdin"],
                           input=f"{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Password" not in result.output
    assert _user(db_engine, "m@example.com").role == "marketer"


def test_short_password_is_refused_and_nothing_is_stored(runner, db_engine):
    result = runner.invoke(args=["create-user", "--email", "m@example.com", "--role", "marketer", "--password-stdin"],
                           input="short\n")
    assert result.exit_code == 1
    assert "password: the password must have at least 12 characters" in result.output
    assert _user(db_engine, "m@example.com") is None


def test_existing_account_needs_update_which_resets_password_role_and_lock(runner, db_engine):
    args = ["create-user", "--email", "m@example.com", "--role", "marketer", "--password-stdin"]
    assert runner.invoke(args=args, input=f"{PASSWORD}\n").exit_code == 0
    refused = runner.invoke(args=args, input=f"{PASSWORD}\n")
    assert refused.exit_code == 1 and "already exists" in refused.output and "--update" in refused.output
    with Session(db_engine) as session:
        for _ in range(accounts.MAX_FAILED_ATTEMPTS):
            accounts.authenticate(session, "m@example.com", "wrong password!")
        session.commit()
    assert accounts.is_locked(_user(db_engine, "m@example.com"))
    updated = runner.invoke(args=["create-user", "--email", "m@example.com", "--role", "admin", "--password-stdin",
                                  "--update"], input="a different passphrase\n")
    assert updated.exit_code == 0 and "Updated admin account" in updated.output
    user = _user(db_engine, "m@example.com")
    assert user.role == "admin" and not accounts.is_locked(user)
    with Session(db_engine) as session:
        assert accounts.authenticate(session, "m@example.com", "a different passphrase").user is not None


def test_role_is_checked_by_the_command(runner):
    result = runner.invoke(args=["create-user", "--email", "m@example.com", "--role", "owner", "--password-stdin"],
                           input=f"{PASSWORD}\n")
    assert result.exit_code == 2 and "owner" in result.output
