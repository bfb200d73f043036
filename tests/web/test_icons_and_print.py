"""The vendored icon sprite has every icon the pages ask for, the icons are decorative to
assistive technology, and every page links the print stylesheet for print only."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from clinic.navigation import ADMIN_MENU, MAIN_MENU
from tests.factories import login, make_user

ROOT = Path(__file__).resolve().parents[2]
VENDOR = ROOT / "clinic" / "static" / "vendor" / "lucide" / "1.62.0"


def _used_icons() -> set[str]:
    names = {entry.icon for entry in (*MAIN_MENU, *ADMIN_MENU) if entry.icon}
    for template in (ROOT / "templates").rglob("*.html"):
        names |= set(re.findall(r'(?:ui\.icon|icon_svg)\("([a-z0-9-]+)"\)', template.read_text()))
    board = (ROOT / "clinic" / "static" / "js" / "board.js").read_text()
    names |= set(re.findall(r'"([a-z0-9-]+)"\)\);?\s*$', board, re.MULTILINE))
    return names


def test_every_icon_used_is_in_the_sprite_with_its_licence(client: Any) -> None:
    sprite = client.get("/static/vendor/lucide/1.62.0/icons.svg")
    assert sprite.status_code == 200
    symbols = set(re.findall(r'<symbol id="([a-z0-9-]+)"', sprite.get_data(as_text=True)))
    used = _used_icons()
    assert {"log-in", "clipboard-pen", "signature", "arrow-right-left", "x", "bell"} <= used
    assert used <= symbols, used - symbols
    assert "ISC License" in (VENDOR / "LICENSE").read_text()


def test_navigation_icons_are_hidden_from_screen_readers(client: Any) -> None:
    login(client, make_user("clinician"))
    page = client.get("/patients/").get_data(as_text=True)
    icons = re.findall(r"<svg class=\"icon\"[^>]*>", page)
    assert len(icons) >= 5  # the menu and log out (the search field has Pico's own)
    assert all('aria-hidden="true"' in tag and 'focusable="false"' in tag for tag in icons)
    assert 'icons.svg#inbox"' in page and 'icons.svg#log-out"' in page


def test_the_print_stylesheet_is_linked_for_print_and_served(client: Any) -> None:
    login(client, make_user("technician"))
    page = client.get("/today").get_data(as_text=True)
    assert re.search(
        r'<link rel="stylesheet" href="/static/css/print\.css[^"]*" media="print">', page
    )
    css = client.get("/static/css/print.css").get_data(as_text=True)
    assert ".site-header" in css and "display: none !important" in css
    assert "thead { display: table-header-group; }" in css  # the header row on every page
    assert "@media print" not in client.get("/static/css/app.css").get_data(as_text=True)
