"""Writing bookings: a course's sessions by its pattern (or a preview of them), one
appointment, a move, a make-up. The planner itself is `booking` (pure); this module
asks it with what `calendar` loads, writes the result, audits and sends the events.

Courses are handed in by the caller (scheduling sits below courses and never loads
one); their protocol and patient come through the relationships.

Double booking: on PostgreSQL the exclusion constraints of migration 0001 refuse an
overlap even when two requests pass the check at once (their IntegrityError becomes a
409 `conflict` here); on SQLite every writing transaction begins IMMEDIATE, so the check
and the insert below run one request at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from clinic import clock, events
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.auth.models import User
from clinic.errors import Conflict, Invalid
from clinic.extensions import db
from clinic.permissions import Role
from clinic.scheduling import booking
from clinic.scheduling.calendar import (
    get_device,
    get_row,
    load_calendar,
    locked_appointment,
    occupancy,
    patient_tz,
    planner_patient,
)
from clinic.scheduling.models import (
    ACTIVE_COURSE,
    LIVE_STATUSES,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
)
from clinic.scheduling.patterns import expand_pattern
from clinic.scheduling.progress import course_progress

if TYPE_CHECKING:
    from clinic.courses.models import Course

EXCLUSION_VIOLATION = "23P01"
# Who may run a session (a front-desk account may not).
SESSION_STAFF = (Role.TECHNICIAN, Role.CLINICIAN, Role.ADMIN)


def _refuse_inactive(course: Course, detail: str = "") -> None:
    if course.status != ACTIVE_COURSE:
        raise Conflict(
            f"Course {course.id} is {course.status.replace('_', ' ')}{detail}.",
            code="course_not_active",
        )


def _next_sequence(course_id: int) -> int:
    highest = db.session.scalar(
        select(func.max(Appointment.sequence)).where(Appointment.course_id == course_id)
    )
    return (highest or 0) + 1


def _usual_device(course_id: int) -> int | None:
    """The chair of the course's latest live session: "any free chair" keeps to it."""
    return db.session.scalar(
        select(Appointment.device_id)
        .where(
            Appointment.course_id == course_id,
            Appointment.status.not_in((AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)),
        )
        .order_by(Appointment.starts_at.desc(), Appointment.id.desc())
        .limit(1)
    )


@dataclass
class CoursePlan:
    """A preview: every session the booking would create, and what got in the way."""

    course: Course
    sessions: list[booking.PlannedSession]
    clashes: list[str]
    missing: int
    first_sequence: int
    calendar: booking.Calendar

    @property
    def complete(self) -> bool:
        return self.missing == 0 and bool(self.sessions)


def preview_course(
    course: Course, *, start_date: date, local_time: time, device_id: int | None = None
) -> CoursePlan:
    """What `schedule_course` would book, without writing anything."""
    _refuse_inactive(course, "; only active courses are booked")
    unbooked = course_progress([course.id])[course.id].unbooked(course.planned_sessions)
    if unbooked == 0:
        raise Conflict(
            f"Every session of course {course.id} is already delivered or booked.",
            code="nothing_to_schedule",
        )
    if device_id is not None:
        get_device(device_id)
    protocol = course.protocol
    phases = expand_pattern(
        protocol.pattern,
        course.planned_sessions,
        unbooked,
        start=start_date,
        sessions_per_day=protocol.sessions_per_day,
        min_gap_minutes=protocol.min_gap_minutes,
    )
    request = booking.Request(
        patient=planner_patient(course),
        phases=phases,
        start=start_date,
        local_time=local_time,
        length=timedelta(minutes=protocol.slot_minutes),
        device_id=device_id,
        usual_device_id=_usual_device(course.id) if device_id is None else None,
    )
    calendar = load_calendar(start_date, start_date + timedelta(days=request.horizon_days))
    plan = booking.plan_sessions(calendar, occupancy(), request)
    return CoursePlan(
        course=course,
        sessions=plan.sessions,
        clashes=plan.clashes,
        missing=plan.missing,
        first_sequence=_next_sequence(course.id),
        calendar=calendar,
    )


