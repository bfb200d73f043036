"""A patient reads the TMS consent on the tablet and signs it with a finger (the canvas);
the signed PDF is then in the patient's documents."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.factories import PASSWORD, make_patient

pytestmark = pytest.mark.browser


def test_a_patient_signs_the_consent_by_drawing(page: Any, front_desk: Any) -> None:
    patient = make_patient(first_name="Noor", last_name="Haddad")
    sign_in(page, front_desk.email, PASSWORD)
    page.goto(f"/patients/{patient.id}/consent")
    expect(
        page.get_by_text("Informed consent for transcranial magnetic stimulation")
    ).to_be_visible()
    page.get_by_label("Your full name").fill("Noor Haddad")
    page.get_by_label("Draw my signature").check()
    canvas = page.locator("canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 100)
    page.mouse.down()
    for step in range(1, 12):
        page.mouse.move(box["x"] + 20 + step * 25, box["y"] + 100 + (-1) ** step * 30)
    page.mouse.up()
    page.get_by_role("button", name="I agree and sign").click()
    expect(page.get_by_text("Consent signed and kept")).to_be_visible()
    expect(page.get_by_role("link", name="tms-consent-2026-1.pdf")).to_be_visible()
