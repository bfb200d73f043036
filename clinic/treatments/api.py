"""The treatment part of /api/v1: check-in, motor thresholds, logs, signing, review."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_login import current_user

from clinic.api.blueprint import Blueprint
from clinic.api.openapi import declares
from clinic.permissions import Permission, requires
from clinic.scheduling import lifecycle
from clinic.scheduling.api import AppointmentSchema
from clinic.treatments import coil_target, review, thresholds, treatment_log
from clinic.treatments.fields import AMENDABLE_FIELDS, MAX_LOCATION, MAX_TEXT
from clinic.treatments.models import (
    SIDE_EFFECTS,
    AdverseEventSeverity,
    AdverseEventType,
    CoilTargetMethod,
    ThresholdMethod,
)

blp = Blueprint("treatments_api", __name__, description="Check-in, treatment logs and review")

OTHER_SITE = "The user works at other sites than the session's (reading a log stays open)."


def _no_nul(value: str) -> None:
    if "\x00" in value:
        raise ma.ValidationError("Text may not contain NUL characters.")


def _text(limit: int, **kwargs: Any) -> ma.fields.String:
    return ma.fields.String(
        allow_none=True, validate=[ma.validate.Length(max=limit), _no_nul], **kwargs
    )


def _known_side_effects(codes: list[str]) -> None:
    unknown = [code for code in codes if code not in SIDE_EFFECTS]
    if unknown:
        raise ma.ValidationError(
            f"Unknown side effect {unknown[0]!r}; use: {', '.join(SIDE_EFFECTS)}."[:300]
        )


# --- schemas -----------------------------------------------------------------------------


class CheckInSchema(ma.Schema):
    reason = _text(500)


class AdverseEventSchema(ma.Schema):
    type = ma.fields.String(required=True, validate=ma.validate.OneOf(tuple(AdverseEventType)))
    severity = ma.fields.String(
        required=True, validate=ma.validate.OneOf(tuple(AdverseEventSeverity))
    )
    description = _text(MAX_TEXT)


class TreatmentChangeSchema(ma.Schema):
    """The fields a log's author may still change (all optional)."""

    intensity_pct_mt = ma.fields.Integer(strict=True, metadata={"description": "% of MT"})
    pulses_delivered = ma.fields.Integer(strict=True)
    coil_location = _text(MAX_LOCATION)
    stop_reason = _text(MAX_TEXT, metadata={"description": "required when incomplete"})
    side_effects = ma.fields.List(
        ma.fields.String(validate=_no_nul),
        validate=_known_side_effects,
        metadata={"description": f"codes: {', '.join(SIDE_EFFECTS)}"},
    )
    comfort_score = ma.fields.Integer(
        strict=True, allow_none=True, validate=ma.validate.Range(min=0, max=10)
    )
    adverse_event = ma.fields.Nested(AdverseEventSchema, allow_none=True)
    notes = _text(MAX_TEXT * 2)
    supervisor_id = ma.fields.Integer(
        strict=True,
        allow_none=True,
        validate=ma.validate.Range(min=1, max=2**31 - 1),
        metadata={
            "description": "the supervising physician on duty (an active clinician); "
            "default: the course's prescriber"
        },
    )


class TreatmentInSchema(TreatmentChangeSchema):
    intensity_pct_mt = ma.fields.Integer(
        strict=True, required=True, metadata={"description": "% of MT, at most prescribed"}
    )
    pulses_delivered = ma.fields.Integer(
        strict=True, required=True, metadata={"description": "at most the protocol's pulses"}
    )
    completed = ma.fields.Boolean(required=True)
    motor_threshold_pct = ma.fields.Integer(
        strict=True,
        allow_none=True,
        validate=ma.validate.Range(min=1, max=100),
        metadata={"description": "a new MT measured at this session (% machine output)"},
    )
    motor_threshold_method = ma.fields.String(
        load_default="visual", validate=ma.validate.OneOf(tuple(ThresholdMethod))
    )


class AmendmentSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    field = ma.fields.String(required=True, validate=ma.validate.OneOf(AMENDABLE_FIELDS))
    value = ma.fields.Raw(
        required=True,
        allow_none=True,
        load_only=True,
        metadata={"description": "the new value, of the amended field's own JSON type"},
    )
    reason = ma.fields.String(
        required=True, validate=[ma.validate.Length(min=1, max=MAX_TEXT), _no_nul]
    )
    old_value = ma.fields.Raw(
        dump_only=True, metadata={"description": "any JSON value: the field's type"}
    )
    new_value = ma.fields.Raw(
        dump_only=True, metadata={"description": "any JSON value: the field's type"}
    )
    at = ma.fields.AwareDateTime(dump_only=True)
    actor_id = ma.fields.Integer(dump_only=True, allow_none=True)