def schedule_course(
    course: Course,
    *,
    start_date: date,
    local_time: time,
    device_id: int | None = None,
    actor_id: int | None,
) -> list[Appointment]:
    """Book every remaining session of an active course by its protocol's pattern.

    Refused (409) when the course is not active (`course_not_active`), has nothing left
    to book (`nothing_to_schedule`), or cannot be placed in full within a year
    (`cannot_place`): half a course is worse than none, so nothing is written then.
    """
    plan = preview_course(course, start_date=start_date, local_time=local_time, device_id=device_id)
    if not plan.complete:
        raise Conflict(
            f"{plan.missing} of {plan.missing + len(plan.sessions)} sessions found no free "
            f"chair within {booking.HORIZON_DAYS} days; nothing was booked.",
            code="cannot_place",
            details={"clashes": plan.clashes[:50]},
        )
    appointments = [
        Appointment(
            course_id=course.id,
            patient_id=course.patient_id,
            device_id=session.device_id,
            # In UTC as the database gives them back: the answer is not reloaded.
            starts_at=session.starts_at.astimezone(UTC),
            ends_at=session.ends_at.astimezone(UTC),
            kind=AppointmentKind.TREATMENT,
            status=AppointmentStatus.SCHEDULED,
            sequence=plan.first_sequence + index,
        )
        for index, session in enumerate(plan.sessions)
    ]
    _insert(appointments)
    # One audit event for the whole booking, naming every appointment it created.
    record(
        actor_id,
        AuditAction.SCHEDULE,
        "course",
        course.id,
        patient_id=course.patient_id,
        detail={"appointment_ids": [appointment.id for appointment in appointments]},
    )
    events.appointments_booked.send(None, appointments=appointments, actor_id=actor_id)
    return appointments


def audit_appointment(
    actor_id: int | None,
    action: AuditAction,
    appointment: Appointment,
    detail: dict[str, Any] | None = None,
) -> None:
    record(
        actor_id,
        action,
        "appointment",
        appointment.id,
        patient_id=appointment.patient_id,
        detail=detail,
    )


def _insert(appointments: list[Appointment]) -> None:
    """Insert inside a savepoint, so the database's own refusal becomes a 409."""
    try:
        with db.session.begin_nested():
            db.session.add_all(appointments)
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
            raise Conflict(
                "That time was just taken by another booking.",
                details={"clashes": [{"code": "device_or_patient", "message": str(exc.orig)}]},
            ) from exc
        raise


def _refuse_clashes(found: list[booking.Clash]) -> None:
    if found:
        raise Conflict(
            " ".join(clash.message for clash in found),
            details={"clashes": [{"code": c.code, "message": c.message} for c in found]},
        )


def _check_kind(kind: str) -> None:
    if kind not in tuple(AppointmentKind):
        choices = ", ".join(AppointmentKind)
        raise Invalid("Unknown kind.", fields={"kind": [f"One of {choices}."]})


def _check_slot(
    course: Course,
    device_id: int,
    starts_at: datetime,
    ends_at: datetime,
    *,
    kind: str,
    ignore: int | None = None,
) -> None:
    get_device(device_id)
    day = starts_at.astimezone(clock.clinic_tz()).date()
    patient = planner_patient(course, kind)
    _refuse_clashes(
        booking.clashes(
            load_calendar(day, day),
            occupancy(ignore=ignore),
            patient,
            device_id,
            starts_at,
            ends_at,
        )
    )


def book_appointment(
    course: Course,
    *,
    device_id: int,
    starts_at: datetime,
    kind: str = AppointmentKind.TREATMENT,
    technician_id: int | None = None,
    actor_id: int | None,
) -> Appointment:
    """Book one session of a course at an exact time and chair, or 409 `conflict` naming
    every clash (chair, patient, clinic closed or outside hours, maintenance)."""
    _check_kind(kind)
    _refuse_inactive(course)
    ends_at = starts_at + timedelta(minutes=course.protocol.slot_minutes)
    _check_slot(course, device_id, starts_at, ends_at, kind=kind)
    appointment = Appointment(
        course_id=course.id,
        patient_id=course.patient_id,
        device_id=device_id,
        technician_id=_technician(technician_id),
        starts_at=starts_at,
        ends_at=ends_at,
        kind=kind,
        status=AppointmentStatus.SCHEDULED,
        sequence=_next_sequence(course.id),
    )
    _insert([appointment])
    audit_appointment(actor_id, AuditAction.CREATE, appointment)
    events.appointments_booked.send(None, appointments=[appointment], actor_id=actor_id)
    return appointment


