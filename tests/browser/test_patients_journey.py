"""Front desk registers a patient, screens them and finds the result on the chart."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from playwright.sync_api import expect

from clinic.extensions import db
from clinic.patients.intake import create_patient
from clinic.patients.screening import SCREENING_ITEMS
from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_front_desk_registers_screens_and_opens_the_chart(page: Any, front_desk: Any) -> None:
    sign_in(page, front_desk.email, PASSWORD)
    page.get_by_role("link", name="Patients").click()
    page.get_by_role("button", name="New patient").click()
    page.wait_for_url("**/intake")
    assert_accessible(page)

    page.get_by_label("First name").fill("Jamie")
    page.get_by_label("Last name").fill("Rivera")
    page.get_by_label("Date of birth").fill("1980-05-17")
    page.get_by_label("Mobile phone").fill("212 555 0123")
    page.get_by_label("Text message (SMS)").check()
    page.get_by_label("Consents to text messages").check()
    page.get_by_label("Diagnoses (ICD-10-CM)").fill("F33.1, G89.29")
    page.get_by_role("button", name="Register patient").click()

    page.wait_for_url("**/patients/*")
    expect(page.get_by_role("heading", name="Jamie Rivera")).to_be_visible()
    expect(page.get_by_text("registered with MRN")).to_be_visible()
    assert_accessible(page)
    expect(page.get_by_text("(212) 555-0123", exact=True)).to_be_visible()  # national format
    expect(page.get_by_text("Not screened", exact=True).first).to_be_visible()
    page.locator("#screening").get_by_role("button", name="Record screening").click()
    # Submitting with nothing answered shows every question's error inline.
    page.get_by_role("button", name="Record screening").click()
    expect(page.get_by_role("alert").get_by_text("problems with this form")).to_be_visible()
    assert_accessible(page)
    for item in SCREENING_ITEMS:
        group = page.get_by_role("group", name=item.question)
        group.get_by_label("Yes" if item.code == "pregnancy" else "No", exact=True).check()
    page.get_by_label("Notes").fill("Pregnancy test pending.")
    page.get_by_role("button", name="Record screening").click()

    page.wait_for_url("**/patients/*")
    expect(page.get_by_text("Screening recorded: review.")).to_be_visible()
    screening = page.locator("#screening")
    expect(screening.get_by_text("Needs review")).to_be_visible()
    expect(screening.get_by_text("Is the patient pregnant or possibly pregnant?")).to_be_visible()
    expect(screening.get_by_text("Awaiting a clinician")).to_be_visible()
    assert_accessible(page)
    expect(page.locator("#viewers").get_by_text(front_desk.name).first).to_be_visible()


def test_registering_someone_twice_offers_the_existing_record_first(
    page: Any, front_desk: Any
) -> None:
    existing = create_patient(
        {"first_name": "José", "last_name": "Núñez", "date_of_birth": date(1970, 1, 1)},
        actor_id=None,
    )
    db.session.commit()
    sign_in(page, front_desk.email, PASSWORD)
    page.get_by_role("link", name="Patients").click()
    page.get_by_role("button", name="New patient").click()
    page.get_by_label("First name").fill("jose\u0301")  # typed with a combining accent
    page.get_by_label("Last name").fill("NÚÑEZ")
    page.get_by_label("Date of birth").fill("1970-01-01")
    page.get_by_role("button", name="Register patient").click()

    expect(
        page.get_by_role("heading", name="This patient may already be registered")
    ).to_be_visible()
    link = page.get_by_role("link", name=f"Open the record with MRN {existing.mrn}")
    expect(link).to_be_visible()
    page.get_by_label("This is another person: register anyway").check()
    page.get_by_role("button", name="Register patient").click()
    page.wait_for_url("**/patients/*")
    expect(page.get_by_text("registered with MRN")).to_be_visible()
