"""Double booking is impossible: 20+ simultaneous requests through the running app.

On PostgreSQL the exclusion constraints refuse the losers; on SQLite the writes are
serialised (BEGIN IMMEDIATE) so the service's check sees the winner. Either way exactly
one request gets 201, the others 409, and none a 5xx.
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from clinic.auth import services as auth
from clinic.extensions import db
from clinic.scheduling.models import Appointment
from tests.browser.conftest import live_server  # noqa: F401  (the running app)
from tests.factories import make_course, make_device, make_patient, make_user

CONCURRENCY = 20
STARTS_AT = "2026-03-02T14:00:00Z"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _post(url: str, token: str, body: dict[str, Any], barrier: threading.Barrier) -> int:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method="POST",
    )
    barrier.wait(timeout=30)
    try:
        with OPENER.open(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def _fire(base: str, bodies: list[dict[str, Any]]) -> list[int]:
    desk = make_user("front_desk")
    tokens = [auth.create_token(desk, f"client {n}") for n in range(len(bodies))]
    db.session.commit()
    barrier = threading.Barrier(len(bodies))
    with ThreadPoolExecutor(max_workers=len(bodies)) as pool:
        futures = [
            pool.submit(_post, f"{base}/api/v1/appointments", token, body, barrier)
            for token, body in zip(tokens, bodies, strict=True)
        ]
        return sorted(future.result() for future in futures)


def test_one_chair_one_time_twenty_clients_exactly_one_wins(live_server: str) -> None:  # noqa: F811
    chair = make_device("Race chair")
    courses = [make_course(make_patient()) for _ in range(CONCURRENCY)]
    bodies = [
        {"course_id": course.id, "device_id": chair.id, "starts_at": STARTS_AT}
        for course in courses
    ]
    statuses = _fire(live_server, bodies)
    assert statuses == [201] + [409] * (CONCURRENCY - 1), statuses
    db.session.expire_all()
    assert db.session.query(Appointment).count() == 1


def test_one_patient_on_twenty_chairs_at_once_exactly_one_wins(live_server: str) -> None:  # noqa: F811
    course = make_course()
    chairs = [make_device() for _ in range(CONCURRENCY)]
    bodies = [
        {"course_id": course.id, "device_id": chair.id, "starts_at": STARTS_AT} for chair in chairs
    ]
    statuses = _fire(live_server, bodies)
    assert statuses == [201] + [409] * (CONCURRENCY - 1), statuses
    db.session.expire_all()
    assert db.session.query(Appointment).count() == 1
