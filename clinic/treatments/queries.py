"""Read models for the treatment pages: the technician's day, the log form's prefill, the
review queue and the course record. Each loads in a fixed number of queries, so a page's
statement count does not grow with the data."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import joinedload, selectinload

from clinic import clock
from clinic.alerts.models import Alert, AlertKind
from clinic.alerts.services import risk_flags
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.courses.models import Course
from clinic.courses.titration import pct_for_session
from clinic.errors import NotFound
from clinic.extensions import db
from clinic.patients.models import Patient
from clinic.scheduling.models import Appointment, AppointmentStatus, Device
from clinic.scheduling.progress import PENDING_STATUSES, session_numbers
from clinic.scheduling.schedule import day_span
from clinic.scheduling.sites import get_site, held_at, site_tz
from clinic.treatments.models import (
    CoilTarget,
    MotorThreshold,
    TreatmentAmendment,
    TreatmentLog,
)
from clinic.treatments.thresholds import (
    ThresholdStatus,
    dose_pct_output,
    mt_max_age_days,
    rechecks_by_course,
    threshold_status,
    thresholds_by_course,
)
from clinic.treatments.treatment_log import loggable_refusal

REVIEW_QUEUE_LIMIT = 300
# The technician's day: what is still to come and what was done (not what fell through).
ON_THE_DAY = (*PENDING_STATUSES, AppointmentStatus.COMPLETED, AppointmentStatus.INCOMPLETE)
# Sessions the course record lists as missed.
NOT_DELIVERED = (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)


@dataclass
class SessionCard:
    """One appointment as the technician sees it, with what the log form is prefilled from."""

    appointment: Appointment
    log: TreatmentLog | None
    threshold: ThresholdStatus
    last_coil_location: str | None
    max_age_days: int
    session_number: int = 1
    """The session's place among the course's delivered ones, if delivered now."""
    coil_target: CoilTarget | None = None
    risk_flag: Alert | None = None
    """The item-9 alert that flags the patient (see `Alert.risk_flag`), if any."""

    @property
    def course(self) -> Course:
        return self.appointment.course

    @property
    def proposed_pct_mt(self) -> int:
        """The day's dose: the titration's step for this session, else the prescribed %MT."""
        return pct_for_session(self.course, self.session_number)

    @property
    def titrating(self) -> bool:
        return self.proposed_pct_mt < self.course.prescribed_pct_mt

    @property
    def planned_dose(self) -> float | None:
        mt = self.threshold.threshold or self.threshold.latest
        return dose_pct_output(self.proposed_pct_mt, mt.value_pct) if mt else None

    @property
    def can_check_in(self) -> bool:
        return self.appointment.status == AppointmentStatus.SCHEDULED

    @property
    def not_loggable_reason(self) -> str | None:
        refusal = loggable_refusal(self.appointment, self.course, clock.now())
        return refusal.message if refusal else None

    @property
    def can_log(self) -> bool:
        """Offer "Log session" only when the service would accept it now."""
        return (
            self.log is None
            and self.appointment.status in PENDING_STATUSES
            and self.not_loggable_reason is None
        )


def _last_coil_locations(course_ids: set[int]) -> dict[int, str]:
    """The coil position of each course's latest log that recorded one (else its latest MT's)."""
    if not course_ids:
        return {}
    found: dict[int, str] = {}
    for model in (MotorThreshold, TreatmentLog):
        newest = (
            select(model.course_id, func.max(model.id).label("newest"))
            .where(model.course_id.in_(course_ids), model.coil_location.is_not(None))
            .group_by(model.course_id)
            .subquery()
        )
        rows = db.session.execute(
            select(model.course_id, model.coil_location).join(newest, model.id == newest.c.newest)
        )
        found.update({course_id: coil for course_id, coil in rows if coil is not None})
    return found


def _session_cards(appointments: Sequence[Appointment]) -> list[SessionCard]:
    course_ids = {a.course_id for a in appointments}
    logs = (
        {
            log.appointment_id: log
            for log in db.session.scalars(
                select(TreatmentLog).where(
                    TreatmentLog.appointment_id.in_([a.id for a in appointments])
                )
            )
        }
        if appointments
        else {}
    )
    thresholds = thresholds_by_course(course_ids)
    rechecks = rechecks_by_course(course_ids)
    coils = _last_coil_locations(course_ids)
    max_age = mt_max_age_days()
    numbers = session_numbers(appointments)
    flags = risk_flags(a.patient_id for a in appointments)
    targets = (
        {
            target.course_id: target
            for target in db.session.scalars(
                select(CoilTarget).where(CoilTarget.course_id.in_(course_ids))
            )
        }
        if course_ids
        else {}
    )
    return [
        SessionCard(
            appointment=a,
            log=logs.get(a.id),
            threshold=threshold_status(
                a.starts_at, a.ends_at, thresholds[a.course_id], rechecks[a.course_id], max_age
            ),
            last_coil_location=coils.get(a.course_id),
            max_age_days=max_age,
            session_number=numbers.get(a.id, 1),
            coil_target=targets.get(a.course_id),
            risk_flag=flags.get(a.patient_id),
        )
        for a in appointments
    ]


def _appointment_card_options() -> list[Any]:
    return [
        joinedload(Appointment.course).joinedload(Course.protocol),
        joinedload(Appointment.patient),
        joinedload(Appointment.device),
        joinedload(Appointment.technician),
    ]


def todays_sessions(day: date, technician_id: int | None, site_id: int) -> list[SessionCard]:
    """The day's live sessions at a site in order, its day on its clock: the technician's
    own and the unassigned ones, or everyone's when `technician_id` is None. A fixed
    number of queries."""
    start, end = day_span(day, day, site_tz(get_site(site_id)))
    query = (
        select(Appointment)
        .join(Appointment.device)
        .where(
            Device.site_id == site_id,
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
            Appointment.status.in_(ON_THE_DAY),
        )
        .options(*_appointment_card_options())
        .order_by(Appointment.starts_at, Appointment.id)
    )
    if technician_id is not None:
        query = query.where(
            (Appointment.technician_id == technician_id) | Appointment.technician_id.is_(None)
        )
    return _session_cards(db.session.scalars(query).all())


def session_card(appointment_id: int, *, viewer_id: int | None) -> SessionCard:
    """One session's card for the log form; opening it is reading the patient's chart,
    so it is audited as a view."""
    appointment = db.session.scalar(
        select(Appointment)
        .where(Appointment.id == appointment_id)
        .options(*_appointment_card_options())
    )
    if appointment is None:
        raise NotFound(f"No appointment {appointment_id}.")
    record(viewer_id, AuditAction.VIEW, "patient", appointment.patient_id)
    return _session_cards([appointment])[0]


@dataclass
class ReviewQueue:
    adverse_events: list[TreatmentLog] = field(default_factory=list)
    unsigned: list[TreatmentLog] = field(default_factory=list)
    unreviewed: list[TreatmentLog] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.adverse_events) + len(self.unsigned) + len(self.unreviewed)


def review_queue(
    limit: int = REVIEW_QUEUE_LIMIT, *, site_ids: set[int] | None = None
) -> ReviewQueue:
    """Every log not yet reviewed, adverse events first, oldest session first (bounded);
    of sessions at `site_ids` only when given (a clinician limited to sites)."""
    at_sites = [] if site_ids is None else [held_at(site_ids)]
    logs = db.session.scalars(
        select(TreatmentLog)
        .join(TreatmentLog.appointment)
        .where(TreatmentLog.reviewed_at.is_(None), *at_sites)
        .options(
            joinedload(TreatmentLog.appointment)
            .joinedload(Appointment.device)
            .joinedload(Device.site),
            joinedload(TreatmentLog.patient),
            joinedload(TreatmentLog.course).joinedload(Course.protocol),
            joinedload(TreatmentLog.logged_by),
            joinedload(TreatmentLog.signed_by),
        )
        .order_by(Appointment.starts_at, TreatmentLog.id)
        .limit(limit)
    ).all()
    queue = ReviewQueue()
    for log in logs:
        if log.adverse_event_type is not None:
            queue.adverse_events.append(log)
        elif log.signed_at is None:
            queue.unsigned.append(log)
        else:
            queue.unreviewed.append(log)
    return queue


@dataclass
class CourseRecord:
    course: Course
    logs: list[TreatmentLog]
    thresholds: list[MotorThreshold]
    missed: list[Appointment]
    alerts: list[Alert]
    coil_target: CoilTarget | None = None

    @property
    def delivered(self) -> int:
        return sum(1 for log in self.logs if log.completed)

    @property
    def incomplete(self) -> int:
        return sum(1 for log in self.logs if not log.completed)

    @property
    def pulses_total(self) -> int:
        return sum(log.pulses_delivered for log in self.logs)


def course_record(course_id: int, *, actor_id: int | None) -> CourseRecord:
    """Everything a payer or referring doctor reads about a course, in a fixed number of
    queries (a course holds a few dozen sessions); records that the actor read the
    patient's record."""
    course = db.session.scalar(
        select(Course)
        .where(Course.id == course_id)
        .options(
            joinedload(Course.patient).selectinload(Patient.diagnoses),
            joinedload(Course.protocol),
            joinedload(Course.prescriber),
            joinedload(Course.authorization),
        )
    )
    if course is None:
        raise NotFound(f"No course {course_id}.")
    record(
        actor_id,
        AuditAction.VIEW,
        "patient",
        course.patient_id,
        detail={"course_record": course_id},
    )
    logs = db.session.scalars(
        select(TreatmentLog)
        .join(TreatmentLog.appointment)
        .where(TreatmentLog.course_id == course_id)
        .options(
            joinedload(TreatmentLog.appointment)
            .joinedload(Appointment.device)
            .joinedload(Device.site),
            joinedload(TreatmentLog.logged_by),
            joinedload(TreatmentLog.signed_by),
            joinedload(TreatmentLog.reviewed_by),
            joinedload(TreatmentLog.supervisor),
            joinedload(TreatmentLog.motor_threshold),
            selectinload(TreatmentLog.amendments).joinedload(TreatmentAmendment.actor),
        )
        .order_by(Appointment.starts_at, TreatmentLog.id)
    ).all()
    thresholds = db.session.scalars(
        select(MotorThreshold)
        .where(MotorThreshold.course_id == course_id)
        .options(joinedload(MotorThreshold.measured_by))
        .order_by(MotorThreshold.measured_at, MotorThreshold.id)
    ).all()
    missed = db.session.scalars(
        select(Appointment)
        .where(Appointment.course_id == course_id, Appointment.status.in_(NOT_DELIVERED))
        .options(joinedload(Appointment.device).joinedload(Device.site))
        .order_by(Appointment.starts_at)
    ).all()
    alerts = db.session.scalars(
        select(Alert)
        .where(
            Alert.course_id == course_id,
            Alert.kind.in_((AlertKind.ADVERSE_EVENT, AlertKind.SUICIDAL_IDEATION)),
        )
        .order_by(Alert.created_at)
    ).all()
    target = db.session.scalar(select(CoilTarget).where(CoilTarget.course_id == course_id))
    return CourseRecord(
        course, list(logs), list(thresholds), list(missed), list(alerts), coil_target=target
    )
