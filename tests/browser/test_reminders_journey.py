"""An admin rewrites the SMS reminder, previews it, is stopped by a clinical word, saves."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.axe import assert_accessible
from tests.browser.conftest import sign_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_admin_edits_the_sms_reminder_with_a_preview(page: Any, admin: Any) -> None:
    sign_in(page, admin.email, PASSWORD)
    page.goto("/admin/reminders/templates")
    assert_accessible(page)
    page.get_by_role("link", name="Edit appointment reminder sms").click()
    message = page.get_by_label("Message")
    message.fill("{clinic_name}: your TMS visit is {date} at {time}.")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert "nothing clinical" in page.content()
    page.get_by_label("Message").fill(
        "{clinic_name}: see you {date} at {time}. Reply STOP to opt out."
    )
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()
    assert_accessible(page)
    assert "see you Monday 9 March 2026 at 09:00" in page.content()
    page.get_by_role("button", name="Save template").click()
    expect(page.get_by_text("Template saved.")).to_be_visible()
