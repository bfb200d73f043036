"""Signed, expiring links in patient messages (confirm, ask for a change, calendar file).

A token names the appointment, its revision and an expiry; it is signed with the app's
SECRET_KEY and a salt per purpose, so a confirm token cannot be used as a change token.
A moved appointment has a new revision: links from the old message say so instead of
acting on the new time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, Signer, URLSafeSerializer
from itsdangerous.encoding import want_bytes

from clinic import clock
from clinic.errors import Gone, NotFound

PURPOSES = ("confirm", "change", "ics")
# Links work until a day after the appointment (late readers see "this has passed").
VALID_AFTER_START = timedelta(days=1)


@dataclass(frozen=True)
class LinkClaim:
    appointment_id: int
    revision: int
    expires_at: datetime


class _KeptKeySigner(Signer):
    """itsdangerous' signer with its derived key kept: a course's booking signs a hundred
    links, and deriving the key each time cost as much as the signing. Same tokens."""

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = self.secret_keys[-1] if secret_key is None else want_bytes(secret_key)
        return _derived_key(self.salt, key)


@lru_cache(maxsize=32)
def _derived_key(salt: bytes, secret_key: bytes) -> bytes:
    return Signer(secret_key, salt=salt).derive_key()


@lru_cache(maxsize=32)
def _cached_serializer(secret_key: str, purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=f"reminders.link.{purpose}", signer=_KeptKeySigner)


def _serializer(purpose: str) -> URLSafeSerializer:
    return _cached_serializer(current_app.config["SECRET_KEY"], purpose)


@lru_cache(maxsize=32)
def _cached_signer(secret_key: str, purpose: str) -> Signer:
    serializer = _cached_serializer(secret_key, purpose)
    return serializer.make_signer(serializer.salt)


def make_tokens(appointment_id: int, revision: int, starts_at: datetime) -> dict[str, str]:
    """The appointment's token for each of `PURPOSES`, as `URLSafeSerializer.dumps` makes
    them: the payload does not depend on the purpose, so it is built once and only signed
    per purpose, with signers kept (a course's booking signs a hundred links)."""
    secret_key = current_app.config["SECRET_KEY"]
    expires = int((starts_at + VALID_AFTER_START).timestamp())
    claim = {"a": appointment_id, "r": revision, "x": expires}
    payload = want_bytes(_cached_serializer(secret_key, PURPOSES[0]).dump_payload(claim))
    return {
        purpose: _cached_signer(secret_key, purpose).sign(payload).decode("utf-8")
        for purpose in PURPOSES
    }


def read_token(purpose: str, token: str) -> LinkClaim:
    """The claim in a link; NotFound for a forged token, Gone for an expired one."""
    try:
        data: Any = _serializer(purpose).loads(token)
        claim = LinkClaim(
            appointment_id=int(data["a"]),
            revision=int(data["r"]),
            expires_at=datetime.fromtimestamp(int(data["x"]), tz=clock.now().tzinfo),
        )
    except (BadSignature, KeyError, TypeError, ValueError, OverflowError):
        raise NotFound(
            "This link is not valid. Please use the link in your latest message."
        ) from None
    if claim.expires_at <= clock.now():
        raise Gone("This link has expired.", code="link_expired")
    return claim


class PublicUrls:
    """Absolute links under CLINIC_BASE_URL, built without a request (jobs, CLI), the URL
    map bound once for all the links of one batch of messages."""

    def __init__(self) -> None:
        self._adapter = current_app.url_map.bind("localhost")
        self._base = current_app.config["CLINIC_BASE_URL"]
        self._around_token: dict[str, tuple[str, str]] = {}

    def __call__(self, endpoint: str, **values: Any) -> str:
        return self._base + self._adapter.build(endpoint, values)

    def with_token(self, endpoint: str, token: str) -> str:
        """`self(endpoint, token=token)` for a token of `make_tokens` (URL-safe letters
        only, which building would leave as they are): the endpoint's link is built once
        around a stand-in, as building each of a course's hundred links cost more than
        signing them."""
        if endpoint not in self._around_token:
            before, _, after = self(endpoint, token=_TOKEN_STAND_IN).rpartition(_TOKEN_STAND_IN)
            self._around_token[endpoint] = before, after
        before, after = self._around_token[endpoint]
        return before + token + after


_TOKEN_STAND_IN = "token-stand-in"


def public_url(endpoint: str, **values: Any) -> str:
    """One absolute link (see `PublicUrls`)."""
    return PublicUrls()(endpoint, **values)


def site_host() -> str:
    """The host name of CLINIC_BASE_URL: the domain of calendar UIDs and Message-IDs."""
    return current_app.config["CLINIC_BASE_URL"].split("://", 1)[-1].split("/")[0].split(":")[0]
