"""GET /api/v1/reminders: the outbox, filtered by patient, appointment or status."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_login import current_user

from clinic.api.blueprint import Blueprint
from clinic.api.schemas import (
    cursor_param,
    id_filter,
    limit_param,
    offset_param,
    paged_list_schema,
)
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.paging import page_after, split_page
from clinic.permissions import Permission, requires
from clinic.reminders import queries
from clinic.reminders.models import Reminder, ReminderStatus
from clinic.scheduling import sites
from clinic.scheduling.api_fields import site_id_field

blp = Blueprint("reminders_api", __name__, description="Reminders (the message outbox)")


class ReminderQuerySchema(ma.Schema):
    patient_id = id_filter()
    appointment_id = id_filter()
    status = ma.fields.String(validate=ma.validate.OneOf(tuple(ReminderStatus)))
    site_id = site_id_field(
        "Only messages of this site: about an appointment there, to a patient seen there "
        "without an appointment, and to staff. Without it, staff limited to sites see "
        "theirs (403 for another site), everyone else every site."
    )
    limit = limit_param()
    offset = offset_param()
    cursor = cursor_param()


class ReminderSchema(ma.Schema):
    id = ma.fields.Integer()
    appointment_id = ma.fields.Integer(allow_none=True)
    patient_id = ma.fields.Integer(allow_none=True)
    kind = ma.fields.String()
    channel = ma.fields.String()
    due_at = ma.fields.AwareDateTime()
    status = ma.fields.String()
    attempts = ma.fields.Integer()
    sent_at = ma.fields.AwareDateTime(allow_none=True)
    appointment_starts_at = ma.fields.AwareDateTime(allow_none=True)
    next_attempt_at = ma.fields.AwareDateTime()
    last_error = ma.fields.String(allow_none=True)


ReminderListSchema = paged_list_schema(ReminderSchema, "ReminderListSchema")


@blp.route("/reminders")
@requires(Permission.READ_REMINDERS)
# A misspelt filter is an error, not a silently wider answer (webargs ignores by default).
@blp.arguments(ReminderQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, ReminderListSchema)
def list_reminders(args: dict[str, Any]) -> Any:
    """Reminders and other outbox messages, latest due first.

    Status is one of `pending`, `sending`, `sent`, `failed`, `cancelled`, `skipped`.
    Filtering by `patient_id` is a read of that patient's record (audited as `view`).
    Staff limited to sites see only the messages of their sites (as on the reminders page).
    Page with `limit` and `cursor` (the previous answer's `next_cursor`)."""
    site_ids = sites.visible_sites(current_user.id, args.pop("site_id", None))
    cursor, limit = args.pop("cursor", None), args.pop("limit")
    found = queries.list_reminders(
        **args,
        site_ids=site_ids,
        limit=limit + 1,
        after=page_after(cursor),
    )
    items, next_cursor = split_page(found, limit, Reminder.due_at)
    if args.get("patient_id") is not None:
        record(
            current_user.id,
            AuditAction.VIEW,
            "patient",
            args["patient_id"],
            detail={"what": "reminders"},
        )
    return {"items": items, "next_cursor": next_cursor}
