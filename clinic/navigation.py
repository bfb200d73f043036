"""The header navigation and the admin index, filtered by role and by what is installed.

An entry whose endpoint is not registered is left out, so a feature appears in the menu
the moment its blueprint exists, and never as a dead link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, has_request_context, request, url_for
from flask_login import current_user

from clinic.alerts.services import count_open_urgent
from clinic.permissions import Permission


@dataclass(frozen=True)
class NavEntry:
    label: str
    endpoint: str
    permission: Permission
    badge: Callable[[], int] | None = None
    """A count shown next to the label on every page (e.g. open urgent alerts)."""
    icon: str = ""
    """A symbol of the vendored Lucide sprite (static/vendor/lucide), beside the label."""


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str
    active: bool
    badge: int = 0
    icon: str = ""


def _open_urgent_alerts() -> int:
    """The badge counts the alerts the user's alerts page lists (their sites' patients)."""
    return count_open_urgent(current_user.id)


MAIN_MENU: tuple[NavEntry, ...] = (
    # The first entry a role can see is its home page: a clinician's is the work inbox.
    NavEntry("Inbox", "web.inbox", Permission.REVIEW, icon="inbox"),
    NavEntry("Today", "treatments.today", Permission.LOG_TREATMENTS, icon="list-checks"),
    NavEntry("Schedule", "web.board", Permission.READ, icon="calendar-days"),
    NavEntry("Patients", "patients.index", Permission.READ, icon="users"),
    # Intake on one page (register, insure, consent, screen) from anywhere.
    NavEntry("New patient", "web.intake", Permission.EDIT_PATIENTS, icon="user-plus"),
    NavEntry("Review", "treatments.review_queue", Permission.REVIEW, icon="clipboard-check"),
    NavEntry(
        "Alerts", "alerts.index", Permission.ENTER_RESPONSES, badge=_open_urgent_alerts, icon="bell"
    ),
    NavEntry("Reminders", "reminders.index", Permission.READ_REMINDERS, icon="send"),
    NavEntry("Outcomes", "outcomes.report", Permission.READ, icon="chart-line"),
    NavEntry("Authorizations", "billing.authorizations", Permission.BILLING, icon="shield-check"),
    NavEntry("Admin", "auth.admin_index", Permission.ADMINISTER, icon="settings"),
)

ADMIN_MENU: tuple[NavEntry, ...] = (
    NavEntry("Users", "auth.admin_users", Permission.ADMINISTER),
    NavEntry("Security policy", "auth.admin_policy", Permission.ADMINISTER),
    NavEntry("Sites", "scheduling.admin_sites", Permission.ADMINISTER),
    NavEntry("Devices", "scheduling.admin_devices", Permission.ADMINISTER),
    NavEntry("Clinic hours and closures", "scheduling.admin_calendar", Permission.ADMINISTER),
    NavEntry("Technicians' hours", "scheduling.admin_technicians", Permission.ADMINISTER),
    NavEntry("Protocols", "courses.admin_protocols", Permission.ADMINISTER),
    NavEntry("Reminder policy", "reminders.admin_policy", Permission.ADMINISTER),
    NavEntry("Message templates", "reminders.admin_templates", Permission.ADMINISTER),
    NavEntry("Fee schedule", "billing.admin_fees", Permission.ADMINISTER),
    NavEntry("Scheduler", "scheduler.admin", Permission.ADMINISTER),
    NavEntry("Audit trail", "audit.index", Permission.ADMINISTER),
    NavEntry("Exports (CSV)", "exports.index", Permission.ADMINISTER),
)


def fixed_url(endpoint: str, **values: Any) -> str:
    """`url_for` of a URL that never changes while the app runs (a menu entry, a static
    file), built once per script root: every page's header built two dozen of them."""
    key = (
        request.script_root if has_request_context() else None,
        endpoint,
        *sorted(values.items()),
    )
    urls = current_app.extensions.setdefault("clinic.fixed_urls", {})
    url = urls.get(key)
    if url is None:
        url = urls[key] = url_for(endpoint, **values)
    return str(url)


def _visible(entries: tuple[NavEntry, ...]) -> list[NavItem]:
    if not current_user.is_authenticated:
        return []
    items = []
    for entry in entries:
        if entry.endpoint in current_app.view_functions and current_user.can(entry.permission):
            url = fixed_url(entry.endpoint)
            blueprint = entry.endpoint.split(".", 1)[0]
            active = request.endpoint == entry.endpoint or (
                request.blueprint == blueprint and request.path.startswith(url) and url != "/"
            )
            badge = entry.badge() if entry.badge else 0
            items.append(NavItem(entry.label, url, active, badge, entry.icon))
    return items


def nav_items() -> list[NavItem]:
    return _visible(MAIN_MENU)


def admin_items() -> list[NavItem]:
    return _visible(ADMIN_MENU)


def safe_local_url(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None: a `next` parameter must never
    send a user to another host.

    Browsers read `/\\evil.example` as `//evil.example` and drop tabs and newlines, so
    backslashes and control characters are refused as well as schemes and hosts.
    """
    if not target or len(target) > 2000:
        return None
    if "\\" in target or any(ord(ch) < 32 or ord(ch) == 127 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target
