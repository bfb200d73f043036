"""Read-check-write on a course's shared rows, raced over real concurrent connections
(`tests.courses.races`): a status change and the authorization count."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from clinic.alerts.models import Alert, AlertKind
from clinic.audit.models import AuditAction, AuditEvent
from clinic.courses.models import CourseStatus
from clinic.courses.numbers import get_course
from clinic.courses.status import set_course_status
from clinic.extensions import db
from clinic.scheduling import booking_service
from clinic.scheduling.models import AppointmentStatus
from tests.courses.conftest import NOW, add_sessions, make_authorization
from tests.courses.races import Contender, race
from tests.factories import make_course, make_device, make_patient


def _status_change(course_id: int, status: str, reason: str | None, actor_id: int) -> Contender:
    def read() -> Any:
        course = get_course(course_id)
        return lambda: set_course_status(course, status, reason, actor_id=actor_id)

    return read


def test_two_status_changes_at_once_one_wins_the_other_is_refused(
    app: Any, backend: str, frozen: Any, clinician: Any
) -> None:
    course = make_course(prescriber=clinician)
    add_sessions(course, [AppointmentStatus.SCHEDULED] * 3, start=NOW + timedelta(days=1))
    answers = race(
        app,
        backend,
        [
            _status_change(course.id, CourseStatus.COMPLETED, None, clinician.id),
            _status_change(course.id, CourseStatus.DISCONTINUED, "Moved away.", clinician.id),
        ],
    )
    # Whichever ended the course first wins; the other finds it closed (only an admin
    # reopens a course), instead of overwriting it and ending it a second time.
    assert answers == [200, 409]
    changes = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == AuditAction.STATUS_CHANGE, AuditEvent.entity_id == course.id
        )
    ).all()
    assert len(changes) == 1
    assert changes[0].detail["to"] == get_course(course.id).status
    assert len(changes[0].detail["cancelled_appointments"]) == 3


def _booking(course_id: int, device_id: int, starts_at: Any, actor_id: int) -> Contender:
    def read() -> Any:
        course = get_course(course_id)
        return lambda: booking_service.book_appointment(
            course, device_id=device_id, starts_at=starts_at, actor_id=actor_id
        )

    return read


def test_bookings_drawing_on_one_authorization_at_once_count_each_other(
    app: Any, backend: str, frozen: Any, front_desk: Any
) -> None:
    patient = make_patient()
    authorization = make_authorization(patient, 2)
    first = make_course(patient, authorization_id=authorization.id)
    continuation = make_course(patient, authorization_id=authorization.id)
    add_sessions(first, [AppointmentStatus.SCHEDULED], start=NOW + timedelta(days=3))
    answers = race(
        app,
        backend,
        [
            _booking(first.id, make_device().id, NOW + timedelta(hours=1), front_desk.id),
            _booking(continuation.id, make_device().id, NOW + timedelta(days=1), front_desk.id),
        ],
    )
    assert answers == [200, 200]
    # Three sessions booked on two authorized: the booking that counted last saw all
    # three (each alone saw two of two, and neither warned).
    alerts = db.session.scalars(select(Alert).where(Alert.kind == AlertKind.AUTHORIZATION)).all()
    assert [alert.dedupe_key.rsplit(":", 1)[1] for alert in alerts] == ["exceeded"]
    assert "3 sessions delivered or booked; 2 authorized" in alerts[0].message
