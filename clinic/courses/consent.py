"""A course starts (its first treatment is logged) only with a signed TMS consent on file
for the patient, or a clinician's recorded reason to go ahead without one."""

from __future__ import annotations

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.courses.models import Course
from clinic.documents.services import has_consent_document
from clinic.errors import Conflict, Invalid
from clinic.patients.lookup import load

MAX_REASON = 2000


def require_consent(course: Course) -> None:
    """Refuse the first session of a course without a consent or a waiver."""
    if course.consent_waiver_reason or has_consent_document(course.patient_id):
        return
    raise Conflict(
        "The patient has not signed the TMS consent: have it signed on the tablet, upload a "
        "signed paper consent, or a clinician records why the course starts without it.",
        code="consent_required",
        details={"course_id": course.id, "patient_id": course.patient_id},
    )


def waive_consent(course_id: int, reason: str, *, actor_id: int | None) -> Course:
    """A clinician's reason for starting this course without a signed consent."""
    course: Course = load(Course, course_id, "course")
    reason = (reason or "").strip()
    if not reason or len(reason) > MAX_REASON:
        raise Invalid(
            "Say why the course may start without a signed consent.",
            fields={"reason": [f"Required, at most {MAX_REASON} characters."]},
        )
    course.consent_waiver_reason = reason
    course.consent_waived_by_id = actor_id
    course.consent_waived_at = clock.now()
    record(
        actor_id,
        AuditAction.UPDATE,
        "course",
        course.id,
        patient_id=course.patient_id,
        detail={"consent_waived": True},
    )
    return course
