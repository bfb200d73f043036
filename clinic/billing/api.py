"""/api/v1/billing: coded lines (CONTRACT 9)."""

from __future__ import annotations

import re
from typing import Any

import marshmallow as ma
from flask import Response
from flask_login import current_user

from clinic.api import ErrorSchema
from clinic.api.blueprint import Blueprint
from clinic.api.openapi import declares
from clinic.api.schemas import id_filter, list_schema
from clinic.billing import claims, fees, packets, services
from clinic.billing import worklist as worklist_service
from clinic.billing.models import Cpt
from clinic.billing.superbill import superbill_pdf
from clinic.pdf import pdf_response
from clinic.permissions import Permission, requires
from clinic.scheduling import sites
from clinic.scheduling.api_fields import site_id_field

blp = Blueprint("billing_api", __name__, description="Billing: coded sessions and claims")


MONEY = re.compile(r"^\d{1,5}(\.\d{1,2})?$")


class Money(ma.fields.Decimal):
    """An amount as the document states it: a decimal string of at most 99999.99 (no
    sign, no exponent), never a float."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if not isinstance(value, str) or not MONEY.match(value):
            raise ma.ValidationError('A decimal amount such as "325.00" (0 to 99999.99).')
        return super()._deserialize(value, attr, data, **kwargs)


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


class FeeSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    payer = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "The payer as on its authorizations, or * for any payer."},
    )
    cpt = ma.fields.String(required=True, validate=ma.validate.OneOf([c.value for c in Cpt]))
    amount = Money(
        required=True,
        as_string=True,
        places=2,
        metadata={
            "description": 'Charge per unit, a decimal string, e.g. "325.00".',
            "type": "string",
            "pattern": MONEY.pattern,
        },
    )


FeeListSchema = list_schema(FeeSchema)


@blp.route("/billing/fees")
@requires(Permission.BILLING)
@blp.response(200, FeeListSchema)
def list_fees() -> Any:
    """The fee schedule: per payer (or `*`, any payer) and CPT code."""
    return {"items": fees.list_fees()}


@blp.route("/billing/fees", methods=["PUT"])
@requires(Permission.ADMINISTER)
@blp.arguments(FeeSchema)
@blp.response(200, FeeSchema)
def set_fee(args: dict[str, Any]) -> Any:
    """Set what one payer is charged for one CPT code (creates or replaces it)."""
    return fees.set_fee(args["payer"], args["cpt"], args["amount"], actor_id=current_user.id)


@blp.route("/billing/fees/<int:fee_id>", methods=["DELETE"])
@requires(Permission.ADMINISTER)
@blp.response(204)
def delete_fee(fee_id: int) -> Any:
    """Remove a fee: lines of that payer fall back to the `*` row, or carry no charge."""
    fees.delete_fee(fee_id, actor_id=current_user.id)
    return None


class ClaimQuerySchema(PeriodSchema):
    payer = ma.fields.String(
        validate=ma.validate.Length(min=1, max=120),
        metadata={"description": "Only this payer's claims (as named on authorizations)."},
    )
    include_exported = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Send lines an earlier 837P carried again (resubmission)."},
    )


def _file(body: str | bytes, mimetype: str, filename: str, **headers: str) -> Response:
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers.update(headers)
    return response


@blp.route("/billing/claims.x12")
@declares(409, codes=["billing_identity_missing"])
@requires(Permission.BILLING)
@blp.arguments(ClaimQuerySchema, location="query")
@blp.response(
    200,
    content_type="application/edi-x12",
    description="An ASC X12 005010X222A1 837P interchange; X-Claims-Skipped names the "
    "appointments left out (missing member id, payer id or address).",
)
@blp.alt_response(204, description="Nothing to claim in the period.")
@blp.alt_response(409, schema=ErrorSchema, description="billing_identity_missing")
def claims_x12(args: dict[str, Any]) -> Any:
    """The period's unsent billable sessions as 837P claims; the lines are then marked
    sent, so the next export leaves them out unless `include_exported=1`."""
    start, end = args.pop("start"), args.pop("end")
    text, run = claims.export_claims(current_user.id, start, end, **args)
    skipped = ",".join(str(appointment_id) for appointment_id in run.skipped)
    if not text:
        return Response(status=204, headers={"X-Claims-Lines": "0", "X-Claims-Skipped": skipped})
    return _file(
        text,
        "application/edi-x12",
        f"claims-{start}-{end}.x12",
        **{"X-Claims-Lines": str(len(run.lines)), "X-Claims-Skipped": skipped},
    )


@blp.route("/billing/claims.csv")
@requires(Permission.BILLING)
@blp.arguments(ClaimQuerySchema, location="query")
@blp.response(200, content_type="text/csv", description="The same lines as the 837P, as CSV.")
def claims_csv(args: dict[str, Any]) -> Any:
    """The lines the 837P of the same query would carry (marks nothing)."""
    start, end = args.pop("start"), args.pop("end")
    text = claims.claims_csv(current_user.id, start, end, **args)
    return _file(text, "text/csv", f"claims-{start}-{end}.csv")


@blp.route("/patients/<int:patient_id>/superbill.pdf")
@requires(Permission.BILLING)
@blp.arguments(PeriodSchema, location="query")
@blp.response(200, content_type="application/pdf", description="The superbill as PDF.")
@blp.alt_response(404, schema=ErrorSchema, description="No such patient.")
def superbill(args: dict[str, Any], patient_id: int) -> Any:
    """The patient's superbill for the period: the clinic, the patient, and each billable
    session with date, CPT and ICD-10 codes."""
    body = superbill_pdf(patient_id, args["start"], args["end"], actor_id=current_user.id)
    return pdf_response(body, f"superbill-{patient_id}-{args['start']}-{args['end']}.pdf")


@blp.route("/courses/<int:course_id>/authorization-packet.pdf")
@requires(Permission.READ_PACKETS)
@blp.response(200, content_type="application/pdf", description="The packet as PDF.")
@blp.alt_response(404, schema=ErrorSchema, description="No such course.")
def authorization_packet(course_id: int) -> Any:
    """The medical-necessity packet: diagnoses, failed medication trials, psychotherapy,
    PHQ-9 history with dates, the latest screening and the prescribed protocol."""
    body = packets.authorization_packet_pdf(course_id, actor_id=current_user.id)
    return pdf_response(body, f"authorization-packet-{course_id}.pdf")


@blp.route("/courses/<int:course_id>/extension-letter.pdf")
@declares(409, codes=["not_improved"])
@requires(Permission.READ_PACKETS)
@blp.response(200, content_type="application/pdf", description="The letter as PDF.")
@blp.alt_response(404, schema=ErrorSchema, description="No such course.")
def extension_letter(course_id: int) -> Any:
    """A letter asking the payer to extend the course, from the PHQ-9 change so far;
    409 `not_improved` unless the PHQ-9 has fallen at least 25% (the letter says so)."""
    body = packets.extension_letter_pdf(course_id, actor_id=current_user.id)
    return pdf_response(body, f"extension-letter-{course_id}.pdf")


class WorklistAuthorizationSchema(ma.Schema):
    id = ma.fields.Integer()
    patient_id = ma.fields.Integer()
    payer = ma.fields.String()
    number = ma.fields.String(allow_none=True)
    status = ma.fields.String()
    sessions_authorized = ma.fields.Integer()
    requested_on = ma.fields.Date(allow_none=True)
    valid_to = ma.fields.Date(allow_none=True)


class RunningOutSchema(ma.Schema):
    course_id = ma.fields.Integer()
    patient_id = ma.fields.Integer()
    authorization_id = ma.fields.Integer()
    sessions_authorized = ma.fields.Integer()
    sessions_used = ma.fields.Integer()
    sessions_booked = ma.fields.Integer()
    sessions_remaining = ma.fields.Integer()


class WorklistSchema(ma.Schema):
    waiting = ma.fields.List(ma.fields.Nested(WorklistAuthorizationSchema))
    expiring = ma.fields.List(ma.fields.Nested(WorklistAuthorizationSchema))
    running_out = ma.fields.List(ma.fields.Nested(RunningOutSchema))


class WorklistQuerySchema(ma.Schema):
    site_id = site_id_field(
        "Only this site's: courses with an appointment there and their authorizations, "
        "and the authorizations with nothing booked yet (every site sees those). Without "
        "it, staff limited to sites see theirs (403 for another site), everyone else all."
    )


@blp.route("/billing/authorizations")
@requires(Permission.BILLING)
@blp.arguments(WorklistQuerySchema, location="query", unknown=ma.RAISE)
@blp.response(200, WorklistSchema)
def authorization_worklist(args: dict[str, Any]) -> Any:
    """Authorizations waiting on a payer (draft, requested, appealed), approved ones that
    expire within two weeks, and active courses running out of authorized sessions; of
    one site with `site_id`, and only of their sites for staff limited to some."""
    worklist = worklist_service.authorization_worklist(
        sites.visible_sites(current_user.id, args.get("site_id"))
    )
    return {
        "waiting": worklist.waiting,
        "expiring": worklist.expiring,
        "running_out": [
            {
                "course_id": course.id,
                "patient_id": course.patient_id,
                "authorization_id": meter.id,
                "sessions_authorized": meter.sessions_authorized,
                "sessions_used": meter.sessions_used,
                "sessions_booked": meter.sessions_booked,
                "sessions_remaining": meter.sessions_remaining,
            }
            for course, meter in worklist.running_out
        ],
    }
