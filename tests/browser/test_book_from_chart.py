"""The front desk books a whole course from the patient's chart: "Book course" on the
course's row opens the booking form preset (tomorrow, at opening), the preview comes in
place (htmx), and booking lands on the day board: 3 actions and 2 page loads (counted as
tests/browser/journey.py says; the way through the course page took 5 and 4)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.browser.journey import Journey
from tests.factories import PASSWORD, make_course, make_device, make_patient

pytestmark = pytest.mark.browser


def test_front_desk_books_a_course_from_the_chart(page: Any, front_desk: Any) -> None:
    make_device("Chair A")
    patient = make_patient(first_name="Robin", last_name="Quill")
    make_course(patient, planned_sessions=3)
    sign_in(page, front_desk.email, PASSWORD)
    page.goto(f"/patients/{patient.id}")
    assert_accessible(page)

    journey = Journey(page)
    journey.click(page.get_by_role("button", name="Book course 10 Hz rTMS, left DLPFC"))
    expect(page.get_by_label("Time (patient's local time)")).to_have_value("08:00")
    journey.click(page.get_by_role("button", name="Preview sessions"))
    expect(page.get_by_role("heading", name="Preview: 3 sessions")).to_be_focused()
    assert page.locator("#plan tbody tr").count() == 3
    assert_accessible(page)
    journey.click(page.get_by_role("button", name="Book these 3 sessions"))
    page.wait_for_url(re.compile(r"/schedule\?date="))
    expect(page.get_by_text("Booked 3 sessions.")).to_be_visible()
    expect(page.locator(".ec-event").filter(has_text="Robin Quill")).to_have_count(1)
    assert journey.done() == (3, 2)


def test_a_refused_booking_keeps_the_form_in_place(page: Any, front_desk: Any) -> None:
    make_device("Chair A")
    course = make_course(make_patient(first_name="Robin"), planned_sessions=2)
    sign_in(page, front_desk.email, PASSWORD)
    page.goto(f"/courses/{course.id}/book")
    journey = Journey(page)
    journey.fill(page.get_by_label("First day"), "2020-01-06")
    journey.click(page.get_by_role("button", name="Preview sessions"))
    expect(page.get_by_text("This start is in the past.")).to_be_visible()
    journey.click(page.get_by_role("button", name="Book these 2 sessions"))
    # The 422 answer is swapped in place: the form, its choices and the question stay.
    expect(page.locator("#back_entry-error")).to_contain_text("confirm they are a back-entry")
    expect(page.get_by_label("First day")).to_have_value("2020-01-06")
    assert_accessible(page)
    assert journey.done() == (3, 0)


def test_a_clinician_prescribes_and_books_from_the_chart(page: Any, clinician: Any) -> None:
    make_device("Chair A")
    patient = make_patient(first_name="Robin", last_name="Quill")
    sign_in(page, clinician.email, PASSWORD)
    page.goto(f"/patients/{patient.id}")
    journey = Journey(page)
    journey.click(page.get_by_role("button", name="Prescribe a course"))
    journey.select(page.get_by_role("combobox", name="Protocol", exact=True), value="10hz-ldlpfc")
    journey.click(page.get_by_role("button", name="Prescribe and book sessions"))
    expect(page.get_by_text("Course prescribed.")).to_be_visible()
    journey.click(page.get_by_role("button", name="Preview sessions"))
    expect(page.get_by_role("heading", name="Preview: 36 sessions")).to_be_visible()
    assert_accessible(page)
    journey.click(page.get_by_role("button", name="Book these 36 sessions"))
    page.wait_for_url(re.compile(r"/schedule\?date="))
    expect(page.get_by_text("Booked 36 sessions.")).to_be_visible()
    assert journey.done() == (5, 3)
