"""Helpers for the accounts tests: signing in through the real pages, TOTP codes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pyotp
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from clinic.audit.models import AuditEvent
from clinic.extensions import db
from tests.factories import PASSWORD

# A fixed instant for tests that freeze time (TOTP codes, throttling windows).
T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)


def post_login(
    client: FlaskClient, email: str, password: str = PASSWORD, next_url: str | None = None
) -> TestResponse:
    url = "/login" if next_url is None else f"/login?next={next_url}"
    return client.post(url, data={"email": email, "password": password})


def is_signed_in(client: FlaskClient) -> bool:
    """The profile page answers 200 only to a live session (else: redirect to /login)."""
    return client.get("/profile").status_code == 200


def code_for(secret: str) -> str:
    return pyotp.TOTP(secret).now()


def events(action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.session.scalars(query))


@pytest.fixture
def second_client(app: Any) -> FlaskClient:
    """Another browser of the same person (a second device)."""
    return app.test_client()
