"""/api/v1/billing: coded lines (CONTRACT 9)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_login import current_user
from flask_smorest import Blueprint

from clinic.api.schemas import id_filter, list_schema
from clinic.billing import services
from clinic.permissions import Permission, requires

blp = Blueprint("billing_api", __name__, description="Billing: coded sessions and claims")


class PeriodSchema(ma.Schema):
    start = ma.fields.Date(
        required=True, data_key="from", metadata={"description": "First day (clinic-local)."}
    )
    end = ma.fields.Date(
        required=True, data_key="to", metadata={"description": "Last day, inclusive."}
    )


class LineQuerySchema(PeriodSchema):
    patient_id = id_filter()
    course_id = id_filter()


class BillingLineSchema(ma.Schema):
    appointment_id = ma.fields.Integer()
    patient_id = ma.fields.Integer()
    course_id = ma.fields.Integer()
    date = ma.fields.Date()
    cpt = ma.fields.String(
        metadata={"description": "90867 first treatment, 90868 later, 90869 MT re-determined"}
    )
    units = ma.fields.Integer()
    icd10 = ma.fields.List(ma.fields.String(), metadata={"description": "F32/F33 first"})
    authorization_number = ma.fields.String(allow_none=True)
    billable = ma.fields.Boolean(metadata={"description": "false: stopped early"})
    charge = ma.fields.Decimal(as_string=True, allow_none=True)
    payer = ma.fields.String(allow_none=True)


BillingLineListSchema = list_schema(BillingLineSchema)


@blp.route("/billing/lines")
@requires(Permission.BILLING)
@blp.arguments(LineQuerySchema, location="query")
@blp.response(200, BillingLineListSchema)
def list_lines(args: dict[str, Any]) -> Any:
    """Every logged treatment of the period with its CPT, units, ICD-10 codes and
    authorization number; sessions stopped early are listed with `billable: false`."""
    start, end = args.pop("start"), args.pop("end")
    return {"items": services.read_billing_lines(current_user.id, start, end, **args)}
