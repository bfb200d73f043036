"""The calendar file filled in from the clinic's rendered template is the one the calendar
library writes for the appointment itself, byte for byte, in every case the template
takes (and the library still writes the others)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from clinic import i18n
from clinic.reminders import messages

START = datetime(2026, 12, 3, 14, 15, tzinfo=UTC)
LONG_NAME = 'Demo, "TMS"; Clinic\\of a rather long name that goes on and on, ñ and ü'


@pytest.mark.parametrize(
    ("clinic_name", "uid", "sequence", "cancelled", "language"),
    [
        ("Demo Clinic", "appointment-5@clinic.example.org", 0, False, "en"),
        (LONG_NAME, "appointment-123456@clinic.example.org", 7, True, "es"),
        ("Clínica", "appointment-1@" + "h" * 60 + ".org", 1, False, "es"),  # UID folds
        ("Demo", "appointment-2;x,y@host", 3, False, "en"),  # UID escaped
    ],
)
def test_the_filled_in_template_is_what_the_library_writes(
    app: Any, clinic_name: str, uid: str, sequence: int, cancelled: bool, language: str
) -> None:
    for starts_at in (START, START.astimezone(ZoneInfo("America/Chicago"))):
        arguments = {
            "uid": uid,
            "sequence": sequence,
            "starts_at": starts_at,
            "ends_at": starts_at + timedelta(minutes=40),
            "clinic_name": clinic_name,
            "organizer_email": "front@clinic.example.org",
            "stamp": datetime(2026, 12, 1, 9, 0, 0, 123456, tzinfo=UTC),
            "cancelled": cancelled,
        }
        with i18n.speaking(language):
            summary = messages.calendar_summary(clinic_name)
            assert summary == messages.gettext("Appointment at %(clinic)s", clinic=clinic_name)
            expected = messages._render_calendar(
                uid,
                sequence + 1 if cancelled else sequence,
                (arguments["starts_at"], arguments["ends_at"], arguments["stamp"]),
                clinic_name,
                "front@clinic.example.org",
                summary,
                "CANCELLED" if cancelled else "CONFIRMED",
            )
            assert messages.appointment_calendar(**arguments, summary=summary) == expected
            assert f"SEQUENCE:{sequence + cancelled}\r\n" in expected
