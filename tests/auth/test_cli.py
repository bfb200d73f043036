"""`flask users create` and `flask users token`, run the way an operator runs them."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from clinic.auth.models import User
from clinic.extensions import db
from tests.factories import make_user


def _users() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0


def test_users_create_makes_a_user_who_can_sign_in(runner: FlaskCliRunner, client: Any) -> None:
    result = runner.invoke(
        args=[
            "users", "create", "Kim@TMS-clinic.org",
            "--name", "Kim Admin", "--role", "admin", "--password", "kims password 1",
        ]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "kim@tms-clinic.org" in result.output
    response = client.post(
        "/login", data={"email": "kim@tms-clinic.org", "password": "kims password 1"}
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-an-email", "--name", "X", "--role", "admin", "--password", "long password 1"],
         "Invalid email"),
        (["a@tms-clinic.org", "--name", "X", "--role", "admin", "--password", "short"],
         "at least 10 characters"),
        (["a@tms-clinic.org", "--name", "X", "--role", "janitor", "--password", "long password 1"],
         "janitor"),
        (["a@tms-clinic.org", "--role", "admin", "--password", "long password 1"], "--name"),
        (["a@tms-clinic.org", "--name", "   ", "--role", "admin", "--password", "long password1"],
         "name"),
    ],
)  # fmt: skip
def test_users_create_refuses_bad_input_clearly(
    runner: FlaskCliRunner, args: list[str], message: str
) -> None:
    result = runner.invoke(args=["users", "create", *args])
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert _users() == 0


def test_users_create_refuses_a_duplicate(runner: FlaskCliRunner, app: Any) -> None:
    existing = make_user("technician")
    result = runner.invoke(
        args=["users", "create", existing.email, "--name", "Twin", "--role", "admin",
              "--password", "long password 1"]
    )  # fmt: skip
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert _users() == 1


def test_users_token_prints_the_token_last_and_it_works(
    runner: FlaskCliRunner, client: Any, clinician: Any
) -> None:
    result = runner.invoke(args=["users", "token", clinician.email, "--label", "integration"])
    assert result.exit_code == 0, result.output
    token = result.stdout.strip().splitlines()[-1]
    assert token.startswith("tms_")
    response = client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json["email"] == clinician.email


def test_users_token_for_unknown_or_deactivated_user_fails(
    runner: FlaskCliRunner, admin: Any, clinician: Any
) -> None:
    from clinic.auth import services as auth

    unknown = runner.invoke(args=["users", "token", "ghost@tms-clinic.org"])
    assert unknown.exit_code != 0 and "no user" in unknown.output
    auth.set_active(clinician, False, actor_id=admin.id)
    db.session.commit()
    deactivated = runner.invoke(args=["users", "token", clinician.email])
    assert deactivated.exit_code != 0 and "deactivated" in deactivated.output
