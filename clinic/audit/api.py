"""GET /api/v1/audit: the trail, filtered by entity."""

from __future__ import annotations

from typing import Any

import marshmallow as ma

from clinic.api.blueprint import Blueprint
from clinic.api.schemas import cursor_param, id_filter, limit_param, offset_param, paged_list_schema
from clinic.audit import services
from clinic.audit.models import AuditEvent
from clinic.paging import page_after, split_page
from clinic.permissions import Permission, requires

blp = Blueprint("audit_api", __name__, description="Audit trail (admin)")


class AuditQuerySchema(ma.Schema):
    entity_type = ma.fields.String(validate=ma.validate.Length(min=1, max=40))
    entity_id = id_filter()
    actor_id = id_filter()
    action = ma.fields.String(validate=ma.validate.Length(min=1, max=40))
    limit = limit_param()
    offset = offset_param(maximum=10**7)
    cursor = cursor_param()


class AuditEventSchema(ma.Schema):
    id = ma.fields.Integer()
    at = ma.fields.AwareDateTime()
    actor_id = ma.fields.Integer(allow_none=True)
    action = ma.fields.String()
    entity_type = ma.fields.String()
    entity_id = ma.fields.Integer(allow_none=True)
    patient_id = ma.fields.Integer(allow_none=True)
    address = ma.fields.String(allow_none=True)


AuditListSchema = paged_list_schema(AuditEventSchema, "AuditListSchema")


@blp.route("/audit")
@requires(Permission.ADMINISTER)
@blp.arguments(AuditQuerySchema, location="query")
@blp.response(200, AuditListSchema)
def list_audit(args: dict[str, Any]) -> Any:
    """Audit events, newest first, filtered by `entity_type` and `entity_id` (admin only).

    Each item is `{at, actor_id, action, entity_type, entity_id}` (plus `id`, `patient_id`,
    `address`); reading a patient's record is an action `view`. Page with `limit` and
    `cursor` (the previous answer's `next_cursor`).
    """
    cursor = args.pop("cursor", None)
    limit = args.pop("limit")
    found = list(
        services.search(
            **args,
            limit=limit + 1,
            after=page_after(cursor),
        )
    )
    items, next_cursor = split_page(found, limit, AuditEvent.at)
    return {"items": items, "next_cursor": next_cursor}
