"""Link tokens: signing a payload once for every purpose must give the very tokens
itsdangerous' `dumps` gives, so links already sent and links sent now mean the same."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import current_app
from itsdangerous import URLSafeSerializer

from clinic.reminders import links


def test_tokens_are_itsdangerous_tokens_of_their_purpose(app: Any, frozen: Any) -> None:
    starts_at = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)
    tokens = links.make_tokens(42, 3, starts_at)
    assert sorted(tokens) == sorted(links.PURPOSES)
    expires = int((starts_at + links.VALID_AFTER_START).timestamp())
    for purpose, token in tokens.items():
        plain = URLSafeSerializer(
            current_app.config["SECRET_KEY"], salt=f"reminders.link.{purpose}"
        )
        assert token == plain.dumps({"a": 42, "r": 3, "x": expires})
        claim = links.read_token(purpose, token)
        assert (claim.appointment_id, claim.revision) == (42, 3)
    assert len(set(tokens.values())) == len(links.PURPOSES)
