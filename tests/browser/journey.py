"""Counting a journey as a user lives it: every action (a click, a field typed into, a box
ticked, an option chosen) and every page the browser loads (a main-frame navigation,
a redirect after a post counting once; an htmx update in place counts none)."""

from __future__ import annotations

from typing import Any


class Journey:
    """Drive the page through this object from the journey's first page on: it counts."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.actions = 0
        self.loads = 0
        page.on("framenavigated", self._navigated)

    def _navigated(self, frame: Any) -> None:
        if frame == self.page.main_frame:
            self.loads += 1

    def _ready(self) -> None:
        """Act on a page whose scripts have run, as a person would: on a loaded machine a
        click could otherwise beat htmx to the form and post it as a whole page."""
        self.page.wait_for_load_state("load")
        self.actions += 1

    def click(self, locator: Any) -> None:
        self._ready()
        locator.click()

    def fill(self, locator: Any, value: str) -> None:
        self._ready()
        locator.fill(value)

    def check(self, locator: Any) -> None:
        self._ready()
        locator.check()

    def select(self, locator: Any, **option: str) -> None:
        self._ready()
        locator.select_option(**option)

    def done(self) -> tuple[int, int]:
        """Stop counting: (actions, page loads)."""
        self.page.remove_listener("framenavigated", self._navigated)
        return self.actions, self.loads
