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


def test_links_around_a_stand_in_are_the_links_built_for_the_token(app: Any, frozen: Any) -> None:
    urls = links.PublicUrls()
    tokens = links.make_tokens(7, 0, datetime(2026, 3, 9, 14, 0, tzinfo=UTC))
    for endpoint, purpose in (
        ("reminders.patient_confirm", "confirm"),
        ("reminders.patient_change", "change"),
        ("reminders.patient_calendar", "ics"),
    ):
        for token in (tokens[purpose], "." + tokens[purpose]):  # compressed ones start so
            assert urls.with_token(endpoint, token) == urls(endpoint, token=token)
