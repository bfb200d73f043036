"""Every main page, for the role that lives in it, checked by axe-core with realistic data
on it: 0 serious and 0 critical violations. On the way, with CLINIC_SCREENS set to a
folder (`make screens`: docs/screens), the README's screenshots of those pages."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from clinic import clock
from clinic.extensions import db
from clinic.outcomes.services import record_response
from clinic.treatments.thresholds import record_motor_threshold
from clinic.treatments.treatment_log import log_treatment
from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.factories import (
    PASSWORD,
    make_appointment,
    make_course,
    make_device,
    make_patient,
    make_user,
)

pytestmark = pytest.mark.browser


@dataclass
class Clinic:
    patient_id: int
    course_id: int
    appointment_id: int
    logged_id: int
    treatment_id: int


def _a_working_day() -> Clinic:
    """A day with something on every page: sessions to check in and log, a logged one, an
    urgent alert, a reminder."""
    clinician = make_user("clinician")
    chair = make_device("Chair 1")
    patient = make_patient(
        first_name="Morgan", phone="+12125550123", email="morgan@example.org", email_consent=True
    )
    course = make_course(patient, prescriber=clinician)
    now = clock.now().replace(microsecond=0)
    record_motor_threshold(course.id, None, value_pct=50, method="visual", measured_at=now)
    waiting = make_appointment(course, now, device=chair)
    done = make_appointment(course, now - timedelta(days=1), device=chair, sequence=2)
    other = make_course(make_patient(first_name="Sam"))
    make_appointment(other, now + timedelta(minutes=30), device=make_device("Chair 2"))
    treatment = log_treatment(
        done.id, None, intensity_pct_mt=120, pulses_delivered=3000, completed=True
    )
    record_response(patient.id, "PHQ-9", [1, 1, 1, 1, 1, 1, 1, 1, 1], course.id, "staff", None)
    db.session.commit()
    return Clinic(patient.id, course.id, waiting.id, done.id, treatment.id)


PAGES: dict[str, list[str]] = {
    "front_desk": [
        "/schedule",
        "/schedule/week",
        "/patients/",
        "/patients/new",
        "/intake",
        "/patients/{patient_id}",
        "/courses/{course_id}",
        "/courses/{course_id}/book",
        "/schedule/appointments/{appointment_id}/move",
        "/reminders",
        "/alerts",
    ],
    "technician": [
        "/today",
        "/appointments/{appointment_id}/log",
        "/treatments/{treatment_id}",
    ],
    "clinician": [
        "/inbox",
        "/review",
        "/outcomes",
        "/patients/{patient_id}/responses",
        "/courses/{course_id}/record",
    ],
    "admin": ["/admin", "/admin/users", "/admin/devices", "/admin/calendar", "/admin/scheduler"],
}


# The pages the README shows, by the name of their picture, and the part of the window
# each picture keeps.
SCREENS: dict[str, str] = {
    "/schedule": "board",
    "/schedule/week": "week",
    "/patients/{patient_id}": "chart",
    "/courses/{course_id}": "course",
    "/reminders": "reminders",
    "/intake": "intake",
    "/today": "today",
    "/appointments/{appointment_id}/log": "log-form",
    "/inbox": "inbox",
    "/review": "review",
    "/outcomes": "outcomes",
}
SCREEN = {"x": 0, "y": 0, "width": 1280, "height": 860}


def _screenshot(page: Any, folder: Path, name: str) -> None:
    """The page as a person sees it, once its calendar (board, week) has drawn."""
    expect(page.locator("main h1").first).to_be_visible()
    if name in ("board", "week"):
        expect(page.locator(".ec-event").first).to_be_visible()
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), clip=SCREEN)


@pytest.mark.parametrize("role", list(PAGES))
def test_main_pages_have_no_serious_accessibility_faults(page: Any, role: str) -> None:
    screens = os.environ.get("CLINIC_SCREENS")
    clinic = _a_working_day()
    user = make_user(role)
    page.goto("/login")
    assert_accessible(page)
    sign_in(page, user.email, PASSWORD)
    for path in PAGES[role]:
        page.goto(path.format(**clinic.__dict__))
        assert_accessible(page)
        if screens and path in SCREENS:
            _screenshot(page, Path(screens), SCREENS[path])
