"""The one source of time. Tests freeze it with time-machine; nothing else calls datetime.now."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_TIMEZONE = "America/New_York"


def now() -> datetime:
    """The current instant, aware, in UTC."""
    return datetime.now(UTC)


def clinic_tz() -> ZoneInfo:
    """The clinic's time zone (CLINIC_TIMEZONE)."""
    name = current_app.config["CLINIC_TIMEZONE"] if has_app_context() else DEFAULT_TIMEZONE
    return ZoneInfo(name)


def local_now(tz: ZoneInfo | None = None) -> datetime:
    return now().astimezone(tz or clinic_tz())


def today(tz: ZoneInfo | None = None) -> date:
    """Today's date on the clinic's wall calendar (not UTC's)."""
    return local_now(tz).date()


def to_local(instant: datetime, tz: ZoneInfo | None = None) -> datetime:
    return instant.astimezone(tz or clinic_tz())
