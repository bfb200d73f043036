"""A request is one unit of work, tried again when the database gave up on it because
of another transaction (a deadlock, a serialisation failure, SQLite's lock wait), and
answered 503 with Retry-After, never 500, when every try failed so."""

from __future__ import annotations

import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from clinic import transaction
from clinic.extensions import db
from clinic.permissions import public
from clinic.scheduling.models import Device
from tests.browser.conftest import live_server  # noqa: F401  (the running app)
from tests.factories import make_device

pytestmark = pytest.mark.own_app  # each test adds views of its own

OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _add_view(app: Flask, rule: str, view: Any) -> None:
    """A view of the test's own, wrapped like every other one."""
    app.add_url_rule(rule, view_func=public(view), methods=["POST"])
    transaction.install(app)


def _post(url: str) -> int:
    request = urllib.request.Request(url, data=b"", method="POST")
    try:
        with OPENER.open(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def test_a_real_deadlock_is_retried_and_both_requests_succeed(
    app: Flask,
    live_server: str,  # noqa: F811
    backend: str,
) -> None:
    """Two requests lock two rows in opposite orders. PostgreSQL aborts one of them
    (deadlock_detected, 40P01) and the retry succeeds; SQLite runs them one by one."""
    one, other = make_device(), make_device()
    tries: Counter[int] = Counter()

    def lock_both(first: int, second: int) -> tuple[str, int]:
        tries[first] += 1
        db.session.execute(update(Device).where(Device.id == first).values(room="first"))
        time.sleep(0.3)
        db.session.execute(update(Device).where(Device.id == second).values(room="second"))
        return "", 204

    _add_view(app, "/test/lock/<int:first>/<int:second>", lock_both)
    urls = [f"{live_server}/test/lock/{a}/{b}" for a, b in ((one.id, other.id), (other.id, one.id))]
    statuses: list[int] = []
    threads = [threading.Thread(target=lambda u=u: statuses.append(_post(u))) for u in urls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [204, 204]
    expected_tries = 3 if backend == "postgresql" else 2  # the deadlock's loser ran twice
    assert sum(tries.values()) == expected_tries, tries


def _busy() -> OperationalError:
    return OperationalError("UPDATE ...", {}, sqlite3.OperationalError("database is locked"))


def test_contention_on_every_try_answers_503_with_retry_after(app: Flask, client: Any) -> None:
    tries = []

    def always_busy() -> str:
        tries.append(1)
        raise _busy()

    _add_view(app, "/api/v1/test-busy", always_busy)
    response = client.post("/api/v1/test-busy")
    assert response.status_code == 503
    assert response.json["error"]["code"] == "unavailable"
    assert response.headers["Retry-After"] == "1"
    assert len(tries) == transaction.ATTEMPTS


def test_contention_once_is_retried_and_the_second_try_is_committed(
    app: Flask, client: Any
) -> None:
    chair = make_device()
    tries = []

    def busy_once() -> tuple[str, int]:
        tries.append(1)
        db.session.execute(update(Device).where(Device.id == chair.id).values(room="kept"))
        if len(tries) == 1:
            raise _busy()
        return "", 204

    _add_view(app, "/test/busy-once", busy_once)
    assert client.post("/test/busy-once").status_code == 204
    assert len(tries) == 2
    db.session.rollback()
    assert db.session.get(Device, chair.id).room == "kept"


def test_other_errors_are_not_retried(app: Flask, client: Any) -> None:
    tries = []

    def broken() -> str:
        tries.append(1)
        raise OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))

    _add_view(app, "/api/v1/test-broken", broken)
    response = client.post("/api/v1/test-broken")
    assert response.status_code == 500
    assert response.json["error"]["code"] == "internal_error"
    assert len(tries) == 1