class TreatmentSchema(ma.Schema):
    id = ma.fields.Integer()
    appointment_id = ma.fields.Integer()
    course_id = ma.fields.Integer()
    patient_id = ma.fields.Integer()
    starts_at = ma.fields.AwareDateTime(attribute="appointment.starts_at")
    status = ma.fields.String(metadata={"description": "unsigned, signed or reviewed"})
    completed = ma.fields.Boolean()
    intensity_pct_mt = ma.fields.Integer()
    motor_threshold_id = ma.fields.Integer(allow_none=True)
    motor_threshold_pct = ma.fields.Integer(allow_none=True)
    dose_pct_output = ma.fields.Float(
        allow_none=True, metadata={"description": "%MT x MT / 100, % of machine output"}
    )
    pulses_delivered = ma.fields.Integer()
    coil_location = ma.fields.String(allow_none=True)
    stop_reason = ma.fields.String(allow_none=True)
    side_effects = ma.fields.List(ma.fields.String())
    comfort_score = ma.fields.Integer(allow_none=True)
    adverse_event = ma.fields.Nested(AdverseEventSchema, allow_none=True)
    notes = ma.fields.String(allow_none=True)
    supervisor_id = ma.fields.Integer(
        allow_none=True, metadata={"description": "the supervising physician (null on old logs)"}
    )
    session_number = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "the session's number among the course's delivered sessions"},
    )
    prescribed_pct_mt = ma.fields.Integer(
        allow_none=True,
        metadata={"description": "the %MT prescribed for this session (the titration's step)"},
    )
    below_prescribed = ma.fields.Boolean(
        metadata={"description": "delivered below the dose prescribed for this session"}
    )
    logged_at = ma.fields.AwareDateTime()
    logged_by_id = ma.fields.Integer(allow_none=True)
    signed_at = ma.fields.AwareDateTime(allow_none=True)
    signed_by_id = ma.fields.Integer(allow_none=True)
    reviewed_at = ma.fields.AwareDateTime(allow_none=True)
    reviewed_by_id = ma.fields.Integer(allow_none=True)
    amendments = ma.fields.List(ma.fields.Nested(AmendmentSchema))


class TreatmentListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(TreatmentSchema))


class TreatmentQuerySchema(ma.Schema):
    course_id = ma.fields.Integer(validate=ma.validate.Range(min=1))
    patient_id = ma.fields.Integer(validate=ma.validate.Range(min=1))
    status = ma.fields.String(validate=ma.validate.OneOf(("unsigned", "unreviewed", "reviewed")))
    limit = ma.fields.Integer(load_default=200, validate=ma.validate.Range(min=1, max=1000))


class MotorThresholdSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    course_id = ma.fields.Integer(dump_only=True)
    patient_id = ma.fields.Integer(dump_only=True)
    value_pct = ma.fields.Integer(
        required=True,
        strict=True,
        validate=ma.validate.Range(min=1, max=100),
        metadata={"description": "% of machine output"},
    )
    method = ma.fields.String(required=True, validate=ma.validate.OneOf(tuple(ThresholdMethod)))
    measured_at = ma.fields.AwareDateTime(
        metadata={"description": "default now; may be in the past for back-entry"}
    )
    coil_location = _text(MAX_LOCATION)
    notes = _text(MAX_TEXT)
    measured_by_id = ma.fields.Integer(dump_only=True, allow_none=True)
    created_at = ma.fields.AwareDateTime(dump_only=True)


class MotorThresholdListSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(MotorThresholdSchema))


class CoilTargetSchema(ma.Schema):
    """Where the coil goes, as data. Measurements by method: `beam_f3` nasion_inion_cm,
    tragus_tragus_cm, head_circumference_cm; `5_5cm_rule` distance_cm (anterior to the
    motor hotspot); `neuronavigation` mni_x, mni_y, mni_z (mm); `other` none, with a
    description."""

    course_id = ma.fields.Integer(dump_only=True)
    method = ma.fields.String(required=True, validate=ma.validate.OneOf(tuple(CoilTargetMethod)))
    measurements = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Raw(),
        load_default=dict,
        metadata={
            "example": {
                "nasion_inion_cm": 36.0,
                "tragus_tragus_cm": 35.5,
                "head_circumference_cm": 57.0,
            }
        },
    )
    description = _text(MAX_TEXT, metadata={"description": "required for `other`"})
    summary = ma.fields.Function(
        coil_target.describe,
        dump_only=True,
        metadata={"type": "string", "description": "the target in words, as on the log"},
    )
    set_at = ma.fields.AwareDateTime(dump_only=True)
    set_by_id = ma.fields.Integer(dump_only=True, allow_none=True)


# --- views ---------------------------------------------------------------------------------


@blp.route("/appointments/<int:appointment_id>/check-in", methods=["POST"])
@declares(409, codes=["conflict"])
@requires(Permission.CHECK_IN)
@blp.arguments(CheckInSchema)
@blp.response(200, AppointmentSchema)
def check_in(args: dict[str, Any], appointment_id: int) -> Any:
    """Check a patient in: 409 when the appointment is cancelled, a no-show or done."""
    appointment = lifecycle.check_in(appointment_id, current_user.id, args.get("reason"))
    return appointment


