"""The front desk books a course, moves one session on the board, and sees the board change."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect

from clinic import clock
from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_course, make_device, make_patient

pytestmark = pytest.mark.browser


def test_front_desk_books_a_course_and_moves_a_session(page: Any, front_desk: Any) -> None:
    make_device("Chair A")
    chair_b = make_device("Chair B")
    course = make_course(make_patient(first_name="Robin", last_name="Quill"), planned_sessions=3)
    today = clock.today()
    monday = today + timedelta(days=7 - today.weekday())

    sign_in(page, front_desk.email, PASSWORD)
    page.goto(f"/courses/{course.id}/book")
    page.get_by_label("First day").fill(monday.isoformat())
    page.get_by_label("Time").fill("09:00")
    page.get_by_role("button", name="Preview sessions").click()
    expect(page.get_by_role("heading", name="Preview: 3 sessions")).to_be_visible()
    assert_accessible(page)
    assert page.locator("#plan tbody tr").count() == 3

    page.get_by_role("button", name="Book these 3 sessions").click()
    page.wait_for_url(re.compile(r"/schedule\?date="))
    expect(page.get_by_text("Booked 3 sessions.")).to_be_visible()
    assert_accessible(page)
    session = page.locator(".ec-event").filter(has_text="Robin Quill")
    expect(session).to_contain_text("Session 1 of 3")
    expect(session).to_contain_text("09:00")

    # The session's menu offers the move page (dragging is tested in test_board_calendar).
    session.click()
    page.get_by_role("dialog").get_by_role("button", name="Move").click()
    page.get_by_label("New time and chair").select_option(label="11:00 on Chair B")
    assert_accessible(page)
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(r"/schedule\?date="))
    expect(page.get_by_text("Moved to")).to_be_visible()
    moved = page.locator(".ec-event").filter(has_text="Robin Quill")
    expect(moved).to_contain_text("11:00")
    # The no-JS table, shown by "Table view", says the same.
    page.get_by_role("button", name="Table view").click()
    table_block = page.locator(f'td.booked[data-device="{chair_b.id}"] .block').filter(
        has_text="RQ"
    )
    assert "11:00" in table_block.inner_text()
    assert page.locator(".block").filter(has_text="09:00").count() == 0
