"""/api/v1/alerts: every role reads them; an admin or clinician acknowledges one."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_login import current_user

from clinic.alerts import risk_screen, services
from clinic.alerts.models import AlertKind, AlertStatus, RiskResult
from clinic.api.blueprint import Blueprint
from clinic.api.openapi import declares
from clinic.api.schemas import cursor_param, id_filter, limit_param, paged_list_schema
from clinic.paging import page_after
from clinic.permissions import Permission, requires

blp = Blueprint("alerts_api", __name__, description="Alerts")


class AlertQuerySchema(ma.Schema):
    status = ma.fields.String(validate=ma.validate.OneOf(tuple(AlertStatus)))
    kind = ma.fields.String(validate=ma.validate.OneOf(tuple(AlertKind)))
    patient_id = id_filter()
    flagged = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "only alerts whose positive ASQ still flags the patient"},
    )
    limit = limit_param()
    cursor = cursor_param()

    @ma.validates_schema
    def _cursor_pages_the_history(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("cursor") and (data.get("flagged") or data.get("status") == "open"):
            raise ma.ValidationError(
                "A cursor pages the acknowledged history: open and flagged alerts come "
                "whole on the first page.",
                "cursor",
            )


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
    risk_result = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "the ASQ result a suicidal_ideation alert was closed with: "
            + ", ".join(RiskResult)
        },
    )
    risk_screen = ma.fields.Dict(
        allow_none=True, metadata={"description": '{"instrument": "ASQ", "answers": [...]}'}
    )
    risk_flag = ma.fields.Boolean(
        metadata={
            "description": "the patient is flagged on the Today list and the day board: item 9 "
            "not yet screened, or a positive screen no clinician has cleared"
        }
    )
    flag_cleared_at = ma.fields.AwareDateTime(allow_none=True)
    flag_cleared_by_id = ma.fields.Integer(allow_none=True)
    flag_clear_note = ma.fields.String(allow_none=True)


AlertListSchema = paged_list_schema(AlertSchema, "AlertListSchema")


class StrictBoolean(ma.fields.Boolean):
    """A JSON true or false, not "yes" or 1: a risk screen's answers are never guessed."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class RiskScreenSchema(ma.Schema):
    instrument = ma.fields.String(
        required=True, validate=ma.validate.OneOf([risk_screen.INSTRUMENT])
    )
    answers = ma.fields.List(
        StrictBoolean(allow_none=True),
        required=True,
        validate=ma.validate.Length(min=4, max=5),
        metadata={
            "description": "ASQ questions 1-4, then question 5 (thoughts of killing yourself "
            "right now?) only when one of 1-4 is true. All false: negative; 5 true: "
            "acute_positive (the patient's active courses go on hold); else non_acute_positive",
            "example": [True, False, False, False, False],
        },
    )


class AcknowledgeSchema(ma.Schema):
    note = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=services.MAX_NOTE_LENGTH)
    )
    risk_screen = ma.fields.Nested(
        RiskScreenSchema,
        metadata={
            "description": "required for a suicidal_ideation alert (422 risk_screen_required "
            "without it); refused on other kinds"
        },
    )


class ClearFlagSchema(ma.Schema):
    note = ma.fields.String(
        required=True, validate=ma.validate.Length(min=1, max=services.MAX_NOTE_LENGTH)
    )


@blp.route("/alerts")
@requires(Permission.ENTER_RESPONSES)
@blp.arguments(AlertQuerySchema, location="query")
@blp.response(200, AlertListSchema)
def list_alerts(args: dict[str, Any]) -> Any:
    """Alerts, open before acknowledged, urgent first, newest first (`?status=open`); staff
    limited to sites get their sites' patients' alerts (and those of patients no
    clinician's site has booked, so none goes unseen). Open alerts come whole on the
    first page; `next_cursor` pages on through the acknowledged history."""
    patients = services.patient_scope(current_user.id)
    cursor, limit = args.pop("cursor", None), args.pop("limit")
    found = services.list_alerts(
        **args,
        limit=limit + 1,
        patients=patients,
        after=page_after(cursor),
    )
    if args["flagged"]:  # few at any time: all of them, up to the limit
        return {"items": found[:limit], "next_cursor": None}
    items, next_cursor = services.history_page(found, limit)
    return {"items": items, "next_cursor": next_cursor}


@blp.route("/alerts/<int:alert_id>/acknowledge", methods=["POST"])
@declares(409, codes=["already_acknowledged"])
@requires(Permission.REVIEW)
@blp.arguments(AcknowledgeSchema)
@blp.response(200, AlertSchema)
def acknowledge(args: dict[str, Any], alert_id: int) -> Any:
    """Acknowledge an alert with a note saying what was done; 409 `already_acknowledged`.

    A `suicidal_ideation` alert also needs the clinician's ASQ screen (`risk_screen`); the
    answer carries `risk_result`, and `acute_positive` puts the patient's courses on hold."""
    return services.acknowledge_alert(
        alert_id, args["note"], actor_id=current_user.id, risk_screen=args.get("risk_screen")
    )


@blp.route("/alerts/<int:alert_id>/clear-flag", methods=["POST"])
@declares(409, codes=["flag_not_active"])
@requires(Permission.REVIEW)
@blp.arguments(ClearFlagSchema)
@blp.response(200, AlertSchema)
def clear_flag(args: dict[str, Any], alert_id: int) -> Any:
    """Clear the patient's flag a positive ASQ raised, saying what was done (resuming a held
    course clears an acute one too); 409 `flag_not_active` when there is none."""
    return services.clear_risk_flag(alert_id, args["note"], actor_id=current_user.id)
