"""A technician checks a patient in, logs and signs the session; a clinician reviews it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from clinic import clock
from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_appointment, make_course, make_device, make_patient

pytestmark = pytest.mark.browser


def test_check_in_log_sign_and_review(page: Any, technician: Any, clinician: Any) -> None:
    course = make_course(make_patient(first_name="Morgan"), prescriber=clinician)
    make_appointment(course, clock.now().replace(microsecond=0), device=make_device("Chair 1"))

    sign_in(page, technician.email, PASSWORD)
    page.wait_for_url("**/today")
    page.get_by_role("button", name="Check in Morgan").click()
    expect(page.get_by_text("Morgan Rivera").first).to_be_visible()
    expect(page.get_by_text("is checked in.")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Log session for Morgan").click()
    expect(page.get_by_text("Motor threshold required.")).to_be_visible()
    assert_accessible(page)
    assert page.get_by_label("Intensity (% of motor threshold)").input_value() == "120"
    assert page.get_by_label("Pulses delivered").input_value() == "3000"
    page.get_by_label("New motor threshold (% of machine output)").fill("50")
    assert page.locator("#dose-output").inner_text().startswith("120% \u00d7 50% MT = 60")
    page.get_by_label("Coil position").fill("5.5 cm anterior to APB hotspot")
    page.get_by_label("Headache").check()
    page.get_by_label("Comfort (0 = very uncomfortable, 10 = fully comfortable)").fill("8")
    page.get_by_role("button", name="Save log").click()

    expect(page.get_by_text("Session logged.")).to_be_visible()
    expect(page.get_by_text("60.0% of machine output")).to_be_visible()
    page.get_by_role("button", name="Sign log").click()
    expect(page.get_by_text("Log signed.")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")

    sign_in(page, clinician.email, PASSWORD)
    page.goto("/review")
    row = page.locator("tr", has_text="Morgan")
    expect(row.get_by_text("Signed")).to_be_visible()
    expect(row.get_by_text("headache")).to_be_visible()
    assert_accessible(page)
    row.get_by_role("button", name="Review").click()
    expect(page.get_by_text("1 log reviewed.")).to_be_visible()
    expect(page.get_by_text("Nothing to review.")).to_be_visible()
