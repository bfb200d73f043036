"""The questionnaire cadence (DOMAIN.md): which questionnaires a course asks, and when.

Assignments appear by themselves from domain events (first booking, every delivered
session, the course's end). Which instrument is asked at which point is read from each
instrument's `cadence` in the catalog, so a new instrument brings its own schedule.
Creating them is idempotent: the database's unique key on (course, instrument, reason)
and INSERT ... ON CONFLICT DO NOTHING make a repeated or concurrent event harmless.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, func, select, update

from clinic import clock
from clinic.courses.models import Course
from clinic.db import rowcount, upsert_insert
from clinic.extensions import db
from clinic.outcomes.analysis import add_months
from clinic.outcomes.catalog import Cadence, default_catalog
from clinic.outcomes.models import AssignmentStatus, QuestionnaireAssignment
from clinic.outcomes.services import create_link
from clinic.scheduling.progress import course_progress

BASELINE = "baseline"
END = "end"
# An assignment nobody answered within this many days after it fell due is expired:
# a PHQ-9 about "the last 2 weeks" says little about a later point of the course.
EXPIRE_AFTER_DAYS = 14
PLAN_BATCH = 500


def session_reason(delivered: int) -> str:
    return f"session_{delivered}"


def followup_reason(months: int) -> str:
    return f"followup_{months}m"


def _instruments(wanted: Any) -> list[str]:
    """Catalog codes whose cadence satisfies `wanted(cadence)`."""
    return [code for code, spec in default_catalog().items() if wanted(spec.cadence)]


def _insert_assignments(course: Course, plan: Iterable[tuple[str, str, date]]) -> None:
    """Insert (instrument, reason, due_on) rows for the course; duplicates are ignored."""
    now = clock.now()
    rows = [
        {
            "patient_id": course.patient_id,
            "course_id": course.id,
            "instrument": code,
            "reason": reason,
            "due_on": due_on,
            "status": AssignmentStatus.DUE,
            "created_at": now,
        }
        for code, reason, due_on in plan
    ]
    if rows:
        # The rows go as parameters, not as VALUES: one statement shape for every course,
        # compiled once (written with its rows it was compiled again for each).
        statement = upsert_insert(db.session.get_bind().dialect, QuestionnaireAssignment)
        db.session.execute(
            statement.on_conflict_do_nothing(index_elements=["course_id", "instrument", "reason"]),
            rows,
        )


def ensure_baseline(course: Course, today: date | None = None) -> None:
    """Baseline questionnaires, due now, once per course."""
    day = today or clock.today()
    codes = _instruments(lambda c: c.baseline)
    _insert_assignments(course, [(code, BASELINE, day) for code in codes])


def after_delivery(course: Course) -> None:
    """Called after each logged session: every Nth delivered session, or the end."""
    delivered = course_progress([course.id])[course.id].delivered
    if delivered >= course.planned_sessions:
        ensure_end(course)
        return
    if delivered == 0:
        return

    def due_now(cadence: Cadence) -> bool:
        return bool(cadence.every_sessions) and delivered % (cadence.every_sessions or 1) == 0

    reason = session_reason(delivered)
    _insert_assignments(course, [(code, reason, clock.today()) for code in _instruments(due_now)])


def ensure_end(course: Course) -> None:
    """End-of-course questionnaires and the follow-ups months after the last session."""
    end_day = course_progress([course.id])[course.id].last_delivered_day() or clock.today()
    plan = [(code, END, end_day) for code in _instruments(lambda c: c.end)]
    for code, spec in default_catalog().items():
        for months in spec.cadence.follow_up_months:
            plan.append((code, followup_reason(months), add_months(end_day, months)))
    _insert_assignments(course, plan)


def expire_stale(today: date) -> int:
    return rowcount(
        db.session.execute(
            update(QuestionnaireAssignment)
            .where(
                QuestionnaireAssignment.status == AssignmentStatus.DUE,
                QuestionnaireAssignment.due_on < today - timedelta(days=EXPIRE_AFTER_DAYS),
            )
            .values(status=AssignmentStatus.EXPIRED)
            .execution_options(synchronize_session=False)
        )
    )


def plan_questionnaires(now: datetime) -> int:
    """Scheduler tick: a link (sent by the reminders feature) for each assignment now due.

    Rows are locked with SKIP LOCKED on PostgreSQL (serialised writes on SQLite), so
    several schedulers never send the same questionnaire twice. Returns links created.
    """
    today = clock.to_local(now).date()
    expire_stale(today)
    due = db.session.scalars(
        select(QuestionnaireAssignment)
        .where(
            QuestionnaireAssignment.status == AssignmentStatus.DUE,
            QuestionnaireAssignment.link_id.is_(None),
            QuestionnaireAssignment.due_on <= today,
        )
        .order_by(QuestionnaireAssignment.due_on, QuestionnaireAssignment.id)
        .limit(PLAN_BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    for assignment in due:
        link, _url = create_link(
            assignment.patient_id,
            assignment.instrument,
            course_id=assignment.course_id,
            deliver=True,
            at=now,
        )
        assignment.link_id = link.id
    db.session.flush()
    return len(due)


def due_for_patient(patient_id: int, limit: int = 20) -> list[QuestionnaireAssignment]:
    """Open assignments of one patient, soonest first (due now, then upcoming)."""
    return list(
        db.session.scalars(
            select(QuestionnaireAssignment)
            .where(
                QuestionnaireAssignment.patient_id == patient_id,
                QuestionnaireAssignment.status == AssignmentStatus.DUE,
            )
            .order_by(QuestionnaireAssignment.due_on, QuestionnaireAssignment.instrument)
            .limit(limit)
        )
    )


@cache
def _due_counts_query() -> Select[int, int]:
    """Built once: building it cost as much as running it, on every board."""
    return (
        select(QuestionnaireAssignment.patient_id, func.count())
        .where(
            QuestionnaireAssignment.patient_id.in_(bindparam("patient_ids", expanding=True)),
            QuestionnaireAssignment.status == AssignmentStatus.DUE,
            QuestionnaireAssignment.due_on <= bindparam("day"),
            QuestionnaireAssignment.due_on >= bindparam("since"),
        )
        .group_by(QuestionnaireAssignment.patient_id)
    )


def due_counts_for_day(day: date, patient_ids: Iterable[int]) -> dict[int, int]:
    """patient_id -> questionnaires due on `day` (not yet expired) of these patients (the
    day board's), one query."""
    ids = sorted(set(patient_ids))
    if not ids:
        return {}
    since = day - timedelta(days=EXPIRE_AFTER_DAYS)
    params = {"patient_ids": ids, "day": day, "since": since}
    return dict(db.session.execute(_due_counts_query(), params).all())
