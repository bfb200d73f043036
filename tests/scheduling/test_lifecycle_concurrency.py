"""Changes of one appointment from many clients at once are serialised: the first wins,
the others see what it did (409 when it ended the appointment), and a cancelled or
missed session gets one make-up, never two.

Real concurrent requests (threads) against the app served on loopback, each with its own
database connection: PostgreSQL locks the appointment's row (SELECT ... FOR UPDATE),
SQLite runs one writing transaction at a time (BEGIN IMMEDIATE).
"""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from clinic.auth import services as auth
from clinic.extensions import db
from clinic.scheduling.models import Appointment
from tests.browser.conftest import live_server  # noqa: F401  (the running app)
from tests.factories import make_appointment, make_course, make_device, make_user
from tests.scheduling.conftest import MONDAY, local

CLIENTS = 8
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _call(base: str, token: str, method: str, path: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(
        f"{base}/api/v1{path}",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        method=method,
    )
    try:
        with OPENER.open(request, timeout=60) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def _all_at_once(base: str, calls: list[tuple[str, str, dict[str, Any]]]) -> list[int]:
    """Each call from its own client (own token, own connection), released together."""
    desk = make_user("front_desk")
    tokens = [auth.create_token(desk, f"client {n}") for n in range(len(calls))]
    db.session.commit()
    barrier = threading.Barrier(len(calls))

    def one(token: str, call: tuple[str, str, dict[str, Any]]) -> int:
        barrier.wait(timeout=30)
        return _call(base, token, *call)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(one, tokens, calls))


def _booked(app: Any) -> Appointment:
    chair = make_device()
    course = make_course(planned_sessions=10)
    return make_appointment(course, local(MONDAY, 9), device=chair)


def _makeups(appointment_id: int) -> int:
    db.session.rollback()  # read what the app committed
    return int(
        db.session.scalar(select(func.count()).where(Appointment.makeup_for_id == appointment_id))
        or 0
    )


def test_eight_cancels_of_one_appointment_one_wins_one_makeup(app: Any, live_server: str) -> None:  # noqa: F811
    appointment = _booked(app)
    cancel = ("POST", f"/appointments/{appointment.id}/cancel", {"reason": "ill"})
    statuses = _all_at_once(live_server, [cancel] * CLIENTS)
    assert sorted(statuses) == [200] + [409] * (CLIENTS - 1), statuses
    assert _makeups(appointment.id) == 1


def test_cancel_against_no_show_one_wins_one_makeup(app: Any, live_server: str) -> None:  # noqa: F811
    appointment = _booked(app)
    path = f"/appointments/{appointment.id}"
    calls = [("POST", f"{path}/cancel", {}), ("POST", f"{path}/no-show", {})] * (CLIENTS // 2)
    statuses = _all_at_once(live_server, calls)
    assert sorted(statuses) == [200] + [409] * (CLIENTS - 1), statuses
    assert _makeups(appointment.id) == 1


def test_cancel_against_move_leaves_one_consistent_outcome(app: Any, live_server: str) -> None:  # noqa: F811
    appointment = _booked(app)
    path = f"/appointments/{appointment.id}"
    later = (appointment.starts_at + timedelta(days=7)).isoformat()
    calls = [("POST", f"{path}/cancel", {}), ("PATCH", path, {"starts_at": later})]
    cancel, move = _all_at_once(live_server, calls)
    db.session.rollback()
    after = db.session.get(Appointment, appointment.id)
    assert after is not None
    if cancel == 200:  # the move either ran first (200) or found it cancelled (409)
        assert move in (200, 409) and after.status == "cancelled"
        assert _makeups(appointment.id) == 1
    else:
        assert (cancel, move) == (409, 200), (cancel, move)
    assert move != 200 or after.revision == 1


def test_check_in_against_cancel_never_checks_in_a_cancelled_appointment(
    app: Any,
    live_server: str,  # noqa: F811
) -> None:
    appointment = _booked(app)
    path = f"/appointments/{appointment.id}"
    calls = [("POST", f"{path}/check-in", {}), ("POST", f"{path}/cancel", {})] * (CLIENTS // 2)
    statuses = _all_at_once(live_server, calls)
    check_ins, cancels = statuses[0::2], statuses[1::2]
    assert sorted(cancels) == [200] + [409] * (CLIENTS // 2 - 1), statuses
    db.session.rollback()
    after = db.session.get(Appointment, appointment.id)
    assert after is not None and after.status == "cancelled"
    # Check-ins before the cancel succeed (a second one is harmless), after it they are 409.
    assert set(check_ins) <= {200, 409}, statuses
    assert _makeups(appointment.id) == 1
