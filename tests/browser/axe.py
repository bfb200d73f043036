"""axe-core in the browser tests: a page passes with no serious and no critical
violation. The library is vendored (clinic/static/vendor/axe-core) and loaded from the
app's own static path, so the pages' Content-Security-Policy (script-src 'self') holds."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Error as PlaywrightError

AXE_URL = "/static/vendor/axe-core/4.10.3/axe.min.js"
BLOCKING = ("serious", "critical")


def violations(page: Any) -> list[dict[str, Any]]:
    """axe's serious and critical violations on the page once it has loaded. A click that
    navigates returns before the next document exists; should that document replace the
    one axe was injected into (no head yet, or the context destroyed mid-run), axe runs
    again on the loaded page rather than failing the journey."""
    attempts_left = 3
    while True:
        page.wait_for_load_state("load")
        try:
            if not page.evaluate("typeof window.axe !== 'undefined'"):
                page.add_script_tag(url=AXE_URL)
            found = page.evaluate(
                "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
            )
            return [v for v in found if v.get("impact") in BLOCKING]
        except PlaywrightError:
            attempts_left -= 1
            if not attempts_left:
                raise
            page.wait_for_timeout(200)


def describe(found: list[dict[str, Any]]) -> str:
    lines = []
    for violation in found:
        lines.append(f"{violation['impact']}: {violation['id']} - {violation['help']}")
        lines.extend(
            f"    {node['target']}: {node['html'][:160]}" for node in violation["nodes"][:5]
        )
    return "\n".join(lines)


def assert_accessible(page: Any) -> None:
    found = violations(page)
    assert not found, f"axe on {page.url}:\n{describe(found)}"
