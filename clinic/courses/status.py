"""A course's status: active, on hold, completed or discontinued, and who may move it.

Ending a course cancels its future sessions (through the scheduling lifecycle); every
change is audited and announced as `course_status_changed`, so other features react.
A change decides on the course's row as locked for its transaction: of two changes at
once, the second sees the first's result (a closed course refuses it with 409).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from clinic import clock, events
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.auth.models import User
from clinic.courses.models import FINAL_STATUSES, Course, CourseStatus
from clinic.errors import Conflict, Invalid
from clinic.extensions import db
from clinic.permissions import Role
from clinic.scheduling import lifecycle
from clinic.scheduling.models import Appointment

REASON_REQUIRED = (CourseStatus.ON_HOLD, CourseStatus.DISCONTINUED)


def _lock(course: Course) -> None:
    """Re-read the course under a row lock held until commit, so two status changes at
    once run in turn and the second decides on the first's result (on PostgreSQL; SQLite
    already runs writing transactions one at a time)."""
    db.session.scalars(
        select(Course)
        .where(Course.id == course.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()  # loading the row is what refreshes `course`


def allowed_statuses(course: Course, *, is_admin: bool) -> list[str]:
    """Where the course may go from here. Completed and discontinued are final; only an
    admin reopens one (to active), to correct a mistake."""
    if course.status in FINAL_STATUSES:
        return [CourseStatus.ACTIVE] if is_admin else []
    return [status for status in CourseStatus if status != course.status]


def set_course_status(
    course: Course,
    status: str,
    reason: str | None = None,
    *,
    actor_id: int | None,
    is_admin: bool | None = None,
) -> Course:
    """Move a course to `status`, with a reason for on hold and discontinued.

    Ending a course (completed, discontinued) cancels its future scheduled sessions;
    putting it on hold keeps them (the course page flags them). The same status again
    changes nothing. Sends `course_status_changed` in the transaction.
    `is_admin` defaults to the actor's role; pass True from system jobs.
    """
    if status not in tuple(CourseStatus):
        raise Invalid("Unknown status.", fields={"status": [f"One of {', '.join(CourseStatus)}."]})
    reason_text = (reason or "").strip() or None
    if reason_text is not None and len(reason_text) > 2000:
        raise Invalid("The reason is too long.", fields={"reason": ["At most 2000 characters."]})
    if status in REASON_REQUIRED and reason_text is None:
        raise Invalid(
            f"Say why the course is {status.replace('_', ' ')}.",
            fields={"reason": ["Required for on hold and discontinued."]},
        )
    _lock(course)
    if status == course.status:
        return course
    if is_admin is None:
        actor = db.session.get(User, actor_id) if actor_id is not None else None
        is_admin = actor is not None and actor.role == Role.ADMIN
    if status not in allowed_statuses(course, is_admin=is_admin):
        raise Conflict(
            f"The course is {course.status}: only an admin can reopen it (to active).",
            code="course_closed",
        )
    if course.status in FINAL_STATUSES and reason_text is None:
        raise Invalid(
            "Say why the course is reopened.", fields={"reason": ["Required to reopen a course."]}
        )
    old_status = course.status
    now = clock.now()
    course.status = status
    course.status_reason = reason_text
    course.status_changed_at = now
    cancelled: Sequence[Appointment] = []
    if status in FINAL_STATUSES:
        cancelled = lifecycle.cancel_future_sessions(
            course, now=now, reason=reason_text or f"Course {status}.", actor_id=actor_id
        )
    db.session.flush()
    record(
        actor_id,
        AuditAction.STATUS_CHANGE,
        "course",
        course.id,
        patient_id=course.patient_id,
        detail={
            "from": old_status,
            "to": status,
            "reason": reason_text,
            "cancelled_appointments": [a.id for a in cancelled],
        },
    )
    events.course_status_changed.send(None, course=course, old_status=old_status, actor_id=actor_id)
    return course
