"""Two front desks act on one appointment at the same moment, through two app servers.

Cancel twice: one cancel wins, the other is refused, and the course gets exactly one
make-up. Cancel against move: whichever wins, the other sees it, and a cancelled
appointment keeps no pending reminder. On the private PostgreSQL and on a SQLite file,
through gunicorn (two servers, two workers each), many tries each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import pytest

from tests.faults.conftest import Clinic
from tests.faults.harness import Answer, LiveApi
from tests.faults.workload import (
    Booking,
    add_chairs,
    add_patients,
    book_grid,
    in_parallel,
    next_whole_hour,
    server_errors,
)

pytestmark = pytest.mark.xdist_group("faults")

TRIES = 8


def _appointments(clinic: Clinic, count: int) -> list[Booking]:
    """`count` appointments, each its own patient, course and chair."""
    assert clinic.api is not None
    chairs = add_chairs(clinic.api, count)
    patients = add_patients(clinic.api, count)
    return book_grid(clinic.api, patients, chairs, next_whole_hour(2), 1)


def _race(
    api: LiveApi, first: Callable[[LiveApi], Answer], second: Callable[[LiveApi], Answer]
) -> tuple[Answer, Answer]:
    """Both calls released at once, each to its own app server."""
    barrier = threading.Barrier(2)
    one, other = LiveApi(api.bases[:1], api.token), LiveApi(api.bases[1:], api.token)

    def go(call: Callable[[LiveApi], Answer], client: LiveApi) -> Answer:
        barrier.wait(timeout=30)
        return call(client)

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = pool.submit(go, first, one), pool.submit(go, second, other)
        result = answers[0].result(timeout=60), answers[1].result(timeout=60)
    api.answers.extend(one.answers + other.answers)
    return result


def _makeups(clinic: Clinic, appointment_id: int) -> int:
    return int(
        clinic.sql(f"SELECT count(*) FROM appointments WHERE makeup_for_id = {appointment_id}")[0][
            0
        ]
    )


def _pending_reminders(clinic: Clinic, appointment_id: int) -> int:
    return int(
        clinic.sql(
            "SELECT count(*) FROM reminders WHERE status = 'pending' "
            f"AND appointment_id = {appointment_id}"
        )[0][0]
    )


def _state(clinic: Clinic, appointment_id: int) -> tuple[str, Any]:
    row = clinic.sql(f"SELECT status, starts_at FROM appointments WHERE id = {appointment_id}")
    return str(row[0][0]), row[0][1]


def _cancel(appointment_id: int) -> Callable[[LiveApi], Answer]:
    return lambda api: api.call("POST", f"/appointments/{appointment_id}/cancel", {"reason": "ill"})


def _move(booking: Booking) -> Callable[[LiveApi], Answer]:
    later = (booking.starts_at + timedelta(days=7)).isoformat()
    return lambda api: api.call(
        "PATCH", f"/appointments/{booking.appointment_id}", {"starts_at": later}
    )


BACKENDS = ["postgresql", "sqlite"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_two_cancels_of_one_appointment_make_exactly_one_makeup(
    clinics: dict[str, Clinic], backend: str
) -> None:
    clinic = clinics[backend]
    api = clinic.api
    assert api is not None
    api.answers.clear()
    bookings = _appointments(clinic, TRIES)

    outcomes = in_parallel(
        [
            lambda b=b: _race(api, _cancel(b.appointment_id), _cancel(b.appointment_id))
            for b in bookings
        ]
    )

    statuses = [sorted((a.status, b.status)) for a, b in outcomes]
    makeups = [_makeups(clinic, b.appointment_id) for b in bookings]
    summary = f"statuses={statuses} makeups={makeups}"
    assert server_errors(api) == [], summary
    assert statuses == [[200, 409]] * TRIES, summary
    assert makeups == [1] * TRIES, summary


@pytest.mark.parametrize("backend", BACKENDS)
def test_cancel_against_move_leaves_one_consistent_outcome(
    clinics: dict[str, Clinic], backend: str
) -> None:
    clinic = clinics[backend]
    api = clinic.api
    assert api is not None
    api.answers.clear()
    bookings = _appointments(clinic, TRIES)

    outcomes = in_parallel(
        [lambda b=b: _race(api, _cancel(b.appointment_id), _move(b)) for b in bookings]
    )

    problems = []
    for booking, (cancel, move) in zip(bookings, outcomes, strict=True):
        status, _starts_at = _state(clinic, booking.appointment_id)
        cancelled = cancel.status == 200
        facts = {
            "cancel": cancel.status,
            "move": move.status,
            "status": status,
            "makeups": _makeups(clinic, booking.appointment_id),
            "pending_reminders": _pending_reminders(clinic, booking.appointment_id),
        }
        consistent = (
            cancel.status in (200, 409)
            and move.status in (200, 409)
            and (status == "cancelled") == cancelled
            and facts["makeups"] == (1 if cancelled else 0)
            and (not cancelled or facts["pending_reminders"] == 0)
        )
        if not consistent:
            problems.append(facts)
    assert server_errors(api) == [], problems
    assert problems == [], "; ".join(map(str, problems))
