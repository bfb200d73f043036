"""/api/v1/alerts: every role reads them; an admin or clinician acknowledges one."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_login import current_user
from flask_smorest import Blueprint

from clinic.alerts import services
from clinic.alerts.models import AlertKind, AlertStatus
from clinic.api.openapi import declares
from clinic.api.schemas import id_filter, limit_param, list_schema
from clinic.permissions import Permission, requires

blp = Blueprint("alerts_api", __name__, description="Alerts")


class AlertQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf(tuple(AlertStatus)))
    kind = ma.fields.String(validate=ma.validate.OneOf(tuple(AlertKind)))
    patient_id = id_filter()
    limit = limit_param()


class AlertSchema(ma.Schema):
    id = ma.fields.Integer()
    kind = ma.fields.String()
    severity = ma.fields.String()
    audience = ma.fields.String()
    status = ma.fields.String()
    title = ma.fields.String()
    message = ma.fields.String()
    patient_id = ma.fields.Integer(allow_none=True)
    course_id = ma.fields.Integer(allow_none=True)
    assigned_to_id = ma.fields.Integer(allow_none=True)
    subject_type = ma.fields.String(allow_none=True)
    subject_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    escalated_at = ma.fields.AwareDateTime(allow_none=True)
    acknowledged_at = ma.fields.AwareDateTime(allow_none=True)
    acknowledged_by_id = ma.fields.Integer(allow_none=True)
    acknowledgement_note = ma.fields.String(allow_none=True)
    data = ma.fields.Dict(allow_none=True)


AlertListSchema = list_schema(AlertSchema)


class AcknowledgeSchema(ma.Schema):
    note = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=services.MAX_NOTE_LENGTH)
    )


@blp.route("/alerts")
@requires(Permission.ENTER_RESPONSES)
@blp.arguments(AlertQuerySchema, location="query")
@blp.response(200, AlertListSchema)
def list_alerts(args: dict[str, Any]) -> Any:
    """Alerts, open before acknowledged, urgent first, newest first (`?status=open`)."""
    return {"items": services.list_alerts(**args)}


@blp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"])
@declares(409, codes=["already_acknowledged"])
@requires(Permission.REVIEW)
@blp.arguments(AcknowledgeSchema)
@blp.response(200, AlertSchema)
def acknowledge(args: dict[str, Any], alert_id: int) -> Any:
    """Acknowledge an alert with a note saying what was done; 409 `already_acknowledged`."""
    return services.acknowledge_alert(alert_id, args["note"], actor_id=current_user.id)
