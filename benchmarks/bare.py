"""The bare-stack baseline: the same data as the app's pages, by the shortest road Flask,
SQLAlchemy Core and Jinja allow (no auth, no audit, no ORM objects, no layout).

Served by the same gunicorn, against the same database, so a ratio app / bare measures
what the product adds, not the machine: the figure holds on a shared, noisy host.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, jsonify, render_template_string, request
from sqlalchemy import text

from clinic.extensions import db

bp = Blueprint("bare", __name__, url_prefix="/bare")

_ROWS = """
    SELECT a.id, a.course_id, a.patient_id, a.device_id, a.technician_id, a.starts_at,
           a.ends_at, a.kind, a.status, a.sequence, a.is_makeup, a.makeup_for_id,
           a.status_reason, a.checked_in_at, a.revision,
           p.first_name, p.last_name, d.name AS device
    FROM appointments a
    JOIN patients p ON p.id = a.patient_id
    JOIN devices d ON d.id = a.device_id
    WHERE a.starts_at >= :start AND a.starts_at < :end {site}
    ORDER BY a.starts_at, a.device_id
    """
# Every site's sessions, as `GET /appointments?date=` answers a user who covers them all.
DAY_ROWS = text(_ROWS.format(site=""))
# One site's, as the board and the week show: the first site's when none is picked. At a
# group of 20 sites the bare page read every site's sessions and was slower than the app.
SITE_ROWS = text(_ROWS.format(site="AND d.site_id = (SELECT min(s.id) FROM sites s)"))

TABLE = """<!doctype html><title>Board</title><table>
<tr><th>Time</th><th>Chair</th><th>Patient</th><th>Status</th></tr>
{% for row in rows %}<tr><td>{{ row.starts_at }}</td><td>{{ row.device }}</td>
<td>{{ row.first_name }} {{ row.last_name }}</td><td>{{ row.status }}</td></tr>{% endfor %}
</table>"""


def _rows(first: date, days: int, query: Any = SITE_ROWS) -> list[Any]:
    tz = ZoneInfo(current_app.config["CLINIC_TIMEZONE"])
    start = datetime.combine(first, time(0), tzinfo=tz)
    end = start + timedelta(days=days)
    return list(db.session.execute(query, {"start": start, "end": end}))


def _day() -> date:
    return date.fromisoformat(request.args["date"])


@bp.route("/board")
def board() -> str:
    rows = _rows(_day(), 1)
    db.session.rollback()
    return render_template_string(TABLE, rows=rows)


@bp.route("/week")
def week() -> str:
    day = _day()
    rows = _rows(day - timedelta(days=day.weekday()), 7)
    db.session.rollback()
    return render_template_string(TABLE, rows=rows)


def _instant(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite answers text
        value = datetime.fromisoformat(value)
    return value.isoformat()


@bp.route("/appointments")
def appointments() -> Any:
    """The API's `GET /appointments?date=` answer, item for item."""
    rows = _rows(_day(), 1, DAY_ROWS)
    db.session.rollback()
    keys = ("id", "course_id", "patient_id", "device_id", "technician_id", "kind", "status",
            "sequence", "makeup_for_id", "status_reason", "revision")  # fmt: skip
    return jsonify(
        items=[
            {
                **{key: getattr(row, key) for key in keys},
                "is_makeup": bool(row.is_makeup),
                "starts_at": _instant(row.starts_at),
                "ends_at": _instant(row.ends_at),
                "checked_in_at": _instant(row.checked_in_at),
            }
            for row in rows
        ]
    )