def _technician(user_id: int | None) -> int | None:
    if user_id is None:
        return None
    user = get_row(User, user_id, "user")
    if user.role not in SESSION_STAFF:
        raise Invalid(
            "Only technicians and clinicians run sessions.",
            fields={"technician_id": ["Not a technician."]},
        )
    return user.id


def move_appointment(
    appointment_id: int,
    *,
    starts_at: datetime | None = None,
    device_id: int | None = None,
    actor_id: int | None,
    technician_id: int | None = None,
    assign_technician: bool = False,
) -> Appointment:
    """Move a scheduled session to another time and/or chair (and, with
    `assign_technician`, set who runs it). Its revision grows, so calendar entries follow.
    The appointment is locked first: a cancel racing the move waits for it, or refuses it."""
    appointment = locked_appointment(appointment_id)
    if appointment.status != AppointmentStatus.SCHEDULED:
        raise Conflict(
            f"A {appointment.status.replace('_', ' ')} appointment cannot be moved.",
            code="invalid_status",
        )
    old_starts_at, old_device_id = appointment.starts_at, appointment.device_id
    new_start = starts_at or old_starts_at
    new_device = device_id or old_device_id
    if assign_technician:
        appointment.technician_id = _technician(technician_id)
    if (new_start, new_device) == (old_starts_at, old_device_id):
        db.session.flush()
        return appointment
    length = appointment.ends_at - appointment.starts_at
    _check_slot(
        appointment.course,
        new_device,
        new_start,
        new_start + length,
        kind=appointment.kind,
        ignore=appointment.id,
    )
    try:
        with db.session.begin_nested():
            appointment.starts_at = new_start
            appointment.ends_at = new_start + length
            appointment.device_id = new_device
            appointment.revision += 1
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION:
            raise Conflict("That time was just taken by another booking.") from exc
        raise
    audit_appointment(
        actor_id,
        AuditAction.MOVE,
        appointment,
        detail={"from": old_starts_at.isoformat(), "device_from": old_device_id},
    )
    events.appointment_moved.send(
        None,
        appointment=appointment,
        old_starts_at=old_starts_at,
        old_device_id=old_device_id,
        actor_id=actor_id,
    )
    return appointment


def book_makeup(
    course: Course, actor_id: int | None, *, makeup_for: Appointment | None = None
) -> Appointment:
    """Book one make-up session on the first open weekday after the course's last live
    session, at the missed session's local time (or the last session's), so the course
    still delivers its planned count. 409 `cannot_place` when a year holds no room."""
    last = db.session.scalar(
        select(Appointment)
        .where(
            Appointment.course_id == course.id,
            Appointment.kind == AppointmentKind.TREATMENT,
            Appointment.status.in_(LIVE_STATUSES),
        )
        .order_by(Appointment.starts_at.desc())
        .limit(1)
    )
    tz = patient_tz(course.patient)
    reference = makeup_for or last
    after = last.starts_at if last is not None else (makeup_for.starts_at if makeup_for else None)
    start_day = (after.astimezone(tz).date() if after else clock.today(tz)) + timedelta(days=1)
    local_time = reference.starts_at.astimezone(tz).time() if reference else time(9)
    request = booking.Request(
        patient=planner_patient(course),
        phases=booking.Phases(daily=1),
        start=start_day,
        local_time=local_time,
        length=timedelta(minutes=course.protocol.slot_minutes),
        device_id=reference.device_id if reference else None,
    )
    calendar = load_calendar(start_day, start_day + timedelta(days=request.horizon_days))
    plan = booking.plan_sessions(calendar, occupancy(), request)
    if plan.missing or not plan.sessions:
        raise Conflict(
            "No free chair for a make-up session within a year.",
            code="cannot_place",
            details={"clashes": plan.clashes[:20]},
        )
    session = plan.sessions[0]
    appointment = Appointment(
        course_id=course.id,
        patient_id=course.patient_id,
        device_id=session.device_id,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        kind=AppointmentKind.TREATMENT,
        status=AppointmentStatus.SCHEDULED,
        sequence=_next_sequence(course.id),
        is_makeup=True,
        makeup_for_id=makeup_for.id if makeup_for else None,
    )
    _insert([appointment])
    audit_appointment(
        actor_id, AuditAction.CREATE, appointment, detail={"makeup_for": appointment.makeup_for_id}
    )
    events.appointments_booked.send(None, appointments=[appointment], actor_id=actor_id)
    return appointment
