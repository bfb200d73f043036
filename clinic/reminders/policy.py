"""The clinic's reminder policy: which channels and kinds, how long before, quiet hours.

One row (id 1). Changes apply to messages planned from then on; what was switched off
also stops pending messages, because dispatch re-checks the policy before sending.
"""

from __future__ import annotations

from typing import Any

from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.errors import Invalid
from clinic.extensions import db
from clinic.reminders.models import ReminderPolicy
from clinic.scheduling.models import Appointment, AppointmentKind

POLICY_FIELDS = (
    "email_enabled",
    "email_offset_minutes",
    "sms_enabled",
    "sms_offset_minutes",
    "quiet_start",
    "quiet_end",
    "remind_treatment",
    "remind_mapping",
    "send_questionnaire_links",
    "send_alert_escalations",
    "send_daily_schedule",
)
MAX_OFFSET_MINUTES = 14 * 24 * 60


def get_policy() -> ReminderPolicy:
    """The clinic's policy row (seeded by the migration; recreated with defaults if lost)."""
    policy = db.session.get(ReminderPolicy, 1)
    if policy is None:
        policy = ReminderPolicy(id=1)
        db.session.add(policy)
        db.session.flush()
    return policy


def update_policy(values: dict[str, Any], *, actor_id: int | None) -> ReminderPolicy:
    """Change the policy. New offsets apply to reminders planned from now on; a channel or
    kind switched off also stops its pending reminders (they are re-checked at sending)."""
    problems: dict[str, list[str]] = {}
    for name in ("email_offset_minutes", "sms_offset_minutes"):
        if name in values and not 0 <= int(values[name]) <= MAX_OFFSET_MINUTES:
            problems[name] = [f"Between 0 and {MAX_OFFSET_MINUTES} minutes (14 days)."]
    if problems:
        raise Invalid("The policy has invalid values.", fields=problems)
    policy = get_policy()
    changed = {}
    for name in POLICY_FIELDS:
        if name in values and getattr(policy, name) != values[name]:
            setattr(policy, name, values[name])
            changed[name] = str(values[name])
    if changed:
        record(actor_id, AuditAction.UPDATE, "reminder_policy", policy.id, detail=changed)
    db.session.flush()
    return policy


def reminds_about(policy: ReminderPolicy, appointment: Appointment) -> bool:
    """Whether the policy reminds of this kind of appointment (treatment or mapping)."""
    if appointment.kind == AppointmentKind.MAPPING:
        return policy.remind_mapping
    return policy.remind_treatment
