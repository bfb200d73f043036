"""The admin's audit page: filter by entity, user, action and dates."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from flask import render_template, request

from clinic import clock
from clinic.audit import bp, services
from clinic.audit.forms import AuditFilterForm
from clinic.auth.permissions import Permission, requires

PAGE_SIZE = 100


def _start_of(day: Any) -> datetime:
    return datetime.combine(day, time(0), tzinfo=clock.clinic_tz())


@bp.route("/")
@requires(Permission.ADMINISTER)
def index() -> Any:
    form = AuditFilterForm(request.args)
    filters: dict[str, Any] = {}
    if form.validate():
        filters = {
            "entity_type": form.entity_type.data or None,
            "entity_id": form.entity_id.data,
            "actor_id": form.actor_id.data,
            "action": (form.action.data or "").strip() or None,
            "since": _start_of(form.since.data) if form.since.data else None,
            "until": _start_of(form.until.data + timedelta(days=1)) if form.until.data else None,
        }
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    events = services.search(**filters, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    return render_template(
        "audit/index.html",
        form=form,
        events=events[:PAGE_SIZE],
        page=page,
        has_next=len(events) > PAGE_SIZE,
    ), (200 if not form.errors else 422)
