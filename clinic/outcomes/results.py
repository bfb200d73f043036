"""The kept course results (`CourseOutcome`): marked stale by the writes they depend on,
judged again before a report reads them.

Why kept: judging a course reads its sessions and answers, and a group's report covers
thousands of courses (20 sites, one year: 3,900 courses and a second of judging at every
request). Kept, the report is two grouped queries over one row a course.

How they stay true: every ORM flush that adds, changes or deletes a delivered session, an
answer, a medication, a course's patient or a chair's site marks the courses it touches,
in the same transaction (`_mark_touched`, on every session's `after_flush`); a course first
treated gets its row so. The report (`refresh`) then judges the stale rows again and
stores what `judging.judge_courses` finds, under the current `judging.basis()`; rows kept
under another basis (changed rules or time zone) are stale too. A writer that bulk-inserts
rows past the ORM (the demo's loader) calls `mark_all`.

On PostgreSQL the refresh locks the rows it judges, so a writer marking one of them waits
for it to commit and its mark then stands, and two refreshes never judge a course at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, delete, event, insert, inspect, or_, select, update
from sqlalchemy.orm import Session

from clinic.courses.models import Course
from clinic.db import upsert_insert
from clinic.extensions import db
from clinic.outcomes.judging import CourseResult, basis, judge_courses
from clinic.outcomes.models import CourseOutcome, CourseOutcomeSite, QuestionnaireResponse
from clinic.patients.models import Medication
from clinic.scheduling.models import Appointment, AppointmentStatus, Device
from clinic.scheduling.progress import SESSION_KIND

BATCH = 500
"""Courses judged per round of queries."""
_SESSION_FIELDS = ("status", "kind", "starts_at", "ends_at", "delivered_at", "device_id")
_ANSWER_FIELDS = ("instrument", "score", "administered_at")


def _ids(instance: Any, field: str) -> set[int]:
    """The attribute's value now and before this flush (a move names both ends)."""
    history = inspect(instance).attrs[field].history
    return {v for v in (getattr(instance, field), *history.deleted) if v is not None}


def _changed(instance: Any, fields: Iterable[str]) -> bool:
    attributes = inspect(instance).attrs
    return any(attributes[field].history.has_changes() for field in fields)


def _session_courses(appointment: Appointment, *, new_or_gone: bool) -> set[int]:
    """The courses whose delivered sessions this write changes: a session delivered
    before or after it, new, gone, or moved, re-timed or re-logged."""
    statuses = {appointment.status, *inspect(appointment).attrs.status.history.deleted}
    if AppointmentStatus.COMPLETED not in statuses:
        return set()
    if new_or_gone or _changed(appointment, (*_SESSION_FIELDS, "course_id")):
        return _ids(appointment, "course_id")
    return set()


def _touched(session: Session) -> tuple[set[int], set[int], set[int]]:
    """The courses, patients (their medications) and chairs (their site) this flush
    changes for a kept result."""
    courses: set[int] = set()
    patients: set[int] = set()
    chairs: set[int] = set()
    changed = session.dirty
    for instance in (*session.new, *changed, *session.deleted):
        new_or_gone = instance not in changed
        if isinstance(instance, Appointment):
            courses |= _session_courses(instance, new_or_gone=new_or_gone)
        elif isinstance(instance, QuestionnaireResponse):
            if new_or_gone or _changed(instance, (*_ANSWER_FIELDS, "course_id")):
                courses |= _ids(instance, "course_id")
        elif isinstance(instance, Medication):
            patients |= _ids(instance, "patient_id")
        elif (
            isinstance(instance, Course) and not new_or_gone and _changed(instance, ("patient_id",))
        ):
            courses.add(instance.id)
        elif isinstance(instance, Device) and not new_or_gone and _changed(instance, ("site_id",)):
            chairs.add(instance.id)
    return courses, patients, chairs


def _mark_stale(connection: Connection, course_ids: Any) -> None:
    """INSERT the courses' rows stale, or mark the existing ones (`course_ids`: ids or a
    SELECT of them). Only courses that still exist: one deleted in the same flush takes
    its row with it."""
    statement = upsert_insert(connection.dialect, CourseOutcome)
    existing = select(Course.id).where(Course.id.in_(course_ids))
    connection.execute(
        statement.from_select(["course_id"], existing).on_conflict_do_update(
            index_elements=["course_id"], set_={"stale": True}
        )
    )


