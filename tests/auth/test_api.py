"""The caller's identity over the JSON API, and what stops a token working."""

from __future__ import annotations

from typing import Any

from clinic.auth import services as auth
from clinic.extensions import db
from tests.factories import ApiClient


def test_me_answers_the_tokens_user(api: ApiClient, front_desk: Any) -> None:
    response = api.as_(front_desk).get("/api/v1/me")
    assert response.status_code == 200
    assert response.json == {
        "id": front_desk.id,
        "email": front_desk.email,
        "name": front_desk.name,
        "role": "front_desk",
    }


def test_a_session_cookie_is_not_enough_for_the_api(client: Any, front_desk: Any) -> None:
    from tests.factories import login

    login(client, front_desk)
    response = client.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_revoked_token_and_deactivated_user_answer_401(
    api: ApiClient, admin: Any, technician: Any
) -> None:
    as_tech = api.as_(technician)
    assert as_tech.get("/api/v1/me").status_code == 200
    auth.set_active(technician, False, actor_id=admin.id)
    db.session.commit()
    response = as_tech.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    auth.set_active(technician, True, actor_id=admin.id)
    db.session.commit()
    assert as_tech.get("/api/v1/me").status_code == 200
    for token in technician.tokens:
        auth.revoke_token(technician, token.id, actor_id=technician.id)
    db.session.commit()
    assert as_tech.get("/api/v1/me").status_code == 401


def test_malformed_authorization_headers_answer_401(client: Any) -> None:
    for header in ("Bearer", "Bearer ", "Basic abc", "tms_abc", "Bearer tms_" + "x" * 500):
        response = client.get("/api/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, header
        assert response.json["error"]["code"] == "unauthorized"


def test_a_token_in_use_still_works_when_its_last_use_cannot_be_written(
    api: ApiClient, front_desk: Any, monkeypatch: Any
) -> None:
    """Recording a token's last use is a convenience: when the database is busy with
    another writer (SQLite's lock, a stale read snapshot), the request goes on, never 503."""
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from clinic.auth import services as auth_services

    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorname = "SQLITE_BUSY_SNAPSHOT"  # type: ignore[attr-defined]
    calls = {"n": 0}

    def busy_for_the_token(token_id: int) -> None:
        """Another writer keeps the lock for as long as the request tries."""
        calls["n"] += 1
        raise OperationalError("UPDATE api_tokens", {}, busy)

    reader = api.as_(front_desk)  # a fresh token: its first use writes last_used_at
    monkeypatch.setattr(auth_services, "record_token_use", busy_for_the_token)
    answer = reader.get("/api/v1/me")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["email"] == front_desk.email
    assert calls["n"] >= 1
