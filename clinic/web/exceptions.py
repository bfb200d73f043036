"""Today's exceptions beside the day board: what the front desk must act on before the
patients arrive (sessions not confirmed, change requests, questionnaires due, an
authorization running out). A fixed number of queries whatever the day holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, select
from sqlalchemy.orm import load_only, selectinload

from clinic.courses.authorization import LOW_AUTHORIZATION_SESSIONS, authorization_meters
from clinic.courses.models import Course
from clinic.extensions import db
from clinic.scheduling.board import DayBoard
from clinic.scheduling.models import AppointmentStatus
from clinic.scheduling.schedule import BoardSession


@dataclass
class DayExceptions:
    unconfirmed: list[BoardSession] = field(default_factory=list)
    change_requested: list[BoardSession] = field(default_factory=list)
    questionnaires_due: list[tuple[BoardSession, int]] = field(default_factory=list)
    authorization: list[tuple[BoardSession, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return (
            len(self.unconfirmed)
            + len(self.change_requested)
            + len(self.questionnaires_due)
            + len(self.authorization)
        )


def _appointments(board: DayBoard) -> list[BoardSession]:
    found: dict[int, BoardSession] = {}
    for row in board.rows:
        for cell in row.cells:
            if cell is not None and cell.kind == "booked":
                for block in cell.blocks:
                    found[block.appointment.id] = block.appointment
    return sorted(found.values(), key=lambda a: (a.starts_at, a.id))


@cache
def _authorized_courses() -> Select[Course]:
    """Of these courses, those with an authorization and it (the meter needs no more of
    the course); built once."""
    return (
        select(Course)
        .where(
            Course.id.in_(bindparam("ids", expanding=True)), Course.authorization_id.is_not(None)
        )
        .options(load_only(Course.id, Course.authorization_id), selectinload(Course.authorization))
    )


def _authorization_warnings(appointments: list[BoardSession]) -> dict[int, str]:
    """course id -> why its authorization needs the front desk's attention."""
    course_ids = sorted({a.course_id for a in appointments})
    if not course_ids:
        return {}
    courses = db.session.scalars(_authorized_courses(), {"ids": course_ids}).all()
    warnings = {}
    for course_id, meter in authorization_meters(courses).items():
        if meter.over_booked or meter.runs_past_end:
            warnings[course_id] = meter.warning or "Authorization exceeded."
        elif meter.sessions_remaining < LOW_AUTHORIZATION_SESSIONS:
            warnings[course_id] = f"{meter.sessions_remaining} authorized sessions left."
    return warnings


def day_exceptions(
    board: DayBoard, *, confirmed: Any, change_requested: Any, questionnaires_due: dict[int, int]
) -> DayExceptions:
    appointments = _appointments(board)
    live = [a for a in appointments if a.status == AppointmentStatus.SCHEDULED]
    warnings = _authorization_warnings(live)
    seen_patients: set[int] = set()
    exceptions = DayExceptions(
        unconfirmed=[a for a in live if a.id not in confirmed],
        change_requested=[a for a in live if a.id in change_requested],
    )
    for appointment in live:
        due = questionnaires_due.get(appointment.patient_id)
        if due and appointment.patient_id not in seen_patients:
            seen_patients.add(appointment.patient_id)
            exceptions.questionnaires_due.append((appointment, due))
        if appointment.course_id in warnings:
            exceptions.authorization.append((appointment, warnings.pop(appointment.course_id)))
    return exceptions
