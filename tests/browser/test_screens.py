"""Screenshots of the main pages for the README, made from the same seeded working day the
accessibility sweep uses, so they stay current: `make screens` (CLINIC_SCREENS=docs/screens)
writes them; otherwise this test only checks that each page renders."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in
from tests.browser.test_accessibility import _a_working_day
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.browser

SHOTS: list[tuple[str, str, str]] = [
    ("front_desk", "board", "/schedule"),
    ("front_desk", "week", "/schedule/week"),
    ("front_desk", "chart", "/patients/{patient_id}"),
    ("front_desk", "course", "/courses/{course_id}"),
    ("front_desk", "reminders", "/reminders"),
    ("front_desk", "intake", "/intake"),
    ("technician", "today", "/today"),
    ("technician", "log-form", "/appointments/{appointment_id}/log"),
    ("clinician", "inbox", "/inbox"),
    ("clinician", "review", "/review"),
    ("clinician", "outcomes", "/outcomes"),
]


def test_screenshots_of_the_main_pages(browser: Any, live_server: str) -> None:
    target = os.environ.get("CLINIC_SCREENS")
    clinic = _a_working_day()
    users = {role: make_user(role) for role in {role for role, _, _ in SHOTS}}
    for role, user in users.items():
        context = browser.new_context(base_url=live_server, viewport={"width": 1280, "height": 860})
        page = context.new_page()
        sign_in(page, user.email, PASSWORD)
        for _, name, path in (shot for shot in SHOTS if shot[0] == role):
            page.goto(path.format(**clinic.__dict__))
            expect(page.locator("main h1").first).to_be_visible()
            if name in ("board", "week"):
                expect(page.locator(".ec-event").first).to_be_visible()
            if target:
                Path(target).mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(Path(target) / f"{name}.png"), full_page=False)
        context.close()
