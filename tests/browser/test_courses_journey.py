"""A clinician prescribes a course in a real browser and lands on its course page."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_patient

pytestmark = pytest.mark.browser


def test_a_clinician_prescribes_a_course_and_sees_its_page(page: Any, clinician: Any) -> None:
    patient = make_patient(first_name="Morgan", last_name="Lee")
    sign_in(page, clinician.email, PASSWORD)
    page.goto(f"/patients/{patient.id}/courses/new")
    expect(page.get_by_role("heading", name="Prescribe a course")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("combobox", name="Protocol", exact=True).select_option("10hz-ldlpfc")
    page.get_by_label("Notes").fill("First course; baseline PHQ-9 19.")
    page.get_by_role("button", name="Prescribe course").click()
    page.wait_for_url("**/courses/*")
    expect(page.get_by_role("heading", name="10 Hz rTMS, left DLPFC")).to_be_visible()
    expect(page.get_by_text("0 of 36 delivered")).to_be_visible()
    expect(page.get_by_text("Course prescribed.")).to_be_visible()
    assert_accessible(page)
    expect(page.get_by_text("Morgan Lee").first).to_be_visible()
    page.get_by_label("New status").select_option("on_hold")
    page.get_by_label("Reason", exact=True).fill("Awaiting insurance decision")
    page.get_by_role("button", name="Change status").click()
    expect(page.get_by_text("The course is now on hold.")).to_be_visible()
    expect(page.get_by_text("Awaiting insurance decision").first).to_be_visible()


def test_a_course_cannot_be_prescribed_without_a_screening(page: Any, clinician: Any) -> None:
    patient = make_patient(screened=None)
    sign_in(page, clinician.email, PASSWORD)
    page.goto(f"/patients/{patient.id}/courses/new")
    expect(page.get_by_text("No safety screening on file")).to_be_visible()
    page.get_by_role("button", name="Prescribe course").click()
    expect(page.get_by_text("The patient has no TMS safety screening")).to_be_visible()
    assert_accessible(page)
