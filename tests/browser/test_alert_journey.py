"""A clinician acknowledges an item-9 alert in a real browser."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from clinic.extensions import db
from clinic.outcomes import services
from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_course, make_patient

pytestmark = pytest.mark.browser


def test_a_clinician_acknowledges_an_urgent_alert(page: Any, clinician: Any) -> None:
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
    card.get_by_label("What was done").fill("Called Sam; safety plan reviewed, no intent.")
    card.get_by_role("button", name="Acknowledge").click()
    expect(page.get_by_text("Alert acknowledged.")).to_be_visible()
    expect(page.get_by_role("heading", name="Open (0)")).to_be_visible()
    expect(page.get_by_text("safety plan reviewed")).to_be_visible()
    assert_accessible(page)
