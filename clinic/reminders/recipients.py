"""Who a patient message goes to and on whose clock. Planning and the re-check just
before sending apply the same rule, so a consent withdrawn in between is honoured."""

from __future__ import annotations

import logging
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from clinic import clock
from clinic.patients.models import Patient
from clinic.reminders.models import Channel

log = logging.getLogger(__name__)


def patient_timezone(patient: Patient) -> ZoneInfo:
    """The patient's own time zone (quiet hours and message times are theirs), else the
    clinic's."""
    if patient.timezone:
        try:
            return ZoneInfo(patient.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            log.warning("patient %s has an unknown time zone %r", patient.id, patient.timezone)
    return clock.clinic_tz()


def patient_address(patient: Patient, channel: str) -> str | None:
    """Where to reach the patient by `channel`, or None without consent or address."""
    return patient.address_for(Channel.EMAIL if channel == Channel.EMAIL else Channel.SMS)
