"""Signing and reviewing a log. A signature freezes it (corrections become amendments);
a clinician's review signs it first if nobody has, so a reviewed log is always signed.
Both are refused (403) to staff limited to other sites than the session's."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.auth.models import User
from clinic.errors import Conflict, NotAllowed
from clinic.extensions import db
from clinic.permissions import Role
from clinic.scheduling.models import Appointment
from clinic.scheduling.sites import OTHER_SITES, booked_at, user_site_ids
from clinic.treatments.models import TreatmentLog
from clinic.treatments.treatment_log import treatment_to_change


def sign_treatment(treatment_id: int, actor_id: int) -> TreatmentLog:
    """The author attests the log; a clinician or admin may sign for them. Signed is final."""
    log = treatment_to_change(treatment_id, actor_id)
    actor = db.session.get(User, actor_id)
    if actor is None:
        raise NotAllowed("Sign in to sign a log.")
    if log.signed_at is not None:
        raise Conflict("This log is already signed.", details={"reason": "already_signed"})
    if not may_sign(log, actor):
        raise NotAllowed(
            "Only the technician who logged this session, or a clinician or admin, may sign it."
        )
    _sign(log, actor_id)
    return log


def may_sign(log: TreatmentLog, user: User) -> bool:
    """Whether `user` may sign `log` (its author, or a clinician or admin), so the pages
    offer "Sign" only where it succeeds. Whether it is signed already is the caller's."""
    return user.role != Role.TECHNICIAN or log.logged_by_id == user.id


def _sign(log: TreatmentLog, actor_id: int) -> None:
    log.signed_at = clock.now()
    log.signed_by_id = actor_id
    db.session.flush()
    record(actor_id, AuditAction.SIGN, "treatment", log.id, patient_id=log.patient_id)


def _review(log: TreatmentLog, actor_id: int) -> None:
    if log.signed_at is None:
        _sign(log, actor_id)
    log.reviewed_at = clock.now()
    log.reviewed_by_id = actor_id
    db.session.flush()
    record(actor_id, AuditAction.REVIEW, "treatment", log.id, patient_id=log.patient_id)


def review_treatment(treatment_id: int, actor_id: int) -> TreatmentLog:
    """A clinician's review. An unsigned log is signed in the reviewer's name first, so a
    reviewed log is always a signed, frozen one."""
    log = treatment_to_change(treatment_id, actor_id)
    if log.reviewed_at is not None:
        raise Conflict("This log is already reviewed.", details={"reason": "already_reviewed"})
    _review(log, actor_id)
    return log


def review_treatments(treatment_ids: Iterable[int], actor_id: int) -> list[TreatmentLog]:
    """Bulk review from the queue; logs someone else reviewed meanwhile are skipped (the
    ticked logs are locked in id order, and one reviewed while we waited no longer matches).
    One log of a session at a site the actor does not work at refuses the whole batch
    (403) before any is reviewed."""
    ids = {int(i) for i in treatment_ids}
    if not ids:
        return []
    allowed = user_site_ids(actor_id)
    if allowed is not None:
        elsewhere = select(TreatmentLog.id).where(
            TreatmentLog.id.in_(ids),
            ~booked_at(Appointment.id, TreatmentLog.appointment_id, allowed),
        )
        if db.session.scalar(elsewhere.exists().select()):
            raise NotAllowed(OTHER_SITES)
    logs = db.session.scalars(
        select(TreatmentLog)
        .where(TreatmentLog.id.in_(ids), TreatmentLog.reviewed_at.is_(None))
        .order_by(TreatmentLog.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    for log in logs:
        _review(log, actor_id)
    return list(logs)
