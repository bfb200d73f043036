"""A patient answers a PHQ-9 from a link on a phone."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from clinic.extensions import db
from clinic.outcomes import services
from tests.browser.axe import assert_accessible
from tests.factories import make_course, make_patient

pytestmark = pytest.mark.browser


def _link_path(app: Any) -> str:
    course = make_course(make_patient(first_name="Morgan"))
    _link, url = services.create_link(course.patient_id, "PHQ-9")
    db.session.commit()
    return url.removeprefix(app.config["CLINIC_BASE_URL"])


def _answer(page: Any, item9: str) -> None:
    for number in range(1, 9):
        page.get_by_role("group", name=f"{number}.").get_by_label("Several days").check()
    page.get_by_role("group", name="9.").get_by_label(item9).check()
    page.get_by_role("button", name="Send my answers").click()


def test_the_patient_answers_a_phq9_on_a_phone(phone_page: Any, app: Any) -> None:
    path = _link_path(app)
    phone_page.goto(path)
    expect(phone_page.get_by_role("heading", name="Hello Morgan")).to_be_visible()
    assert_accessible(phone_page)
    first = phone_page.get_by_role("group", name="1.").get_by_label("Not at all")
    box = first.bounding_box()
    assert box is not None and box["height"] >= 24  # a thumb-sized target
    _answer(phone_page, "Not at all")
    expect(phone_page.get_by_role("heading", name="Thank you")).to_be_visible()
    assert phone_page.locator(".crisis").count() == 0
    assert_accessible(phone_page)
    phone_page.goto(path)
    expect(phone_page.get_by_text("already been answered")).to_be_visible()


def test_item_9_shows_crisis_resources_right_after_submitting(phone_page: Any, app: Any) -> None:
    phone_page.goto(_link_path(app))
    _answer(phone_page, "More than half the days")
    crisis = phone_page.locator(".crisis")
    expect(crisis).to_be_visible()
    assert "988" in crisis.inner_text() and "911" in crisis.inner_text()
    assert crisis.get_by_role("link", name="Call 988").get_attribute("href") == "tel:988"
    assert_accessible(phone_page)
