"""The sign-in throttle holds however many tries arrive at once: of 24 simultaneous wrong
passwords for one account, at most the limit (5) reach the password check.

Real concurrent sign-ins (threads, each its own connection) against the app served on
loopback; the password check is counted where the service calls it.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from clinic.auth import services as auth
from tests.browser.conftest import live_server  # noqa: F401  (the running app)
from tests.factories import make_user

TRIES = 24
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _sign_in(url: str, email: str, barrier: threading.Barrier) -> int:
    body = urllib.parse.urlencode({"email": email, "password": "not the password"}).encode()
    request = urllib.request.Request(url, data=body, method="POST")
    barrier.wait(timeout=30)
    try:
        with OPENER.open(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_24_simultaneous_wrong_passwords_check_at_most_five(
    app: Any,
    live_server: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    email = make_user("clinician").email
    checks: list[str] = []
    real_check = auth.check_password_hash

    def counted(password_hash: str, password: str) -> bool:
        checks.append(password)
        return real_check(password_hash, password)

    monkeypatch.setattr(auth, "check_password_hash", counted)
    barrier = threading.Barrier(TRIES)
    with ThreadPoolExecutor(max_workers=TRIES) as pool:
        statuses = list(
            pool.map(lambda _n: _sign_in(f"{live_server}/login", email, barrier), range(TRIES))
        )
    assert len(checks) <= auth.MAX_FAILURES_PER_ACCOUNT, (len(checks), sorted(statuses))
    assert sorted(statuses) == [401] * len(checks) + [429] * (TRIES - len(checks))
