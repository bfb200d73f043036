"""What prints: the course record, a patient's chart and the day board come out without
navigation or buttons, their tables whole; the print stylesheet applies only to print."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from clinic import clock
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_appointment, make_course, make_device, make_patient

pytestmark = pytest.mark.browser


def _display(page: Any, selector: str) -> str:
    return page.eval_on_selector(selector, "el => getComputedStyle(el).display")


def test_printed_pages_drop_navigation_and_buttons(page: Any, clinician: Any) -> None:
    patient = make_patient(first_name="Morgan")
    course = make_course(patient, prescriber=clinician)
    make_appointment(course, clock.now().replace(microsecond=0), device=make_device("Chair 1"))
    sign_in(page, clinician.email, PASSWORD)

    for path in (f"/courses/{course.id}/record", f"/patients/{patient.id}"):
        page.goto(path)
        page.emulate_media(media="screen")
        expect(page.locator(".site-header")).to_be_visible()
        expect(page.locator("main button, main [role=button]").first).to_be_visible()
        page.emulate_media(media="print")
        expect(page.locator(".site-header")).to_be_hidden()
        expect(page.locator(".site-footer")).to_be_hidden()
        for button in page.locator("main button, main [role=button]").all():
            expect(button).to_be_hidden()
        expect(page.locator("h1")).to_be_visible()
        assert _display(page, "thead") == "table-header-group"  # repeated on every page
    # The record's session table stays readable: whole rows, no scrolling box.
    page.goto(f"/courses/{course.id}/record")
    page.emulate_media(media="print")
    assert page.eval_on_selector(".table-scroll", "el => getComputedStyle(el).overflow") == (
        "visible"
    )
    assert page.eval_on_selector("tbody tr", "el => getComputedStyle(el).breakInside") == ("avoid")


def test_the_day_board_prints_its_table(page: Any, front_desk: Any) -> None:
    course = make_course(make_patient(first_name="Robin", last_name="Quill"))
    make_appointment(course, clock.now().replace(microsecond=0), device=make_device("Chair A"))
    sign_in(page, front_desk.email, PASSWORD)
    page.goto("/schedule")
    expect(page.locator(".ec-event").filter(has_text="Robin Quill")).to_be_visible()
    expect(page.locator("#day-board")).to_be_hidden()  # on screen: the calendar
    page.emulate_media(media="print")
    expect(page.locator("#resource-calendar")).to_be_hidden()
    expect(page.locator("#day-board")).to_be_visible()
    expect(page.locator("#day-board")).to_contain_text("RQ")
    expect(page.locator("nav[aria-label=Main]")).to_be_hidden()
    expect(page.locator(".calendar-tools")).to_be_hidden()
