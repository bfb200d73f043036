"""A technician checks a patient in, logs and signs the session; a clinician reviews it.

The journeys count what the technician does from the Today list (tests/browser/journey.py):
a routine session (a motor threshold on file, the coil position of the last session) is
checked in, logged and signed in 5 actions and no page load: the log form opens in place
on Today and "Save and sign" answers the updated list (htmx). The two-step way (save, look
at the log's page, sign) takes 6 and 2. A first session adds the MT and the coil position
typed: 7 and 0. Before: 6 and 3 for a routine session, 8 and 3 for a first one."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import update

from clinic import clock
from clinic.courses.models import Course
from clinic.extensions import db
from clinic.treatments.review import review_treatment
from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.browser.journey import Journey
from tests.factories import PASSWORD, make_appointment, make_course, make_device, make_patient
from tests.treatments.conftest import add_mt, log

pytestmark = pytest.mark.browser


def _second_session(technician: Any, clinician: Any) -> Any:
    """Morgan's second session, now; the first, yesterday, measured the MT and the coil."""
    course = make_course(make_patient(first_name="Morgan"), prescriber=clinician)
    chair = make_device("Chair 1")
    now = clock.now().replace(microsecond=0)
    add_mt(course, 50, at=now - timedelta(days=1), actor=technician)
    first = make_appointment(course, now - timedelta(days=1), device=chair)
    done = log(first, technician, coil_location="5.5 cm anterior to APB hotspot")
    review_treatment(done.id, clinician.id)  # signed and reviewed: off the review queue
    db.session.commit()
    return make_appointment(course, now, device=chair, sequence=2)


def test_a_routine_session_is_logged_and_signed_in_one_step(
    page: Any, technician: Any, clinician: Any
) -> None:
    _second_session(technician, clinician)
    sign_in(page, technician.email, PASSWORD)
    page.wait_for_url("**/today")
    journey = Journey(page)
    journey.click(page.get_by_role("button", name="Check in Morgan"))
    expect(page.get_by_text("is checked in.")).to_be_visible()
    journey.click(page.get_by_role("button", name="Log session for Morgan"))
    # Prefilled: today's dose, the pulses, the last coil position; the MT on file is used.
    assert page.get_by_label("Intensity (% of motor threshold)").input_value() == "120"
    assert page.get_by_label("Coil position").input_value() == "5.5 cm anterior to APB hotspot"
    assert page.get_by_label("New motor threshold (% of machine output)").input_value() == ""
    expect(page.locator("#dose-output")).to_contain_text("= 60")
    assert_accessible(page)
    journey.check(page.get_by_label("Headache"))
    journey.fill(page.get_by_label("Comfort (0 = very uncomfortable, 10 = fully comfortable)"), "8")
    journey.click(page.get_by_role("button", name="Save and sign"))
    page.wait_for_url("**/today")
    expect(page.get_by_text("Session logged and signed for Morgan")).to_be_focused()
    row = page.locator("tr.session-row", has_text="Morgan")
    expect(row.get_by_text("Signed", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Save and sign")).to_have_count(0)
    assert page.url.endswith("/today")
    assert_accessible(page)
    assert journey.done() == (5, 0)


def test_check_in_log_sign_later_and_review(page: Any, technician: Any, clinician: Any) -> None:
    _second_session(technician, clinician)
    sign_in(page, technician.email, PASSWORD)
    page.wait_for_url("**/today")
    journey = Journey(page)
    journey.click(page.get_by_role("button", name="Check in Morgan"))
    expect(page.get_by_text("Morgan Rivera").first).to_be_visible()
    expect(page.get_by_text("is checked in.")).to_be_visible()
    assert_accessible(page)
    journey.click(page.get_by_role("button", name="Log session for Morgan"))
    journey.check(page.get_by_label("Headache"))
    journey.fill(page.get_by_label("Comfort (0 = very uncomfortable, 10 = fully comfortable)"), "8")
    journey.click(page.get_by_role("button", name="Save, sign later"))
    page.wait_for_url("**/treatments/*")
    expect(page.get_by_text("Session logged.")).to_be_visible()
    expect(page.get_by_text("60.0% of machine output")).to_be_visible()
    journey.click(page.get_by_role("button", name="Sign log"))
    expect(page.get_by_text("Log signed.")).to_be_visible()
    assert_accessible(page)
    assert journey.done() == (6, 2)
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


def test_a_first_session_asks_for_the_motor_threshold(
    page: Any, technician: Any, clinician: Any
) -> None:
    course = make_course(make_patient(first_name="Morgan"), prescriber=clinician)
    make_appointment(course, clock.now().replace(microsecond=0), device=make_device("Chair 1"))
    sign_in(page, technician.email, PASSWORD)
    page.wait_for_url("**/today")
    journey = Journey(page)
    journey.click(page.get_by_role("button", name="Check in Morgan"))
    expect(page.get_by_text("is checked in.")).to_be_visible()
    journey.click(page.get_by_role("button", name="Log session for Morgan"))
    expect(page.get_by_text("Motor threshold required.")).to_be_visible()
    assert page.get_by_label("Pulses delivered").input_value() == "3000"
    journey.fill(page.get_by_label("New motor threshold (% of machine output)"), "50")
    assert page.locator("#dose-output").inner_text().startswith("120% \u00d7 50% MT = 60")
    journey.fill(page.get_by_label("Coil position"), "5.5 cm anterior to APB hotspot")
    journey.check(page.get_by_label("Headache"))
    journey.fill(page.get_by_label("Comfort (0 = very uncomfortable, 10 = fully comfortable)"), "8")
    journey.click(page.get_by_role("button", name="Save and sign"))
    expect(page.get_by_text("Session logged and signed for Morgan")).to_be_visible()
    assert journey.done() == (7, 0)


def test_a_refusal_in_place_keeps_the_form_as_typed(
    page: Any, technician: Any, clinician: Any
) -> None:
    course_id = _second_session(technician, clinician).course_id
    sign_in(page, technician.email, PASSWORD)
    page.wait_for_url("**/today")
    page.get_by_role("button", name="Log session for Morgan").click()
    expect(page.get_by_role("heading", name="Log session")).to_be_focused()
    page.get_by_label("Headache").check()
    page.get_by_label("Notes").fill("Asked for a break after train 40.")
    # Meanwhile a clinician holds the course: the service refuses the log.
    db.session.rollback()  # no read left open on the test's connection (SQLite)
    db.session.execute(update(Course).where(Course.id == course_id).values(status="on_hold"))
    db.session.commit()
    page.get_by_role("button", name="Save and sign").click()
    expect(page.get_by_text("The course is on hold")).to_be_visible()
    assert page.get_by_label("Notes").input_value() == "Asked for a break after train 40."
    assert page.get_by_label("Headache").is_checked()
    expect(page.locator("tr.session-row", has_text="Morgan")).to_be_visible()  # still Today
    assert page.url.endswith("/today")
    assert_accessible(page)