def _mark_touched(session: Session, _context: Any) -> None:
    """On the flushing session's own connection: any session, in the app or not."""
    courses, patients, chairs = _touched(session)
    if courses:
        _mark_stale(session.connection(), sorted(courses))
    if patients:
        their = select(Course.id).where(Course.patient_id.in_(sorted(patients)))
        _mark_stale(session.connection(), their)
    if chairs:
        treated = _delivered().where(Appointment.device_id.in_(sorted(chairs)))
        _mark_stale(session.connection(), treated)


def _delivered() -> Any:
    return select(Appointment.course_id).where(
        Appointment.kind == SESSION_KIND,
        Appointment.status == AppointmentStatus.COMPLETED,
        Appointment.course_id.is_not(None),
    )


def connect() -> None:
    """Idempotent: every session of the app marks what its flushes touch."""
    if not event.contains(Session, "after_flush", _mark_touched):
        event.listen(Session, "after_flush", _mark_touched)


def mark_all() -> None:
    """Every treated course stale: after rows were written past the ORM (the demo)."""
    _mark_stale(db.session.connection(), _delivered())


_UNTREATED: dict[str, Any] = {
    "first_delivered_at": None,
    "quarter": None,
    "mood_response": None,
    "mood_remission": None,
    "pain_baseline": None,
    "pain_band": None,
    "pain_improvement": None,
    "sleep_baseline_tenths": None,
    "sleep_end_tenths": None,
    "opioid_start_tenths": 0,
    "opioid_end_tenths": 0,
    "benzodiazepine_start_tenths": 0,
    "benzodiazepine_end_tenths": 0,
}
"""A course not (or no longer) treated: in no cohort."""


def _stored(course_id: int, result: CourseResult | None, current: str) -> dict[str, Any]:
    """The row's values from its course's result (None: not treated)."""
    row: dict[str, Any] = {"course_id": course_id, "stale": False, "basis": current}
    if result is None:
        return row | _UNTREATED
    start, end = result.load
    sleep = result.sleep
    return row | {
        "first_delivered_at": result.first_delivered_at,
        "quarter": result.quarter,
        "mood_response": result.mood["response"],
        "mood_remission": result.mood["remission"],
        "pain_baseline": result.pain["baseline"],
        "pain_band": result.pain_band,
        "pain_improvement": result.pain["improvement"],
        "sleep_baseline_tenths": _tenths(sleep["baseline"]),
        "sleep_end_tenths": _tenths(sleep["end"]),
        "opioid_start_tenths": _tenths(start.mme_per_day),
        "opioid_end_tenths": _tenths(end.mme_per_day),
        "benzodiazepine_start_tenths": _tenths(start.benzodiazepine_diazepam_mg_per_day),
        "benzodiazepine_end_tenths": _tenths(end.benzodiazepine_diazepam_mg_per_day),
    }


def _tenths(value: float | None) -> int | None:
    return None if value is None else round(value * 10)


def refresh() -> int:
    """Judge every stale kept result again; how many were."""
    current = basis()
    query = (
        select(CourseOutcome.course_id)
        .where(
            or_(
                CourseOutcome.stale.is_(True),
                CourseOutcome.basis.is_(None),
                CourseOutcome.basis < current,
                CourseOutcome.basis > current,
            )
        )
        .order_by(CourseOutcome.course_id)
    )
    if db.session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    stale = list(db.session.scalars(query))
    for at in range(0, len(stale), BATCH):
        batch = stale[at : at + BATCH]
        results = judge_courses(batch)
        db.session.execute(
            update(CourseOutcome),
            [_stored(course_id, results.get(course_id), current) for course_id in batch],
        )
        db.session.execute(delete(CourseOutcomeSite).where(CourseOutcomeSite.course_id.in_(batch)))
        sites = [
            {"course_id": result.course_id, "site_id": site_id}
            for result in results.values()
            for site_id in sorted(result.sites)
        ]
        if sites:
            db.session.execute(insert(CourseOutcomeSite), sites)
    return len(stale)
