"""Front desk registers, insures, consents and screens a patient on the one intake page,
counting the actions and page loads it takes from the signed-in home page (the pages it
replaces took 38 and 10 for the same; the figures are in docs/patients.md)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from clinic.extensions import db
from clinic.patients.intake import create_patient
from clinic.patients.models import Screening
from clinic.patients.screening import SCREENING_ITEMS
from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.browser.journey import Journey
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

# The aim, halving its 42 actions and 9 loads, which count signing in too (email,
# password, Sign in; the login page and the home page).
MAX_ACTIONS, MAX_LOADS = 21, 4
SIGN_IN_ACTIONS, SIGN_IN_LOADS = 3, 2


def test_front_desk_registers_insures_consents_and_screens_in_one_form(
    page: Any, front_desk: Any
) -> None:
    sign_in(page, front_desk.email, PASSWORD)
    page.wait_for_load_state()
    journey = Journey(page)
    journey.click(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="New patient")
    )
    expect(page.get_by_role("heading", name="Register a patient")).to_be_visible()
    assert_accessible(page)

    journey.fill(page.get_by_label("First name"), "Jamie")
    journey.fill(page.get_by_label("Last name"), "Rivera")
    journey.fill(page.get_by_label("Date of birth"), "1980-05-17")
    journey.fill(page.get_by_label("Mobile phone"), "212 555 0123")
    journey.check(page.get_by_label("Text message (SMS)"))
    journey.check(page.get_by_label("Consents to text messages"))
    journey.fill(page.get_by_label("Diagnoses (ICD-10-CM)"), "F33.1, G89.29")

    journey.fill(page.get_by_role("textbox", name="Payer", exact=True), "Aetna")
    journey.fill(page.get_by_label("Member id"), "W123456789")
    journey.fill(page.get_by_label("Sessions authorized"), "36")

    journey.fill(page.get_by_label("Signer's full name"), "Jamie Rivera")
    journey.check(page.get_by_label("Type my name"))
    journey.fill(page.get_by_label("Type the signer's name to sign"), "Jamie Rivera")

    journey.click(page.get_by_role("button", name="All no"))
    expect(page.get_by_text("15 questions answered No.")).to_be_visible()
    for item in SCREENING_ITEMS:
        expect(page.get_by_role("group", name=item.question).get_by_label("No")).to_be_checked()
    pregnancy = page.get_by_role("group", name="Is the patient pregnant or possibly pregnant?")
    journey.check(pregnancy.get_by_label("Yes"))
    assert_accessible(page)
    journey.click(page.get_by_role("button", name="Register patient"))

    page.wait_for_url("**/patients/*")
    expect(page.get_by_role("heading", name="Jamie Rivera")).to_be_visible()
    expect(page.get_by_text("screening recorded: review")).to_be_visible()
    expect(page.get_by_text("TMS consent signed")).to_be_visible()
    screening = page.locator("#screening")
    expect(screening.get_by_text("Needs review")).to_be_visible()
    expect(screening.get_by_text("Is the patient pregnant or possibly pregnant?")).to_be_visible()
    expect(
        page.locator("#authorizations").get_by_role("cell", name="Aetna", exact=True)
    ).to_be_visible()
    assert_accessible(page)

    # Every answer is recorded, not just the one Yes.
    db.session.rollback()  # end the test's read snapshot: the server's commit is after it
    recorded = db.session.scalars(select(Screening)).one()
    assert recorded.answers == {item.code: item.code == "pregnancy" for item in SCREENING_ITEMS}
    assert (journey.actions, journey.loads) == (17, 2)
    assert journey.actions + SIGN_IN_ACTIONS <= MAX_ACTIONS
    assert journey.loads + SIGN_IN_LOADS <= MAX_LOADS


def test_the_existing_record_is_offered_while_typing_and_a_refusal_keeps_everything(
    page: Any, front_desk: Any
) -> None:
    existing = create_patient(
        {"first_name": "José", "last_name": "Núñez", "date_of_birth": date(1970, 1, 1)},
        actor_id=None,
    )
    db.session.commit()
    sign_in(page, front_desk.email, PASSWORD)
    page.goto("/intake")
    page.wait_for_load_state()
    journey = Journey(page)
    page.get_by_label("First name").fill("jose\u0301")  # typed with a combining accent
    page.get_by_label("Last name").fill("NÚÑEZ")
    page.get_by_label("Date of birth").fill("1970-01-01")
    page.get_by_label("Sex").focus()  # leaving the field is what asks (htmx, no page load)
    notice = page.get_by_role("heading", name="This patient may already be registered")
    expect(notice).to_be_visible()
    expect(
        page.get_by_role("link", name=f"Open the record with MRN {existing.mrn}")
    ).to_be_visible()
    assert journey.loads == 0
    assert_accessible(page)

    # Half a screening is refused: the page comes back with everything as it was typed,
    # the drawn signature too.
    page.get_by_label("Signer's full name").fill("José Núñez")
    _draw_a_signature(page)
    page.get_by_role("textbox", name="Payer", exact=True).fill("Aetna")
    page.get_by_label("Sessions authorized").fill("36")
    first = page.get_by_role("group", name=SCREENING_ITEMS[0].question)
    first.get_by_label("No").check()
    page.get_by_label("This is another person: register anyway").check()
    page.get_by_role("button", name="Register patient").click()
    expect(page.get_by_role("alert").get_by_text("problems with this form")).to_be_visible()
    expect(page.get_by_label("First name")).to_have_value("jose\u0301")
    expect(page.get_by_role("textbox", name="Payer", exact=True)).to_have_value("Aetna")
    expect(first.get_by_label("No")).to_be_checked()
    expect(page.get_by_label("This is another person: register anyway")).to_be_checked()
    expect(page.get_by_label("Signer's full name")).to_have_value("José Núñez")
    page.wait_for_function(INKED)
    assert_accessible(page)

    page.get_by_role("button", name="All no").click()
    page.get_by_role("button", name="Register patient").click()
    page.wait_for_url("**/patients/*")
    expect(page.get_by_text("registered with MRN")).to_be_visible()
    expect(page.get_by_text("screening recorded: clear")).to_be_visible()
    expect(page.get_by_text("TMS consent signed")).to_be_visible()


def test_registering_and_screening_alone(page: Any, front_desk: Any) -> None:
    """The issue's journey as it named it: register (the same fields as before) and screen."""
    sign_in(page, front_desk.email, PASSWORD)
    page.wait_for_load_state()
    journey = Journey(page)
    journey.click(
        page.get_by_role("navigation", name="Main").get_by_role("link", name="New patient")
    )
    journey.fill(page.get_by_label("First name"), "Jamie")
    journey.fill(page.get_by_label("Last name"), "Rivera")
    journey.fill(page.get_by_label("Date of birth"), "1980-05-17")
    journey.fill(page.get_by_label("Mobile phone"), "212 555 0123")
    journey.check(page.get_by_label("Text message (SMS)"))
    journey.check(page.get_by_label("Consents to text messages"))
    journey.fill(page.get_by_label("Diagnoses (ICD-10-CM)"), "F33.1, G89.29")
    journey.click(page.get_by_role("button", name="All no"))
    pregnancy = page.get_by_role("group", name="Is the patient pregnant or possibly pregnant?")
    journey.check(pregnancy.get_by_label("Yes"))
    journey.click(page.get_by_role("button", name="Register patient"))
    page.wait_for_url("**/patients/*")
    expect(page.get_by_text("screening recorded: review")).to_be_visible()
    assert (journey.actions, journey.loads) == (11, 2)


# Whether the signature pad's canvas holds any ink.
INKED = """() => {
  const canvas = document.querySelector("canvas.signature-canvas");
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
  return pixels.some((value) => value !== 0);
}"""


def _draw_a_signature(page: Any) -> None:
    canvas = page.locator("canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + 20, box["y"] + 100)
    page.mouse.down()
    for step in range(1, 8):
        page.mouse.move(box["x"] + 20 + step * 25, box["y"] + 100 + (-1) ** step * 30)
    page.mouse.up()
