"""Courses not improving by session 10 or 20: the clinician's inbox lists every active
course that has delivered 10 (or 20) sessions while its latest PHQ-9 or PEG-3 is less
than 20% better than its baseline (an early non-response that predicts the course's
result), the moment to reconsider the protocol. Three queries whatever the number of
courses; for a clinician limited to sites, the courses with a session (any status) at
one of them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from clinic import clock
from clinic.courses.models import Course, CourseStatus
from clinic.extensions import db
from clinic.outcomes.analysis import summarize
from clinic.outcomes.catalog import default_catalog
from clinic.outcomes.models import QuestionnaireResponse
from clinic.outcomes.services import course_window
from clinic.scheduling.models import Appointment
from clinic.scheduling.progress import course_progress
from clinic.scheduling.sites import booked_at

CHECKPOINTS = (20, 10)
WATCHED = ("PHQ-9", "PEG-3")  # both: lower is better
MIN_IMPROVEMENT_PCT = 20


@dataclass(frozen=True)
class NotImproving:
    course: Course
    delivered: int
    checkpoint: int
    instrument: str
    baseline: float
    latest: float
    change_pct: float | None


def not_improving(limit: int = 50, *, site_ids: set[int] | None = None) -> list[NotImproving]:
    at_sites = [] if site_ids is None else [booked_at(Appointment.course_id, Course.id, site_ids)]
    courses = db.session.scalars(
        select(Course)
        .where(Course.status == CourseStatus.ACTIVE, *at_sites)
        .options(joinedload(Course.patient), joinedload(Course.protocol))
    ).all()
    progress = course_progress([c.id for c in courses])
    due = [c for c in courses if progress[c.id].delivered >= min(CHECKPOINTS)]
    points: dict[tuple[int | None, str], list[tuple[datetime, float]]] = {}
    if due:
        rows = db.session.execute(
            select(
                QuestionnaireResponse.course_id,
                QuestionnaireResponse.instrument,
                QuestionnaireResponse.administered_at,
                QuestionnaireResponse.score,
            ).where(
                QuestionnaireResponse.course_id.in_([c.id for c in due]),
                QuestionnaireResponse.instrument.in_(WATCHED),
            )
        )
        for course_id, code, administered_at, score in rows:
            points.setdefault((course_id, code), []).append((administered_at, score))
    catalog, tz = default_catalog(), clock.clinic_tz()
    found = []
    for course in due:
        delivered = progress[course.id].delivered
        window = course_window(progress[course.id])
        for code in WATCHED:
            outcome = summarize(catalog[code], points.get((course.id, code), []), window, tz=tz)
            change = outcome["change_pct"]
            measured_since = outcome["latest_at"] != outcome["baseline_at"]
            if change is None or not measured_since or -change >= MIN_IMPROVEMENT_PCT:
                continue
            found.append(
                NotImproving(
                    course=course,
                    delivered=delivered,
                    checkpoint=next(n for n in CHECKPOINTS if delivered >= n),
                    instrument=code,
                    baseline=outcome["baseline"],
                    latest=outcome["latest"],
                    change_pct=outcome["change_pct"],
                )
            )
    return found[:limit]
