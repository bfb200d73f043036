"""Accounts in a real browser: an admin adds a colleague, a second factor, keyboard only."""

from __future__ import annotations

import time
from typing import Any

import pyotp
import pytest
from playwright.sync_api import expect

from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_admin_creates_a_user_who_then_signs_in(page: Any, admin: Any) -> None:
    sign_in(page, admin.email, PASSWORD)
    page.get_by_role("link", name="Admin").first.click()
    page.get_by_role("link", name="Users").click()
    page.get_by_role("button", name="New user").or_(
        page.get_by_role("link", name="New user")
    ).click()
    page.get_by_label("Email").fill("casey@tms-clinic.org")
    page.get_by_label("Name").fill("Casey Front")
    page.get_by_label("Role").select_option("front_desk")
    page.get_by_label("Initial password").fill("caseys first password")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_text("User casey@tms-clinic.org created.")).to_be_visible()
    expect(page.get_by_role("cell", name="casey@tms-clinic.org")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Log out").click()
    sign_in(page, "casey@tms-clinic.org", "caseys first password")
    expect(page.get_by_text("Welcome, Casey Front.")).to_be_visible()


def test_user_sets_up_a_second_factor_and_signs_in_with_it(page: Any, clinician: Any) -> None:
    sign_in(page, clinician.email, PASSWORD)
    page.goto("/profile")
    page.get_by_role("link", name="Set up a second factor").click()
    secret = page.get_by_test_id("totp-secret").inner_text().strip()
    assert_accessible(page)
    page.get_by_label("Six-digit code").fill(pyotp.TOTP(secret).now())
    page.get_by_role("button", name="Turn on").click()
    expect(page.get_by_text("Second factor enabled.")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    sign_in(page, clinician.email, PASSWORD)
    page.wait_for_url("**/login/totp**")
    # The set-up code is used up; the next step's code is within the allowed drift.
    next_code = pyotp.TOTP(secret).at(time.time(), counter_offset=1)
    page.get_by_label("Six-digit code").fill(next_code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text(f"Welcome, {clinician.name}.")).to_be_visible()


def test_sign_in_by_keyboard_alone_with_the_skip_link(page: Any, technician: Any) -> None:
    page.goto("/login")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to main content")
    assert skip.evaluate("el => el === document.activeElement")
    page.keyboard.press("Enter")
    assert page.evaluate("document.activeElement.id") == "main" or page.url.endswith("#main")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "email"
    page.keyboard.type(technician.email)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.get_by_text(f"Welcome, {technician.name}.").wait_for()
    assert "/login" not in page.url
