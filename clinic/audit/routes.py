"""The admin's audit page: filter by entity, user, action and dates, newest first."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from flask import render_template, request
from wtforms.fields.choices import SelectChoice

from clinic import clock
from clinic.audit import bp, services
from clinic.audit.forms import KNOWN_ENTITY_TYPES, AuditFilterForm
from clinic.audit.models import AuditEvent
from clinic.paging import split_page
from clinic.permissions import Permission, requires

PAGE_SIZE = 100


def _start_of(day: date) -> datetime:
    """Midnight on the clinic's wall calendar: an admin's "from 3 March" means local time."""
    return datetime.combine(day, time(0), tzinfo=clock.clinic_tz())


@bp.route("/")
@requires(Permission.ADMINISTER)
def index() -> Any:
    """The filtered trail, one bounded page at a time (three statements, whatever the data)."""
    form = AuditFilterForm(request.args)
    form.actor_id.choices = [
        SelectChoice("", "Anyone"),
        *(SelectChoice(str(uid), name) for uid, name in services.actor_names()),
    ]
    events: list[Any] = []
    if form.validate():
        found = services.search(
            entity_type=(form.entity_type.data or "").strip() or None,
            entity_id=form.entity_id.data,
            actor_id=int(form.actor_id.data) if form.actor_id.data else None,
            action=(form.action.data or "").strip() or None,
            since=_start_of(form.since.data) if form.since.data else None,
            until=_start_of(form.until.data + timedelta(days=1)) if form.until.data else None,
            limit=PAGE_SIZE + 1,
            after=form.cursor.cursor(),
        )
        events = list(found)
    filters = {key: value for key, value in request.args.items() if key != "cursor"}
    shown, next_cursor = split_page(events, PAGE_SIZE, AuditEvent.at)
    return render_template(
        "audit/index.html",
        form=form,
        events=shown,
        paged=bool(form.cursor.data),
        next_cursor=next_cursor,
        filters=filters,
        entity_types=KNOWN_ENTITY_TYPES,
    ), (422 if form.errors else 200)
