"""The resource calendar behind the day board and the week view (EventCalendar, vendored):
its feed (chairs as columns, sessions coloured by status) and drag-and-drop moves, which go
through the same booking service as the move page, so a clash answers 409 with its reason
and the calendar puts the session back."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import jsonify, request
from flask_login import current_user

from clinic import clock
from clinic.errors import DomainError, Invalid, json_error
from clinic.permissions import Permission, requires
from clinic.scheduling import schedule, sites
from clinic.scheduling.booking_service import move_appointment
from clinic.scheduling.models import AppointmentStatus
from clinic.scheduling.routes import day_arg
from clinic.scheduling.site_routes import page_site
from clinic.templating import url_per_row
from clinic.web import bp

LOCAL_FORMAT = "%Y-%m-%dT%H:%M:%S"


def _local(instant: datetime, tz: ZoneInfo) -> str:
    """EventCalendar works in wall-clock time: the site's, without an offset."""
    return instant.astimezone(tz).strftime(LOCAL_FORMAT)


def _event(
    appointment: schedule.BoardSession, number: int, tz: ZoneInfo, urls: _Urls
) -> dict[str, Any]:
    patient = appointment.patient
    status = appointment.status
    shown = "makeup" if appointment.is_makeup and status == AppointmentStatus.SCHEDULED else status
    scheduled = status == AppointmentStatus.SCHEDULED
    may_edit = urls.may_edit
    return {
        "id": str(appointment.id),
        "resourceIds": [str(appointment.device_id)],
        "start": _local(appointment.starts_at, tz),
        "end": _local(appointment.ends_at, tz),
        "title": patient.full_name,
        "classNames": [f"status-{shown}"],
        "editable": scheduled and may_edit,
        "extendedProps": {
            "initials": patient.initials,
            "status": status,
            "session": f"Session {number} of {appointment.planned_sessions}",
            "chart_url": urls.chart(patient.id),
            "move_url": urls.move(appointment.id) if scheduled and may_edit else None,
            "check_in_url": urls.check_in(appointment.id)
            if scheduled and appointment.starts_at.astimezone(tz).date() == urls.today
            else None,
            "cancel_url": urls.cancel(appointment.id) if scheduled and may_edit else None,
        },
    }


class _Urls:
    """What every event of one feed shares, asked once: the user's right to change
    sessions, the site's today, and the URL rules (a week's feed built 600 URLs)."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.may_edit = current_user.can(Permission.EDIT_PATIENTS)
        self.today = clock.today(tz)
        self.chart = url_per_row("patients.chart", "patient_id")
        self.move = url_per_row("scheduling.move", "appointment_id")
        self.check_in = url_per_row("treatments.check_in", "appointment_id")
        self.cancel = url_per_row("scheduling.cancel", "appointment_id")


@bp.route("/schedule/calendar.json")
@requires(Permission.READ)
def calendar_feed() -> Any:
    """Chairs and sessions from `date` for `days` (1 or 7), for the resource calendar."""
    first = day_arg()
    days = 7 if request.args.get("days") == "7" else 1
    last = first + timedelta(days=days - 1)
    mine = request.args.get("mine") == "1"
    site = page_site()["site"]
    rows = schedule.board_sessions(
        first, last, site=site, technician_id=current_user.id if mine else None
    )
    devices = schedule.board_devices(rows, site.id)
    tz = sites.site_tz(site)
    urls = _Urls(tz)
    return jsonify(
        {
            "resources": [{"id": str(d.id), "title": d.name} for d in devices],
            "events": [_event(a, number, tz, urls) for a, number in rows],
        }
    )


def _local_instant(value: Any, tz: ZoneInfo) -> datetime:
    """A wall-clock time from the calendar ("2026-03-02T09:15:00") on the site's clock."""
    try:
        naive = datetime.fromisoformat(str(value))
    except ValueError:
        raise Invalid(
            "Give the new start as YYYY-MM-DDTHH:MM.", fields={"starts_at": ["Not a time."]}
        ) from None
    if naive.tzinfo is not None:
        return naive
    return naive.replace(tzinfo=tz)


@bp.route("/schedule/appointments/<int:appointment_id>/move.json", methods=["POST"])
@requires(Permission.EDIT_PATIENTS)
def move_by_drag(appointment_id: int) -> Any:
    """Move a session dropped on the calendar (or put it back: undo is the same call with
    the old place). Answers the session's new place and its previous one."""
    body = request.get_json(silent=True) or {}
    try:
        before = schedule.get_appointment(appointment_id)
        tz = sites.appointment_tz(before)  # the board it was dropped on is its site's
        previous = {"starts_at": _local(before.starts_at, tz), "device_id": before.device_id}
        device = str(body.get("device_id") or "")
        moved = move_appointment(
            appointment_id,
            starts_at=_local_instant(body.get("starts_at"), tz),
            device_id=int(device) if device.isdigit() else None,
            actor_id=current_user.id,
        )
    except DomainError as error:
        return json_error(error.status, error.code, error.message, error.fields, error.details)
    when = moved.starts_at.astimezone(tz)
    return jsonify(
        {
            "id": moved.id,
            "starts_at": _local(moved.starts_at, tz),
            "device_id": moved.device_id,
            "previous": previous,
            "message": f"Moved {moved.patient.initials} to {when:%a %d %b %H:%M} "
            f"on {moved.device.name}.",
        }
    )
