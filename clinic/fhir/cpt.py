"""The CPT code of each delivered treatment of a course (CONTRACT 9), for Procedure.

TO UNIFY AT MERGE: billing (`clinic/billing/coding.py`, `code_course`, built in parallel)
owns this rule; this is the same rule, kept small, until the branches meet. Then this
module goes and `resources.procedure` calls billing's `code_course`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from clinic import clock
from clinic.treatments.models import MotorThreshold, TreatmentLog

FIRST_TREATMENT = "90867"
LATER_TREATMENT = "90868"
MT_REDETERMINATION = "90869"
REDETERMINATION_EVERY = timedelta(days=7)
LOG_WINDOW_BEFORE_START = timedelta(hours=1)


def course_cpt_codes(
    logs: Sequence[TreatmentLog], thresholds: Sequence[MotorThreshold]
) -> dict[int, str]:
    """CPT per treatment log id of one course: the first delivered is 90867; a later one
    90869 when a motor threshold was measured at that session, at most once in 7 days,
    else 90868."""
    codes: dict[int, str] = {}
    delivered_any = False
    last_redetermination = None
    for log in sorted(logs, key=lambda item: (item.appointment.starts_at, item.id)):
        appointment = log.appointment
        day = clock.to_local(appointment.starts_at).date()
        measured = any(
            appointment.starts_at - LOG_WINDOW_BEFORE_START <= mt.measured_at <= appointment.ends_at
            for mt in thresholds
        )
        if not delivered_any:
            cpt = FIRST_TREATMENT
        elif measured and (
            last_redetermination is None or day - last_redetermination >= REDETERMINATION_EVERY
        ):
            cpt = MT_REDETERMINATION
        else:
            cpt = LATER_TREATMENT
        if log.completed:
            delivered_any = True
            if cpt == MT_REDETERMINATION:
                last_redetermination = day
        codes[log.id] = cpt
    return codes
