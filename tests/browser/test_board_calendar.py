"""The day board as a resource calendar: drag a session to another chair and time, undo
it, and see a clash refused (the session snaps back and the reason is shown)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from clinic import clock
from clinic.extensions import db
from clinic.scheduling.models import Appointment
from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_appointment, make_course, make_device, make_patient

pytestmark = pytest.mark.browser
SLOT_PX = 24  # EventCalendar's 15-minute slot


def _monday() -> Any:
    today = clock.today()
    return today + timedelta(days=7 - today.weekday())


def _at(day: Any, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=clock.clinic_tz())


def _drag(page: Any, event: Any, chair: str, slots_down: int) -> None:
    _drag_to(page, event, page.locator(".ec-col-head", has_text=chair), slots_down)


def _drag_to(page: Any, event: Any, column_head: Any, slots_down: int) -> None:
    """Drag the event into the column under `column_head`, `slots_down` slots lower."""
    box = event.bounding_box()
    column = column_head.bounding_box()
    x0, y0 = box["x"] + box["width"] / 2, box["y"] + 10
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move(x0 + 5, y0 + 5, steps=3)
    page.mouse.move(column["x"] + column["width"] / 2, y0 + slots_down * SLOT_PX, steps=12)
    page.mouse.up()


def _within_calendar(page: Any, event: Any) -> tuple[float, float]:
    box, grid = event.bounding_box(), page.locator("#resource-calendar").bounding_box()
    return box["x"] - grid["x"], box["y"] - grid["y"]


def _place(appointment_id: int) -> tuple[datetime, int]:
    db.session.rollback()  # end the test's read snapshot: the server's commit is after it
    found = db.session.get(Appointment, appointment_id)
    return clock.to_local(found.starts_at), found.device_id


def _robin_at_nine_on_chair_a(page: Any, user: Any, view: str) -> tuple[Any, ...]:
    """Next Monday, Robin at 09:00 on chair A (chair B free), shown in `view`:
    (chair A, chair B, the day, the session, its event on the calendar)."""
    chair_a, chair_b = make_device("Chair A"), make_device("Chair B")
    day = _monday()
    robin = make_course(make_patient(first_name="Robin", last_name="Quill"))
    session = make_appointment(robin, _at(day, 9), device=chair_a)
    sign_in(page, user.email, PASSWORD)
    page.goto(f"{view}?date={day.isoformat()}")
    event = page.locator(".ec-event", has_text="Robin Quill")
    expect(event).to_be_visible()
    return chair_a, chair_b, day, session, event


def test_drag_a_session_to_another_chair_then_undo(page: Any, front_desk: Any) -> None:
    chair_a, chair_b, day, session, event = _robin_at_nine_on_chair_a(page, front_desk, "/schedule")
    expect(page.locator("#day-board")).to_be_hidden()  # the table is the no-JS fallback
    assert_accessible(page)

    _drag(page, event, "Chair B", 8)  # two hours later, on chair B
    expect(page.get_by_text("Moved RQ to")).to_be_visible()
    assert _place(session.id) == (_at(day, 11), chair_b.id)

    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_text("Move undone.")).to_be_visible()
    assert _place(session.id) == (_at(day, 9), chair_a.id)


def test_a_clashing_drop_is_refused_and_snaps_back(page: Any, front_desk: Any) -> None:
    chair_a, chair_b = make_device("Chair A"), make_device("Chair B")
    day = _monday()
    robin = make_course(make_patient(first_name="Robin", last_name="Quill"))
    session = make_appointment(robin, _at(day, 9), device=chair_a)
    make_appointment(make_course(make_patient(first_name="Sam")), _at(day, 11), device=chair_b)
    sign_in(page, front_desk.email, PASSWORD)
    page.goto(f"/schedule?date={day.isoformat()}")
    event = page.locator(".ec-event", has_text="Robin Quill")
    before = _within_calendar(page, event)
    _drag(page, event, "Chair B", 8)
    expect(page.locator("#calendar-status")).to_contain_text("already booked")
    assert _within_calendar(page, event) == before  # back on chair A at nine
    assert _place(session.id) == (_at(day, 9), chair_a.id)


def test_privacy_mode_and_the_session_menu(page: Any, front_desk: Any) -> None:
    chair = make_device("Chair A")
    course = make_course(make_patient(first_name="Robin", last_name="Quill"))
    now = clock.now().replace(second=0, microsecond=0)
    make_appointment(course, now, device=chair)
    sign_in(page, front_desk.email, PASSWORD)
    page.goto("/schedule")
    event = page.locator(".ec-event", has_text="Robin Quill")
    expect(event).to_be_visible()
    page.get_by_label("Privacy mode").check()
    expect(page.locator(".ec-event", has_text="RQ")).to_be_visible()
    expect(page.locator(".ec-event", has_text="Robin Quill")).to_have_count(0)
    page.locator(".ec-event", has_text="RQ").click()
    menu = page.get_by_role("dialog")
    expect(menu.get_by_role("heading", name="RQ")).to_be_visible()
    assert_accessible(page)
    menu.get_by_role("button", name="Check in").click()
    expect(page.get_by_text("Robin Quill is checked in.")).to_be_visible()


def test_drag_a_session_to_another_day_and_chair_in_the_week_view_then_undo(
    page: Any, front_desk: Any
) -> None:
    chair_a, chair_b, monday, session, event = _robin_at_nine_on_chair_a(
        page, front_desk, "/schedule/week"
    )
    assert_accessible(page)
    # Chairs head the week, each over its own seven day columns: Wednesday under chair B
    # is the second group's third column.
    _drag_to(page, event, page.locator(".ec-col-head.ec-wed").nth(1), 8)
    expect(page.get_by_text("Moved RQ to")).to_be_visible()
    moved_to, moved_chair = _place(session.id)  # the time is where the page scrolled to
    assert (moved_to.date(), moved_chair) == (monday + timedelta(days=2), chair_b.id)
    assert moved_to.minute % 15 == 0 and moved_to.hour >= 9

    page.get_by_role("button", name="Undo").click()
    expect(page.get_by_text("Move undone.")).to_be_visible()
    assert _place(session.id) == (_at(monday, 9), chair_a.id)
