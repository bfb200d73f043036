"""Counting a journey as the issue's measures count it: every click, field typed in and
box or radio ticked is one action; every document the tab loads is one page load (htmx's
partial answers are not). Counting starts once the user is signed in."""

from __future__ import annotations

from typing import Any


class Journey:
    def __init__(self, page: Any) -> None:
        self.actions = 0
        self.loads = 0
        page.on("load", self._loaded)

    def _loaded(self, _page: Any) -> None:
        self.loads += 1

    def click(self, locator: Any) -> None:
        locator.click()
        self.actions += 1

    def fill(self, locator: Any, value: str) -> None:
        locator.fill(value)
        self.actions += 1

    def check(self, locator: Any) -> None:
        locator.check()
        self.actions += 1
