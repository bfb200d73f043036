"""A staff member signs in and out in a real browser."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_sign_in_lands_on_a_working_page_and_sign_out_returns_to_login(
    page: Any, admin: Any
) -> None:
    sign_in(page, admin.email, PASSWORD)
    expect(page.get_by_text(f"Welcome, {admin.name}.")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/login")
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    assert_accessible(page)


def test_wrong_password_shows_an_error_and_stays_on_login(page: Any, admin: Any) -> None:
    sign_in(page, admin.email, "wrong password!!")
    expect(page.get_by_text("Wrong email or password.")).to_be_visible()
    assert_accessible(page)
