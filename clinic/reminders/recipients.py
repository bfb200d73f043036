"""Who a patient message goes to and on whose clock. Planning and the re-check just
before sending apply the same rule, so a consent withdrawn in between is honoured."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clinic import clock
from clinic.patients.models import Patient
from clinic.reminders.models import Channel
from clinic.scheduling.models import Appointment
from clinic.scheduling.sites import appointment_tz

log = logging.getLogger(__name__)


def patient_timezone(patient: Patient, appointment: Appointment | None = None) -> ZoneInfo:
    """The patient's own time zone (quiet hours and message times are theirs), else the
    zone of the appointment's site (where they come to), else the clinic's."""
    if patient.timezone:
        try:
            return ZoneInfo(patient.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("patient %s has an unknown time zone %r", patient.id, patient.timezone)
    return appointment_tz(appointment) if appointment is not None else clock.clinic_tz()


def patient_address(patient: Patient, channel: str) -> str | None:
    """Where to reach the patient by `channel`, or None without consent or address."""
    return patient.address_for(Channel.EMAIL if channel == Channel.EMAIL else Channel.SMS)
