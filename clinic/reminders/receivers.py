"""Reactions to other features' events: bookings, moves and cancellations replan the
reminders; consent, questionnaire links and escalated alerts plan their messages.

Receivers run inside the sender's transaction (see `clinic.events`), so a booking and
its reminders commit or roll back together.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from clinic import clock, events
from clinic.alerts.models import Alert
from clinic.patients.models import Patient
from clinic.reminders.planning import (
    QuestionnaireLinkLike,
    cancel_unsent,
    plan_appointments,
    plan_questionnaire_link,
    plan_upcoming_appointments,
)
from clinic.reminders.staff_messages import plan_alert_escalation
from clinic.scheduling.models import Appointment


def on_appointments_booked(_sender: Any, *, appointments: Sequence[Appointment], **_: Any) -> None:
    plan_appointments(appointments, now=clock.now())


def on_appointment_moved(_sender: Any, *, appointment: Appointment, **_: Any) -> None:
    """Replace: the old start's unsent reminders are cancelled, the new start's planned."""
    cancel_unsent(
        appointment_id=appointment.id,
        keep_start=appointment.starts_at,
        reason="the appointment was moved",
    )
    plan_appointments([appointment], now=clock.now())


def on_appointment_cancelled(_sender: Any, *, appointment: Appointment, **_: Any) -> None:
    cancel_unsent(appointment_id=appointment.id, reason=f"the appointment is {appointment.status}")


def on_consent_changed(
    _sender: Any, *, patient: Patient, channel: str, granted: bool, **_: Any
) -> None:
    """Withdrawn: nothing more goes by that channel. Granted: upcoming appointments get
    their reminders on that channel."""
    if granted:
        plan_upcoming_appointments(patient, now=clock.now())
    else:
        cancel_unsent(patient_id=patient.id, channel=channel, reason=f"{channel} consent withdrawn")


def on_questionnaire_link_created(
    _sender: Any,
    *,
    link: QuestionnaireLinkLike,
    url: str,
    patient: Patient,
    deliver: bool = False,
    channel: str | None = None,
    **_: Any,
) -> None:
    if deliver:
        plan_questionnaire_link(link, url, patient, now=clock.now(), channel=channel)


def on_alert_escalated(_sender: Any, *, alert: Alert, **_: Any) -> None:
    plan_alert_escalation(alert, now=clock.now())


def connect() -> None:
    """Wire every receiver (idempotent: blinker keeps one connection per function)."""
    events.appointments_booked.connect(on_appointments_booked, weak=False)
    events.appointment_moved.connect(on_appointment_moved, weak=False)
    events.appointment_cancelled.connect(on_appointment_cancelled, weak=False)
    events.consent_changed.connect(on_consent_changed, weak=False)
    events.questionnaire_link_created.connect(on_questionnaire_link_created, weak=False)
    events.alert_escalated.connect(on_alert_escalated, weak=False)
