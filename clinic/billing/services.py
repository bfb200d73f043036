"""Reading billing lines for a person: the coded lines, with the read audited."""

from __future__ import annotations

from datetime import date

from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.billing.coding import BillingLine, billing_lines
from clinic.errors import Invalid

MAX_PERIOD_DAYS = 366


def check_period(start: date, end: date) -> None:
    """A period is `from` <= `to`, at most a year (a claim run, not a data dump)."""
    if end < start:
        raise Invalid("`to` is before `from`.", fields={"to": ["Must not be before `from`."]})
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise Invalid(
            "The period is longer than a year.", fields={"to": ["At most 366 days after `from`."]}
        )


def read_billing_lines(
    actor_id: int | None,
    start: date,
    end: date,
    *,
    patient_id: int | None = None,
    course_id: int | None = None,
) -> list[BillingLine]:
    """The coded lines of a period; each patient whose sessions are shown is audited."""
    check_period(start, end)
    lines = billing_lines(start, end, patient_id=patient_id, course_id=course_id)
    for read_id in sorted({line.patient_id for line in lines}):
        record(actor_id, AuditAction.VIEW, "patient", read_id, detail={"via": "billing"})
    return lines
