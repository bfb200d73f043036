"""Hints on a course page: what the PHQ-9 says about another course (DOMAIN.md, issue 12).

Never a block, always with its reason: payers and published practice extend an acute
course (10 + 6 taper) for a patient who improved 25-49% by its end, and offer a
retreatment after a relapse only when an earlier course brought a response above 50%.
Courses sit below outcomes, so the hints live here and the course page includes them
through a Jinja global, like the outcome panel.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import select

from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.courses.models import Course, CourseKind, CourseStatus
from clinic.errors import NotFound
from clinic.extensions import db
from clinic.outcomes.services import summarize_course
from clinic.scheduling.progress import course_progress

PHQ9 = "PHQ-9"
EXTENSION_MIN_PCT = Decimal(25)
RESPONSE_ABOVE_PCT = Decimal(50)
NEAR_END_SESSIONS = 5
"""An extension is weighed in the last sessions of the acute course, not only after it."""


@dataclass(frozen=True)
class Hint:
    code: str  # suggest_extension, retreatment_supported, retreatment_not_supported
    message: str
    reason: str


@dataclass(frozen=True)
class Improvement:
    """A course's PHQ-9 improvement, in percent of its baseline (positive: better)."""

    pct: Decimal
    baseline: float
    latest: float

    def describe(self, course_id: int) -> str:
        return (
            f"PHQ-9 in course {course_id} went from {self.baseline:g} to {self.latest:g} "
            f"({self.pct:.0f}% improvement)"
        )


def phq9_improvement(course_id: int) -> Improvement | None:
    """None until the course has a baseline and a later PHQ-9."""
    data = summarize_course(course_id)["instruments"].get(PHQ9)
    if not data or data["change_pct"] is None or data["response"] is None:
        return None
    return Improvement(-Decimal(str(data["change_pct"])), data["baseline"], data["latest"])


def _at_its_end(course: Course) -> bool:
    if course.status == CourseStatus.COMPLETED:
        return True
    progress = course_progress([course.id])[course.id]
    return course.status == CourseStatus.ACTIVE and (
        progress.remaining(course.planned_sessions) <= NEAR_END_SESSIONS
    )


def _has_follow_up(course: Course, kind: CourseKind) -> bool:
    return (
        db.session.scalar(
            select(Course.id).where(Course.previous_course_id == course.id, Course.kind == kind)
        )
        is not None
    )


def course_hints(course: Course) -> list[Hint]:
    """The hints for one course's page (an empty list most of the time)."""
    hints: list[Hint] = []
    own = phq9_improvement(course.id)
    if (
        course.kind == CourseKind.ACUTE
        and own is not None
        and EXTENSION_MIN_PCT <= own.pct < RESPONSE_ABOVE_PCT
        and _at_its_end(course)
        and not _has_follow_up(course, CourseKind.EXTENSION)
    ):
        hints.append(
            Hint(
                "suggest_extension",
                "Consider an extension course (for example 10 daily sessions and a 6-session "
                "taper).",
                f"{own.describe(course.id)}: a partial response (25-49%), for which payers "
                "and practice support an extension.",
            )
        )
    if course.status == CourseStatus.COMPLETED and own is not None and own.pct > RESPONSE_ABOVE_PCT:
        hints.append(
            Hint(
                "retreatment_supported",
                "If depression returns, a retreatment course can be offered.",
                f"{own.describe(course.id)}: a response above 50%.",
            )
        )
    if course.kind == CourseKind.RETREATMENT and course.previous_course_id is not None:
        earlier = phq9_improvement(course.previous_course_id)
        if earlier is None or earlier.pct <= RESPONSE_ABOVE_PCT:
            said = (
                earlier.describe(course.previous_course_id)
                if earlier is not None
                else f"Course {course.previous_course_id} has no PHQ-9 result"
            )
            hints.append(
                Hint(
                    "retreatment_not_supported",
                    "A retreatment is usually offered only after an earlier response above "
                    "50%; record why this one is given.",
                    f"{said}.",
                )
            )
    return hints


def hints_for(course_id: int, *, viewer_id: int | None) -> list[Hint]:
    """`GET /courses/{id}/hints`: a read of the patient's outcomes, audited as one."""
    course = db.session.get(Course, course_id) if 0 < course_id < 2**31 else None
    if course is None:
        raise NotFound(f"No course {course_id}.")
    record(viewer_id, AuditAction.VIEW, "patient", course.patient_id, detail={"what": "hints"})
    return course_hints(course)
