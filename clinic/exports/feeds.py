"""Calendar feeds: a secret URL per chair or technician that calendar clients poll.

What a feed shows is the schedule and nothing else: when, which chair, which room. No
patient name, no protocol, no course: a staff calendar is read on phones and shared
screens, and CONTRACT 10 forbids anything clinical in it.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import timedelta

from flask import current_app
from icalendar import Calendar, Event
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.auth.models import User
from clinic.errors import Invalid, NotAllowed, NotFound
from clinic.exports.models import CalendarFeed
from clinic.extensions import db
from clinic.permissions import Permission, role_can
from clinic.scheduling.calendar import get_device, get_row
from clinic.scheduling.models import LIVE_STATUSES, Appointment, overlaps

HORIZON = timedelta(weeks=8)
PRODID = "-//Clinic scheduling//calendar feed//EN"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_feed(
    *, actor: User, device_id: int | None = None, technician_id: int | None = None
) -> tuple[CalendarFeed, str]:
    """A new feed and its secret token (shown once). Anyone may subscribe to their own
    sessions; a chair's or another technician's feed is an admin's to hand out."""
    if (device_id is None) == (technician_id is None):
        raise Invalid(
            "Give exactly one of device_id or technician_id.",
            fields={"_schema": ["Exactly one of device_id, technician_id."]},
        )
    if device_id is not None:
        get_device(device_id)
    else:
        assert technician_id is not None
        get_row(User, technician_id, "user")
    if technician_id != actor.id and not role_can(actor.role, Permission.ADMINISTER):
        raise NotAllowed("Only an admin may create a feed for a chair or for someone else.")
    token = secrets.token_urlsafe(32)
    feed = CalendarFeed(
        token_sha256=_digest(token),
        device_id=device_id,
        technician_id=technician_id,
        created_by_id=actor.id,
    )
    db.session.add(feed)
    db.session.flush()
    record(actor.id, AuditAction.CREATE, "calendar_feed", feed.id)
    return feed, token


def _live_feed(feed_id: int) -> CalendarFeed:
    feed = get_row(CalendarFeed, feed_id, "calendar feed")
    if feed.revoked_at is not None:
        raise NotFound(f"No calendar feed {feed_id}.")
    return feed


def list_feeds(actor: User) -> Sequence[CalendarFeed]:
    query = select(CalendarFeed).where(CalendarFeed.revoked_at.is_(None)).order_by(CalendarFeed.id)
    if not role_can(actor.role, Permission.ADMINISTER):
        query = query.where(CalendarFeed.created_by_id == actor.id)
    return db.session.scalars(query).all()


def revoke_feed(feed_id: int, *, actor: User) -> None:
    """The URL stops working at once (404); the row stays for the audit trail."""
    feed = _live_feed(feed_id)
    if feed.created_by_id != actor.id and not role_can(actor.role, Permission.ADMINISTER):
        raise NotFound(f"No calendar feed {feed_id}.")
    feed.revoked_at = clock.now()
    db.session.flush()
    record(actor.id, AuditAction.DELETE, "calendar_feed", feed.id)


def feed_by_token(token: str) -> CalendarFeed:
    feed = db.session.scalar(
        select(CalendarFeed).where(CalendarFeed.token_sha256 == _digest(token))
    )
    if feed is None or feed.revoked_at is not None:
        raise NotFound("No such calendar feed.")
    return feed


def feed_calendar(feed: CalendarFeed) -> str:
    """RFC 5545, instants in UTC: the next 8 weeks of the chair's or technician's live
    sessions. SEQUENCE follows the appointment's moves, so clients update in place."""
    now = clock.now()
    query = (
        select(Appointment)
        .options(joinedload(Appointment.device))
        .where(
            Appointment.status.in_(LIVE_STATUSES),
            overlaps(now, now + HORIZON),
        )
        .order_by(Appointment.starts_at)
    )
    if feed.device_id is not None:
        query = query.where(Appointment.device_id == feed.device_id)
    else:
        query = query.where(Appointment.technician_id == feed.technician_id)
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    clinic_name = current_app.config["CLINIC_NAME"]
    calendar.add("x-wr-calname", f"{clinic_name} schedule")
    host = current_app.config["CLINIC_BASE_URL"].split("//", 1)[-1].split("/", 1)[0]
    for appointment in db.session.scalars(query):
        device = appointment.device
        event = Event()
        event.add("uid", f"feed-appointment-{appointment.id}@{host}")
        event.add("sequence", appointment.revision)
        event.add("dtstamp", now)
        event.add("dtstart", appointment.starts_at)
        event.add("dtend", appointment.ends_at)
        event.add("summary", f"Booked: {device.name}")
        event.add("location", ", ".join(part for part in (clinic_name, device.room) if part))
        event.add("status", "CONFIRMED")
        event.add("transp", "OPAQUE")
        calendar.add_component(event)
    return calendar.to_ical().decode()