@blp.route("/appointments/<int:appointment_id>/treatment", methods=["POST"])
@declares(403, codes=["forbidden"], description=OTHER_SITE)
@declares(409, codes=["conflict"])
@declares(422, codes=["motor_threshold_required"])
@requires(Permission.LOG_TREATMENTS)
@blp.arguments(TreatmentInSchema)
@blp.response(201, TreatmentSchema)
def log_treatment(args: dict[str, Any], appointment_id: int) -> Any:
    """Log a session. 422 beyond the prescribed %MT or the protocol's pulses, for an
    incomplete session without `stop_reason`, or `motor_threshold_required`; 409 for a
    cancelled or no-show appointment, one already logged, or one more than an hour ahead."""
    log = treatment_log.log_treatment(appointment_id, current_user.id, **args)
    return log


@blp.route("/treatments")
@requires(Permission.READ)
@blp.arguments(TreatmentQuerySchema, location="query")
@blp.response(200, TreatmentListSchema)
def list_treatments(args: dict[str, Any]) -> Any:
    """Logs by course or patient; `status=unreviewed` is the clinician's work list."""
    return {"items": treatment_log.list_treatments(**args, actor_id=current_user.id)}


@blp.route("/treatments/<int:treatment_id>")
@requires(Permission.READ)
@blp.response(200, TreatmentSchema)
def get_treatment(treatment_id: int) -> Any:
    """One log with its amendment history."""
    return treatment_log.view_treatment(treatment_id, actor_id=current_user.id)


@blp.route("/treatments/<int:treatment_id>", methods=["PATCH"])
@declares(403, codes=["forbidden"], description=OTHER_SITE)
@declares(409, codes=["conflict"])
@requires(Permission.LOG_TREATMENTS)
@blp.arguments(TreatmentChangeSchema)
@blp.response(200, TreatmentSchema)
def edit_treatment(args: dict[str, Any], treatment_id: int) -> Any:
    """Change an unsigned log; a signed one answers 409 (use amendments)."""
    log = treatment_log.edit_treatment(treatment_id, current_user.id, args)
    return log


@blp.route("/treatments/<int:treatment_id>/sign", methods=["POST"])
@declares(403, codes=["forbidden"], description=OTHER_SITE)
@declares(409, codes=["conflict"])
@requires(Permission.LOG_TREATMENTS)
@blp.response(200, TreatmentSchema)
def sign_treatment(treatment_id: int) -> Any:
    """Sign a log (its technician, or a clinician or admin); 409 when already signed."""
    log = review.sign_treatment(treatment_id, current_user.id)
    return log


@blp.route("/treatments/<int:treatment_id>/review", methods=["POST"])
@declares(403, codes=["forbidden"], description=OTHER_SITE)
@declares(409, codes=["conflict"])
@requires(Permission.REVIEW)
@blp.response(200, TreatmentSchema)
def review_treatment(treatment_id: int) -> Any:
    """Mark a log reviewed (an unsigned one is signed by the reviewer); 409 when done."""
    log = review.review_treatment(treatment_id, current_user.id)
    return log


@blp.route("/treatments/<int:treatment_id>/amendments", methods=["POST"])
@declares(403, codes=["forbidden"], description=OTHER_SITE)
@requires(Permission.LOG_TREATMENTS)
@blp.arguments(AmendmentSchema)
@blp.response(201, TreatmentSchema)
def amend_treatment(args: dict[str, Any], treatment_id: int) -> Any:
    """Correct one field of a log, signed or not, with a reason; answers the log with its
    history (`amendments`: who, when, old and new value)."""
    log = treatment_log.amend_treatment(treatment_id, current_user.id, **args)
    return log


@blp.route("/courses/<int:course_id>/motor-thresholds", methods=["POST"])
@requires(Permission.LOG_TREATMENTS)
@blp.arguments(MotorThresholdSchema)
@blp.response(201, MotorThresholdSchema)
def create_motor_threshold(args: dict[str, Any], course_id: int) -> Any:
    """Record a motor threshold (% machine output, visual or EMG; past `measured_at` allowed)."""
    threshold = thresholds.record_motor_threshold(course_id, current_user.id, **args)
    return threshold


@blp.route("/courses/<int:course_id>/motor-thresholds")
@requires(Permission.READ)
@blp.response(200, MotorThresholdListSchema)
def list_motor_thresholds(course_id: int) -> Any:
    """The course's motor thresholds, newest first."""
    return {"items": thresholds.list_motor_thresholds(course_id, actor_id=current_user.id)}


@blp.route("/courses/<int:course_id>/coil-target", methods=["PUT"])
@requires(Permission.LOG_TREATMENTS)
@blp.arguments(CoilTargetSchema)
@blp.response(200, CoilTargetSchema)
def put_coil_target(args: dict[str, Any], course_id: int) -> Any:
    """Set the course's coil target (replacing the previous one): 422 names each missing or
    out-of-range measurement; 409 `course_closed` on a completed or discontinued course."""
    return coil_target.set_coil_target(course_id, current_user.id, **args)


@blp.route("/courses/<int:course_id>/coil-target")
@requires(Permission.READ)
@blp.response(200, CoilTargetSchema)
def get_coil_target(course_id: int) -> Any:
    """The course's coil target; 404 while none is set."""
    return coil_target.view_coil_target(course_id, actor_id=current_user.id)
