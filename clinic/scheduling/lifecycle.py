"""The appointment lifecycle: the only code that changes an appointment's status.

scheduled -> checked_in -> completed | incomplete (a treatment log records the session),
and scheduled | checked_in -> cancelled | no_show. A treatment that was not delivered
(cancelled, missed, stopped early) is made up while its course is active. Every change
is audited and announced through `clinic.events`; functions flush, never commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from clinic import clock, events
from clinic.alerts.models import AlertKind
from clinic.alerts.services import raise_alert
from clinic.audit.models import AuditAction
from clinic.auth.models import User
from clinic.errors import Conflict
from clinic.extensions import db
from clinic.permissions import Role
from clinic.scheduling.booking_service import audit_appointment, refused_overlaps
from clinic.scheduling.calendar import clean_text, locked_appointment
from clinic.scheduling.makeups import MakeUp, book_makeup
from clinic.scheduling.models import (
    ACTIVE_COURSE,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
)
from clinic.scheduling.sites import require_appointment_site
from clinic.scheduling.technicians import overlapping

if TYPE_CHECKING:
    from clinic.courses.models import Course

CANCELLABLE_STATUSES = (AppointmentStatus.SCHEDULED, AppointmentStatus.CHECKED_IN)


def _claim_for_technician(appointment: Appointment, actor_id: int | None) -> None:
    """A technician who receives or treats the patient takes a session nobody has yet,
    unless they run another appointment then (one person, one chair at a time)."""
    actor = db.session.get(User, actor_id) if actor_id is not None else None
    if (
        actor is not None
        and actor.role == Role.TECHNICIAN
        and appointment.technician_id is None
        and overlapping(actor.id, appointment.starts_at, appointment.ends_at, appointment.id)
        is None
    ):
        try:
            with refused_overlaps(), db.session.begin_nested():
                appointment.technician_id = actor.id
        except Conflict:
            pass  # a check-in racing this one gave them an overlapping session: stay unclaimed


def check_in(appointment_id: int, actor_id: int | None, reason: str | None = None) -> Appointment:
    """The patient is here. Checking in twice is harmless; a closed appointment refuses."""
    appointment = locked_appointment(appointment_id)
    require_appointment_site(actor_id, appointment)
    if appointment.status == AppointmentStatus.CHECKED_IN:
        return appointment
    if appointment.status != AppointmentStatus.SCHEDULED:
        raise Conflict(
            f"This appointment is {appointment.status.replace('_', '-')}; "
            "only a scheduled appointment can be checked in.",
            details={"reason": "not_scheduled", "status": appointment.status},
        )
    appointment.status = AppointmentStatus.CHECKED_IN
    appointment.checked_in_at = clock.now()
    if reason:
        appointment.status_reason = reason
    _claim_for_technician(appointment, actor_id)
    db.session.flush()
    audit_appointment(
        actor_id, AuditAction.CHECK_IN, appointment, detail={"reason": reason} if reason else None
    )
    return appointment


def record_session(appointment: Appointment, *, delivered: bool, actor_id: int | None) -> None:
    """A treatment log was written for the session: it was delivered, or stopped early
    (then the caller books its make-up with `make_up_for` once its own reactions ran)."""
    appointment.status = AppointmentStatus.COMPLETED if delivered else AppointmentStatus.INCOMPLETE
    appointment.delivered_at = clock.now() if delivered else None
    _claim_for_technician(appointment, actor_id)
    db.session.flush()


@dataclass(frozen=True)
class StatusChange:
    appointment: Appointment
    makeup: Appointment | None
    moved: tuple[Appointment, ...] = ()
    """Later sessions the make-up moved (a miss in the daily phase pushes the taper)."""


def _end_appointment(
    appointment_id: int, status: AppointmentStatus, reason: str | None, actor_id: int | None
) -> StatusChange:
    appointment = locked_appointment(appointment_id)
    require_appointment_site(actor_id, appointment)
    if appointment.status not in CANCELLABLE_STATUSES:
        raise Conflict(
            f"A {appointment.status.replace('_', ' ')} appointment cannot be marked "
            f"{status.replace('_', ' ')}.",
            code="invalid_status",
        )
    appointment.status = status
    appointment.status_reason = clean_text(reason, 2000, "Reason")
    db.session.flush()
    action = AuditAction.NO_SHOW if status == AppointmentStatus.NO_SHOW else AuditAction.CANCEL
    audit_appointment(actor_id, action, appointment, detail={"reason": appointment.status_reason})
    events.appointment_cancelled.send(None, appointment=appointment, actor_id=actor_id)
    made = make_up_for(appointment, actor_id)
    if made is None:
        return StatusChange(appointment, None)
    return StatusChange(appointment, made.makeup, made.moved)


def make_up_for(appointment: Appointment, actor_id: int | None) -> MakeUp | None:
    """Book the make-up of a treatment that was not delivered (cancelled, missed, stopped
    early) while its course is active, inside the daily phase when it was missed there
    (`clinic.scheduling.makeups`). When no room can be found the session is still
    recorded as not delivered, and the front desk gets an alert to place it by hand."""
    course = appointment.course
    if appointment.kind != AppointmentKind.TREATMENT or course.status != ACTIVE_COURSE:
        return None
    try:
        with db.session.begin_nested():
            return book_makeup(course, actor_id, makeup_for=appointment)
    except Conflict as exc:
        raise_alert(
            AlertKind.MAKEUP_UNPLACED,
            "A make-up session could not be booked",
            message=exc.message,
            audience=Role.FRONT_DESK,
            patient_id=course.patient_id,
            course_id=course.id,
            subject=("appointment", appointment.id),
            actor_id=actor_id,
        )
        return None


def cancel_appointment(
    appointment_id: int, *, reason: str | None, actor_id: int | None
) -> StatusChange:
    """Cancel a session and book its make-up (inside the daily phase when it was there)."""
    return _end_appointment(appointment_id, AppointmentStatus.CANCELLED, reason, actor_id)


def record_no_show(
    appointment_id: int, *, reason: str | None, actor_id: int | None
) -> StatusChange:
    """Mark a missed session and book its make-up (inside the daily phase when it was there)."""
    return _end_appointment(appointment_id, AppointmentStatus.NO_SHOW, reason, actor_id)


def cancel_future_sessions(
    course: Course, *, now: datetime, reason: str, actor_id: int | None
) -> Sequence[Appointment]:
    """A course ended: cancel what has not begun, without make-ups."""
    future = db.session.scalars(
        select(Appointment).where(
            Appointment.course_id == course.id,
            Appointment.status == AppointmentStatus.SCHEDULED,
            Appointment.starts_at > now,
        )
    ).all()
    for appointment in future:
        appointment.status = AppointmentStatus.CANCELLED
        appointment.status_reason = reason[:2000]
        audit_appointment(
            actor_id, AuditAction.CANCEL, appointment, detail={"reason": "course ended"}
        )
    db.session.flush()
    for appointment in future:
        events.appointment_cancelled.send(None, appointment=appointment, actor_id=actor_id)
    return future
