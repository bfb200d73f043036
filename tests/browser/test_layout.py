"""What a user sees wrong at a glance: text that spills out of its box."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest

from clinic import clock
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_appointment, make_course, make_device, make_patient

pytestmark = pytest.mark.browser

SPILLS = """
(selector) => [...document.querySelectorAll(selector)].filter((el) => {
  const cell = el.closest('td').getBoundingClientRect();
  const range = document.createRange();
  range.selectNodeContents(el);
  const box = range.getBoundingClientRect();  // the text itself, overflow included
  return box.right > cell.right + 1 || box.left < cell.left - 1;
}).map((el) => el.textContent.trim())
"""


@pytest.mark.parametrize("width", [1280, 1024])
def test_course_calendar_keeps_each_session_in_its_day(
    page: Any, clinician: Any, width: int
) -> None:
    chair = make_device("Chair A · NeuroStar 2")
    course = make_course(make_patient(first_name="Robin", last_name="Quill"), planned_sessions=36)
    monday = clock.today() - timedelta(days=clock.today().weekday())
    for n in range(10):
        day = monday + timedelta(days=n + 2 * (n // 5))
        starts = datetime.combine(day, time(9, 45), tzinfo=clock.clinic_tz())
        make_appointment(course, starts, device=chair, sequence=n + 30)
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, clinician.email, PASSWORD)
    page.goto(f"/courses/{course.id}")
    assert page.locator(".calendar-session").count() == 10
    assert page.evaluate(SPILLS, ".course-calendar .calendar-session") == []


@pytest.mark.parametrize("width", [1280, 390])
def test_an_unbroken_100_character_name_wraps(page: Any, front_desk: Any, width: int) -> None:
    patient = make_patient(first_name="A" * 50, last_name="B" * 50)
    page.set_viewport_size({"width": width, "height": 900})
    sign_in(page, front_desk.email, PASSWORD)
    page.goto(f"/patients/{patient.id}")
    heading = page.get_by_role("heading", level=1).bounding_box()
    assert heading["x"] + heading["width"] <= width
    assert page.evaluate("document.documentElement.scrollWidth") <= width
