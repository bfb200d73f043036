"""Jinja globals and filters: local-time formatting lives here, at the edge."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import phonenumbers
from flask import Flask, url_for
from flask_login import current_user
from markupsafe import Markup, escape

from clinic import clock
from clinic.navigation import admin_items, fixed_url, nav_items


def local_datetime(value: datetime | None, fmt: str = "%a %d %b %Y %H:%M") -> str:
    if value is None:
        return ""
    return clock.to_local(value).strftime(fmt)


def local_time(value: datetime | None) -> str:
    return local_datetime(value, "%H:%M")


def local_date(value: datetime | date | None, fmt: str = "%a %d %b %Y") -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return clock.to_local(value).strftime(fmt)
    return value.strftime(fmt)


HOME_PHONE_REGION = "US"


@lru_cache(maxsize=4096)
def phone(value: str | None) -> str:
    """An E.164 number as people write it: national at home ("(212) 555-0123"),
    international for a number abroad; anything unparseable as stored. Cached: parsing
    costs a few hundred microseconds, and the board's panels show the same numbers on
    every request."""
    if not value:
        return ""
    try:
        number = phonenumbers.parse(value, HOME_PHONE_REGION)
    except phonenumbers.NumberParseException:
        return value
    home = phonenumbers.region_code_for_number(number) == HOME_PHONE_REGION
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if home
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return phonenumbers.format_number(number, style)


_MARKER = 918273645
"""A number no rule holds elsewhere: `url_per_row` builds a URL with it, then cuts there."""


def url_per_row(endpoint: str, key: str, **values: Any) -> Callable[[int], str]:
    """`url_for(endpoint, key=n, **values)` for each row of a page: the rule is built once
    with a marker for n, and each row's URL is the two halves around its number (a day
    board built a hundred URLs through the router)."""
    head, _, tail = url_for(endpoint, **{**values, key: _MARKER}).partition(str(_MARKER))
    return lambda number: f"{head}{int(number)}{tail}"


STATUS_LABELS = {
    "scheduled": "Scheduled",
    "checked_in": "Checked in",
    "completed": "Completed",
    "cancelled": "Cancelled",
    "no_show": "No-show",
    "makeup": "Make-up",
    "urgent": "Urgent",
    "open": "Open",
    "acknowledged": "Acknowledged",
}


def status_badge(status: Any, label: str | None = None) -> Markup:
    """A status as a badge whose text always names it (never colour alone); `status` a
    string or an Enum (its value). `ui.badge` in templates; a page with a badge per
    row calls it directly (a macro call costs ten times the function)."""
    raw = str(getattr(status, "value", status))
    key = raw.lower().replace("-", "_").replace(" ", "_")
    text = label or STATUS_LABELS.get(key) or raw.replace("_", " ").capitalize()
    kind = f" badge-{escape(key)}" if key in STATUS_LABELS else ""
    return Markup(f'<span class="badge{kind}">{escape(text)}</span>')


ICON_SPRITE = "vendor/lucide/1.62.0/icons.svg"


def icon_svg(name: str) -> Markup:
    """A symbol of the vendored Lucide sprite, decorative (`ui.icon` in templates; the
    header calls it directly, a dozen times a page)."""
    sprite = escape(fixed_url("static", filename=ICON_SPRITE))
    return Markup(
        '<svg class="icon" aria-hidden="true" focusable="false">'
        f'<use href="{sprite}#{escape(name)}"></use></svg>'
    )


def can(permission: str) -> bool:
    return bool(current_user.is_authenticated and current_user.can(permission))


def init_app(app: Flask) -> None:
    app.jinja_env.globals.update(
        nav_items=nav_items,
        admin_items=admin_items,
        can=can,
        url_per_row=url_per_row,
        status_badge=status_badge,
        icon_svg=icon_svg,
        fixed_url=fixed_url,
    )
    app.jinja_env.globals["today"] = clock.today
    app.jinja_env.filters.update(
        local_datetime=local_datetime, local_time=local_time, local_date=local_date, phone=phone
    )
