"""Signing and reviewing a log twice at once, over real concurrent connections
(`tests.courses.races`): the second finds the work done instead of doing it again."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from clinic.audit.models import AuditAction, AuditEvent
from clinic.extensions import db
from clinic.treatments.review import review_treatment, review_treatments, sign_treatment
from clinic.treatments.treatment_log import get_treatment
from tests.courses.races import Contender, race
from tests.factories import make_user
from tests.treatments.conftest import add_mt, log


def _audited(action: AuditAction, treatment_id: int) -> int:
    return db.session.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(
            AuditEvent.action == action,
            AuditEvent.entity_type == "treatment",
            AuditEvent.entity_id == treatment_id,
        )
    )


def _then(treatment_id: int, act: Any) -> Contender:
    def read() -> Any:
        get_treatment(treatment_id)  # the request has the log in hand...
        return lambda: act(treatment_id)  # ...when it decides to act on it

    return read


def test_a_log_signed_twice_at_once_is_signed_once(
    app: Any, backend: str, course: Any, session_now: Any, technician: Any, clinician: Any
) -> None:
    add_mt(course)
    logged = log(session_now, technician)
    author, reviewer = technician.id, clinician.id
    answers = race(
        app,
        backend,
        [
            _then(logged.id, lambda i: sign_treatment(i, author)),
            _then(logged.id, lambda i: sign_treatment(i, reviewer)),
        ],
    )
    assert answers == [200, 409]
    assert _audited(AuditAction.SIGN, logged.id) == 1


def test_a_log_reviewed_twice_at_once_is_reviewed_and_signed_once(
    app: Any, backend: str, course: Any, session_now: Any, technician: Any, clinician: Any
) -> None:
    add_mt(course)
    logged = log(session_now, technician)
    one, other = clinician.id, make_user("clinician").id
    answers = race(
        app,
        backend,
        [
            _then(logged.id, lambda i: review_treatment(i, one)),
            _then(logged.id, lambda i: review_treatment(i, other)),
        ],
    )
    assert answers == [200, 409]
    assert _audited(AuditAction.REVIEW, logged.id) == 1
    assert _audited(AuditAction.SIGN, logged.id) == 1


def test_the_review_queue_ticked_twice_at_once_reviews_each_log_once(
    app: Any, backend: str, course: Any, session_now: Any, technician: Any, clinician: Any
) -> None:
    add_mt(course)
    logged = log(session_now, technician)
    one, other = clinician.id, make_user("clinician").id
    answers = race(
        app,
        backend,
        [
            _then(logged.id, lambda i: review_treatments([i], one)),
            _then(logged.id, lambda i: review_treatments([i], other)),
        ],
    )
    assert answers == [200, 200]  # the bulk review skips what was reviewed meanwhile
    assert _audited(AuditAction.REVIEW, logged.id) == 1
    assert _audited(AuditAction.SIGN, logged.id) == 1
