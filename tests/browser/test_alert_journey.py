"""A clinician closes an item-9 alert in a real browser with the ASQ screen."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from clinic.courses.models import Course
from clinic.extensions import db
from clinic.outcomes import services
from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_course, make_patient

pytestmark = pytest.mark.browser


def test_a_clinician_closes_an_item_9_alert_with_the_asq(page: Any, clinician: Any) -> None:
    course = make_course(make_patient(first_name="Sam", last_name="Okafor"), prescriber=clinician)
    services.record_response(
        course.patient_id, "PHQ-9", [1, 1, 1, 1, 1, 1, 1, 1, 2], None, "link", None
    )
    db.session.commit()
    sign_in(page, clinician.email, PASSWORD)
    page.get_by_role("link", name="Alerts").click()
    card = page.locator("article.alert-urgent")
    assert "Sam Okafor" in card.inner_text()
    assert_accessible(page)
    acuity = card.get_by_text("5. Are you having thoughts of killing yourself right now?")
    expect(acuity).to_be_hidden()  # asked only after a yes
    for n in (2, 3, 4):
        card.locator(f"input[name=asq_{n}][value=no]").check()
    card.locator("input[name=asq_1][value=yes]").check()
    expect(acuity).to_be_visible()
    card.get_by_label("What was done").fill("Brief safety assessment; safety plan reviewed.")
    card.get_by_role("button", name="Acknowledge").click()
    # Question 5 is required once shown: the browser keeps the form until it is answered.
    expect(page.get_by_role("heading", name="Open (1)")).to_be_visible()
    card.locator("input[name=asq_5][value=no]").check()
    card.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("ASQ non-acute positive: the patient is flagged")).to_be_visible()
    expect(page.get_by_role("heading", name="Open (0)")).to_be_visible()
    flagged = page.locator("section[aria-labelledby=flagged-alerts]")
    expect(flagged.get_by_text("patient flagged")).to_be_visible()
    db.session.expire_all()
    held = db.session.get(Course, course.id)
    assert held is not None and held.status == "active"  # non-acute: treatment goes on
    flagged.get_by_label("Safety assessment done").fill("Seen by Dr; low risk, plan in place.")
    flagged.get_by_role("button", name="Clear the flag").click()
    expect(page.get_by_text("Flag cleared.")).to_be_visible()
    expect(page.locator("section[aria-labelledby=flagged-alerts]")).to_have_count(0)
    assert_accessible(page)
