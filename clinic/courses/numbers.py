"""A course as its pages read it: the course, its sessions and its numbers.

The numbers ask `clinic.scheduling.progress` (how far along, when it should end) and
the authorization meter; reads of a patient's courses are audited here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.courses.authorization import AuthorizationSummary, authorization_meters
from clinic.courses.models import Course
from clinic.errors import NotFound
from clinic.extensions import db
from clinic.patients.models import Patient
from clinic.scheduling.models import Appointment, Device
from clinic.scheduling.patterns import course_pattern
from clinic.scheduling.progress import course_progress, projected_ends


@dataclass
class CourseSummary:
    """A course's numbers. Every treatment appointment is exactly one of delivered,
    scheduled (booked, not yet resolved), missed (no-show, incomplete) or cancelled."""

    course: Course
    delivered_sessions: int
    scheduled_sessions: int
    missed_sessions: int
    cancelled_sessions: int
    remaining_sessions: int
    unbooked_sessions: int
    projected_end_date: date | None
    projected_end_estimated: bool
    authorization: AuthorizationSummary | None

    @property
    def id(self) -> int:
        return self.course.id

    def as_dict(self) -> dict[str, Any]:
        course = self.course
        return {
            "id": course.id,
            "patient_id": course.patient_id,
            "protocol": course.protocol.code,
            "protocol_name": course.protocol.name,
            "status": course.status,
            "status_reason": course.status_reason,
            "status_changed_at": course.status_changed_at,
            "planned_sessions": course.planned_sessions,
            "prescribed_pct_mt": course.prescribed_pct_mt,
            "pct_mt_reason": course.pct_mt_reason,
            "titration": course.titration,
            "target": course.target,
            "notes": course.notes,
            "prescriber_id": course.prescriber_id,
            "authorization_id": course.authorization_id,
            "created_at": course.created_at,
            "kind": course.kind,
            "previous_course_id": course.previous_course_id,
            "pattern": course.pattern
            if course.pattern is not None
            else course_pattern(course).as_json(),
            "pattern_source": "course" if course.pattern is not None else "protocol",
            "delivered_sessions": self.delivered_sessions,
            "scheduled_sessions": self.scheduled_sessions,
            "missed_sessions": self.missed_sessions,
            "cancelled_sessions": self.cancelled_sessions,
            "remaining_sessions": self.remaining_sessions,
            "unbooked_sessions": self.unbooked_sessions,
            "projected_end_date": self.projected_end_date,
            "projected_end_estimated": self.projected_end_estimated,
            "authorization": None
            if self.authorization is None
            else {
                "id": self.authorization.id,
                "status": self.authorization.status,
                "payer": self.authorization.payer,
                "number": self.authorization.number,
                "sessions_authorized": self.authorization.sessions_authorized,
                "valid_from": self.authorization.valid_from,
                "valid_to": self.authorization.valid_to,
                "sessions_used": self.authorization.sessions_used,
                "sessions_remaining": self.authorization.sessions_remaining,
                "sessions_booked": self.authorization.sessions_booked,
                "warning": self.authorization.warning,
            },
        }


def course_summaries(courses: Sequence[Course]) -> list[CourseSummary]:
    """Numbers for several courses in a fixed number of queries (for lists and the chart)."""
    progress = course_progress(course.id for course in courses)
    ends = projected_ends(courses, progress)
    meters = authorization_meters(courses)
    summaries = []
    for course in courses:
        done = progress[course.id]
        summaries.append(
            CourseSummary(
                course=course,
                delivered_sessions=done.delivered,
                scheduled_sessions=done.scheduled,
                missed_sessions=done.missed,
                cancelled_sessions=done.cancelled,
                remaining_sessions=done.remaining(course.planned_sessions),
                unbooked_sessions=done.unbooked(course.planned_sessions),
                projected_end_date=ends[course.id].end,
                projected_end_estimated=ends[course.id].estimated,
                authorization=meters.get(course.id),
            )
        )
    return summaries


def course_summary(course: Course) -> CourseSummary:
    return course_summaries([course])[0]


def get_course(course_id: int) -> Course:
    course = db.session.scalar(
        select(Course)
        .options(
            joinedload(Course.protocol),
            joinedload(Course.patient),
            joinedload(Course.prescriber),
            joinedload(Course.authorization),
        )
        .where(Course.id == course_id)
    )
    if course is None:
        raise NotFound(f"No course {course_id}.")
    return course


def read_course(course_id: int, *, actor_id: int | None) -> CourseSummary:
    """A course and its numbers, recording that the actor read the patient's record."""
    course = get_course(course_id)
    record(actor_id, AuditAction.VIEW, "patient", course.patient_id, detail={"course": course.id})
    return course_summary(course)


def read_patient_courses(patient_id: int, *, actor_id: int | None) -> list[CourseSummary]:
    if db.session.get(Patient, patient_id) is None:
        raise NotFound(f"No patient {patient_id}.")
    record(actor_id, AuditAction.VIEW, "patient", patient_id, detail={"courses": True})
    return course_summaries(patient_courses(patient_id))


def course_appointments(course_id: int, *, limit: int) -> Sequence[Appointment]:
    """The course's appointments in time order, with their chairs and sites (for the
    calendar, which shows each on its site's clock)."""
    return db.session.scalars(
        select(Appointment)
        .options(joinedload(Appointment.device).joinedload(Device.site))
        .where(Appointment.course_id == course_id)
        .order_by(Appointment.starts_at, Appointment.id)
        .limit(limit)
    ).all()


def patient_courses(patient_id: int, *, limit: int = 50) -> Sequence[Course]:
    """A patient's courses, newest first (a patient has a handful; bounded anyway)."""
    return db.session.scalars(
        select(Course)
        .options(joinedload(Course.protocol), joinedload(Course.authorization))
        .where(Course.patient_id == patient_id)
        .order_by(Course.created_at.desc(), Course.id.desc())
        .limit(limit)
    ).all()
