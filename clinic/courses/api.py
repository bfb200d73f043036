"""/api/v1/protocols and /api/v1/courses, and booking a course's sessions (the courses
feature knows the course; scheduling places them): the same services the pages call."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import jsonify
from flask_login import current_user

from clinic.api.blueprint import Blueprint
from clinic.api.openapi import declares
from clinic.api.schemas import MAX_ID, list_schema
from clinic.courses import consent, numbers, prescribing, protocols
from clinic.courses.models import CourseKind, CourseStatus, SchedulePattern
from clinic.courses.status import set_course_status
from clinic.permissions import Permission, requires
from clinic.scheduling import booking_service, patterns
from clinic.scheduling.api import (
    AppointmentCreateSchema,
    AppointmentSchema,
    PreviewSchema,
    ScheduleResultSchema,
    ScheduleSchema,
    dump_appointment,
)
from clinic.scheduling.api_fields import id_field

blp = Blueprint("courses_api", __name__, description="Protocols and treatment courses")


def _int(low: int, high: int, **kwargs: Any) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(min=low, max=high), **kwargs)


def _text(high: int, low: int = 0, **kwargs: Any) -> ma.fields.String:
    return ma.fields.String(validate=ma.validate.Length(min=low, max=high), **kwargs)


class ProtocolSchema(ma.Schema):
    id = ma.fields.Integer()
    code = ma.fields.String()
    name = ma.fields.String()
    indication = ma.fields.String()
    target = ma.fields.String()
    frequency_hz = ma.fields.Float()
    frequency_note = ma.fields.String(allow_none=True)
    pulses_per_train = ma.fields.Integer()
    train_seconds = ma.fields.Float()
    inter_train_seconds = ma.fields.Float()
    trains = ma.fields.Integer()
    total_pulses = ma.fields.Integer()
    intensity_pct_mt = ma.fields.Integer()
    session_seconds = ma.fields.Float()
    default_sessions = ma.fields.Integer()
    pattern = ma.fields.String()
    sessions_per_day = ma.fields.Integer()
    min_gap_minutes = ma.fields.Integer()
    setup_buffer_minutes = ma.fields.Integer()
    slot_minutes = ma.fields.Integer()
    reference = ma.fields.String(allow_none=True)
    is_preset = ma.fields.Boolean()
    active = ma.fields.Boolean()


ProtocolListSchema = list_schema(ProtocolSchema)


class ProtocolQuerySchema(ma.Schema):
    include_inactive = ma.fields.Boolean(load_default=False)


class ProtocolInSchema(ma.Schema):
    """A clinic protocol. `total_pulses`, when given, must equal trains x pulses per train."""

    code = _text(40, 2, required=True, metadata={"description": "lower-case slug, unique"})
    name = _text(120, 1, required=True)
    indication = _text(120, 1, required=True)
    target = _text(120, 1, required=True)
    frequency_hz = ma.fields.Float(required=True, allow_nan=False)
    frequency_note = _text(120, allow_none=True)
    pulses_per_train = _int(1, 10_000, required=True)
    train_seconds = ma.fields.Float(required=True, allow_nan=False)
    inter_train_seconds = ma.fields.Float(allow_nan=False)
    trains = _int(1, 1_000, required=True)
    total_pulses = _int(1, 10_000_000)
    intensity_pct_mt = _int(1, protocols.MAX_PCT_MT, required=True)
    default_sessions = _int(1, protocols.MAX_PLANNED_SESSIONS, required=True)
    pattern = ma.fields.String(required=True, validate=ma.validate.OneOf(tuple(SchedulePattern)))
    sessions_per_day = _int(1, 10)
    min_gap_minutes = _int(0, 240)
    setup_buffer_minutes = _int(0, 60, metadata={"description": "default 10"})
    reference = _text(200, allow_none=True)
    active = ma.fields.Boolean()


class ProtocolUpdateSchema(ProtocolInSchema):
    """Any protocol field but the code, which never changes."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(partial=True, exclude=("code",), **kwargs)


class AuthorizationInSchema(ma.Schema):
    payer = _text(120, 1, required=True)
    number = _text(60, allow_none=True)
    member_id = _text(60, allow_none=True)
    payer_id = _text(80, allow_none=True)
    sessions_authorized = _int(1, 1000, required=True)
    valid_from = ma.fields.Date(allow_none=True)
    valid_to = ma.fields.Date(allow_none=True)


class WeeklySchema(ma.Schema):
    per_week = _int(1, patterns.WORKING_DAYS, required=True)
    weeks = _int(1, patterns.MAX_WEEKLY_WEEKS, required=True)


class PatternSchema(ma.Schema):
    """A course's own pattern: `daily` sessions on consecutive open weekdays, then one week
    per `taper` entry holding that many sessions, then `weekly.weeks` weeks of
    `weekly.per_week` sessions. Medicare 20 + 5: `{"daily": 20, "taper": [3, 2]}`;
    BrainsWay H1: `{"daily": 20, "weekly": {"per_week": 2, "weeks": 12}}` (44)."""

    daily = _int(0, patterns.MAX_PATTERN_SESSIONS)
    taper = ma.fields.List(
        _int(1, patterns.WORKING_DAYS),
        validate=ma.validate.Length(max=patterns.MAX_TAPER_WEEKS),
    )
    weekly = ma.fields.Nested(WeeklySchema, allow_none=True)


PATTERN_EXAMPLE = {"daily": 20, "taper": [3, 2]}


class TitrationStepSchema(ma.Schema):
    session = _int(1, protocols.MAX_PLANNED_SESSIONS, required=True)
    pct_mt = _int(1, protocols.MAX_PCT_MT, required=True)


def _titration(**kwargs: Any) -> ma.fields.List:
    return ma.fields.List(
        ma.fields.Nested(TitrationStepSchema),
        allow_none=True,
        metadata={
            "description": "dose titration: steps in increasing session order, the first at "
            "session 1, doses stepping up to the prescribed %MT (the last step). Each holds "
            "from its delivered session number on; a log below it is allowed and marked "
            "`below_prescribed`; null or [] for none",
            "example": [
                {"session": 1, "pct_mt": 100},
                {"session": 2, "pct_mt": 110},
                {"session": 3, "pct_mt": 120},
            ],
        },
        **kwargs,
    )


class CourseCreateSchema(ma.Schema):
    patient_id = id_field(required=True)
    kind = ma.fields.String(
        load_default=CourseKind.ACUTE,
        validate=ma.validate.OneOf(tuple(CourseKind)),
        metadata={"description": "acute (default), extension, retreatment or maintenance"},
    )
    previous_course_id = id_field(
        allow_none=True,
        metadata={
            "description": "the course this one continues; required for extension and retreatment"
        },
    )
    pattern = ma.fields.Nested(
        PatternSchema,
        allow_none=True,
        metadata={
            "description": "overrides the protocol's pattern; sets planned_sessions, which "
            "must equal its total when both are given",
            "example": PATTERN_EXAMPLE,
        },
    )
    protocol = _text(40, 1, required=True, metadata={"description": "protocol code"})
    planned_sessions = _int(1, protocols.MAX_PLANNED_SESSIONS)
    prescribed_pct_mt = _int(
        1,
        protocols.MAX_PCT_MT,
        metadata={"description": "default: the protocol's; above it needs pct_mt_reason"},
    )
    pct_mt_reason = _text(2000, allow_none=True)
    target = _text(120, allow_none=True)
    notes = _text(5000, allow_none=True)
    prescriber_id = id_field(metadata={"description": "default: the caller"})
    authorization = ma.fields.Nested(AuthorizationInSchema)
    authorization_id = id_field(metadata={"description": "attach an existing authorization"})
    titration = _titration()


class CourseUpdateSchema(ma.Schema):
    planned_sessions = _int(1, protocols.MAX_PLANNED_SESSIONS)
    prescribed_pct_mt = _int(1, protocols.MAX_PCT_MT)
    pct_mt_reason = _text(2000, allow_none=True)
    titration = _titration()
    target = _text(120, allow_none=True)
    notes = _text(5000, allow_none=True)


class CourseStatusSchema(ma.Schema):
    status = ma.fields.String(required=True, validate=ma.validate.OneOf(tuple(CourseStatus)))
    reason = _text(2000, allow_none=True)


class CourseQuerySchema(ma.Schema):
    patient_id = ma.fields.Integer(required=True, validate=ma.validate.Range(min=1, max=MAX_ID))
    status = ma.fields.String(validate=ma.validate.OneOf(tuple(CourseStatus)))


class AuthorizationOutSchema(ma.Schema):
    id = ma.fields.Integer()
    status = ma.fields.String(
        metadata={"description": "only an approved authorization counts sessions used and left"}
    )
    payer = ma.fields.String()
    number = ma.fields.String(allow_none=True)
    sessions_authorized = ma.fields.Integer()
    valid_from = ma.fields.Date(allow_none=True)
    valid_to = ma.fields.Date(allow_none=True)
    sessions_used = ma.fields.Integer(metadata={"description": "delivered sessions"})
    sessions_remaining = ma.fields.Integer(metadata={"description": "authorized - used"})
    sessions_booked = ma.fields.Integer(metadata={"description": "booked, not yet delivered"})
    warning = ma.fields.String(allow_none=True)


class CourseSchema(ma.Schema):
    """A course and its numbers: every treatment appointment is exactly one of delivered,
    scheduled, missed (no-show, incomplete) or cancelled; remaining = planned - delivered."""

    id = ma.fields.Integer()
    patient_id = ma.fields.Integer()
    protocol = ma.fields.String(metadata={"description": "protocol code"})
    protocol_name = ma.fields.String()
    status = ma.fields.String()
    status_reason = ma.fields.String(allow_none=True)
    status_changed_at = ma.fields.AwareDateTime(allow_none=True)
    planned_sessions = ma.fields.Integer()
    prescribed_pct_mt = ma.fields.Integer()
    pct_mt_reason = ma.fields.String(allow_none=True)
    titration = ma.fields.List(ma.fields.Nested(TitrationStepSchema), allow_none=True)
    target = ma.fields.String(allow_none=True)
    notes = ma.fields.String(allow_none=True)
    prescriber_id = ma.fields.Integer(allow_none=True)
    authorization_id = ma.fields.Integer(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    kind = ma.fields.String(metadata={"description": "acute, extension, retreatment, maintenance"})
    previous_course_id = ma.fields.Integer(allow_none=True)
    pattern = ma.fields.Dict(
        metadata={
            "description": "the course's pattern: its own, or its protocol's in the same shape",
            "example": PATTERN_EXAMPLE,
        }
    )
    pattern_source = ma.fields.String(metadata={"description": "course or protocol"})
    delivered_sessions = ma.fields.Integer()
    scheduled_sessions = ma.fields.Integer()
    missed_sessions = ma.fields.Integer()
    cancelled_sessions = ma.fields.Integer()
    remaining_sessions = ma.fields.Integer()
    unbooked_sessions = ma.fields.Integer(metadata={"description": "remaining - scheduled"})
    projected_end_date = ma.fields.Date(allow_none=True)
    projected_end_estimated = ma.fields.Boolean()
    authorization = ma.fields.Nested(AuthorizationOutSchema, allow_none=True)


CourseListSchema = list_schema(CourseSchema)


@blp.route("/protocols")
@requires(Permission.READ)
@blp.arguments(ProtocolQuerySchema, location="query")
@blp.response(200, ProtocolListSchema)
def list_protocols(args: dict[str, Any]) -> Any:
    """Stimulation protocols: the published presets and the clinic's own.

    session_seconds = trains x train_seconds + (trains - 1) x inter_train_seconds;
    slot_minutes is the chair time booked: the session rounded up plus the set-up buffer.
    """
    return {"items": protocols.list_protocols(include_inactive=args["include_inactive"])}


@blp.route("/protocols", methods=["POST"])
@declares(409, codes=["protocol_exists"])
@requires(Permission.ADMINISTER)
@blp.arguments(ProtocolInSchema)
@blp.response(201, ProtocolSchema)
def create_protocol(values: dict[str, Any]) -> Any:
    """Add a clinic protocol (admin). 409 `protocol_exists` when the code is taken."""
    protocol = protocols.create_protocol(values, actor_id=current_user.id)
    return protocol


@blp.route("/protocols/<code>")
@requires(Permission.READ)
@blp.response(200, ProtocolSchema)
def get_protocol(code: str) -> Any:
    """One protocol by code."""
    return protocols.get_protocol(code)


@blp.route("/protocols/<code>", methods=["PATCH"])
@declares(409, codes=["preset_read_only", "protocol_in_use"])
@requires(Permission.ADMINISTER)
@blp.arguments(ProtocolUpdateSchema)
@blp.response(200, ProtocolSchema)
def update_protocol(changes: dict[str, Any], code: str) -> Any:
    """Edit a protocol (admin). A preset changes only `setup_buffer_minutes` and `active`
    (409 `preset_read_only`); a protocol in use keeps its stimulation (409 `protocol_in_use`)."""
    protocol = protocols.update_protocol(
        protocols.get_protocol(code), changes, actor_id=current_user.id
    )
    return protocol


@blp.route("/courses", methods=["POST"])
@declares(
    409, codes=["screening_required", "screening_contraindicated", "screening_review_required"]
)
@requires(Permission.PRESCRIBE)
@blp.arguments(CourseCreateSchema, example={"patient_id": 1, "protocol": "10hz-ldlpfc"})
@blp.response(201, CourseSchema)
def create_course(values: dict[str, Any]) -> Any:
    """Prescribe a course. 409 `screening_required` (no screening),
    `screening_contraindicated` or `screening_review_required` (latest screening)."""
    course = prescribing.prescribe_course(
        values.pop("patient_id"), values.pop("protocol"), **values, actor_id=current_user.id
    )
    return numbers.course_summary(course).as_dict()


@blp.route("/courses")
@requires(Permission.READ)
@blp.arguments(CourseQuerySchema, location="query")
@blp.response(200, CourseListSchema)
def list_courses(args: dict[str, Any]) -> Any:
    """A patient's courses with their numbers, newest first."""
    summaries = numbers.read_patient_courses(args["patient_id"], actor_id=current_user.id)
    status = args.get("status")
    return {"items": [s.as_dict() for s in summaries if status in (None, s.course.status)]}


@blp.route("/courses/<int:course_id>")
@requires(Permission.READ)
@blp.response(200, CourseSchema)
def get_course(course_id: int) -> Any:
    """A course and its numbers (delivered, scheduled, missed, remaining, authorization)."""
    summary = numbers.read_course(course_id, actor_id=current_user.id)
    return summary.as_dict()


@blp.route("/courses/<int:course_id>", methods=["PATCH"])
@declares(409, codes=["course_closed"])
@requires(Permission.PRESCRIBE)
@blp.arguments(CourseUpdateSchema)
@blp.response(200, CourseSchema)
def update_course(changes: dict[str, Any], course_id: int) -> Any:
    """Change planned sessions (not below those delivered), prescribed %MT, target or notes.
    409 `course_closed` on a completed or discontinued course."""
    course = prescribing.update_course(
        numbers.get_course(course_id), changes, actor_id=current_user.id
    )
    return numbers.course_summary(course).as_dict()


@blp.route("/courses/<int:course_id>/status", methods=["POST"])
@declares(409, codes=["course_closed", "invalid_status"])
@requires(Permission.PRESCRIBE)
@blp.arguments(CourseStatusSchema)
@blp.response(200, CourseSchema)
def change_course_status(values: dict[str, Any], course_id: int) -> Any:
    """Set the status (`reason` required for on_hold and discontinued). Completing or
    discontinuing cancels future scheduled sessions; only an admin reopens a closed
    course (409 `course_closed`)."""
    course = set_course_status(
        numbers.get_course(course_id),
        values["status"],
        values.get("reason"),
        actor_id=current_user.id,
    )
    return numbers.course_summary(course).as_dict()


@blp.route("/courses/<int:course_id>/schedule", methods=["POST"])
@declares(409, codes=["course_not_active", "nothing_to_schedule", "cannot_place"])
@requires(Permission.EDIT_PATIENTS)
@blp.arguments(ScheduleSchema, example={"start_date": "2026-03-09", "time": "09:00"})
@blp.response(201, ScheduleResultSchema)
def schedule_course(args: dict[str, Any], course_id: int) -> Any:
    """Book every remaining session of a course by its protocol's pattern.

    Refused with 409 `course_not_active`, `nothing_to_schedule`, or `cannot_place`
    (not every session fits within a year; nothing is written then).
    """
    appointments = booking_service.schedule_course(
        numbers.get_course(course_id),
        start_date=args["start_date"],
        local_time=args["time"],
        device_id=args.get("device_id"),
        site_id=args.get("site_id"),
        actor_id=current_user.id,
    )
    # A course's dozens of sessions: the schema's JSON without marshmallow per field.
    return jsonify(appointments=[dump_appointment(a) for a in appointments]), 201


@blp.route("/courses/<int:course_id>/schedule/preview", methods=["POST"])
@requires(Permission.EDIT_PATIENTS)
@blp.arguments(ScheduleSchema)
@blp.response(200, PreviewSchema)
def preview_schedule(args: dict[str, Any], course_id: int) -> Any:
    """What booking the course would create, and every clash on the way; writes nothing."""
    plan = booking_service.preview_course(
        numbers.get_course(course_id),
        start_date=args["start_date"],
        local_time=args["time"],
        device_id=args.get("device_id"),
        site_id=args.get("site_id"),
    )
    return {
        "appointments": [
            {
                "sequence": plan.first_sequence + index,
                "device_id": session.device_id,
                "starts_at": session.starts_at,
                "ends_at": session.ends_at,
                "notes": list(session.notes),
            }
            for index, session in enumerate(plan.sessions)
        ],
        "clashes": plan.clashes,
        "missing": plan.missing,
        "complete": plan.complete,
    }


@blp.route("/appointments", methods=["POST"])
@declares(409, codes=["conflict", "course_closed"])
@requires(Permission.EDIT_PATIENTS)
@blp.arguments(
    AppointmentCreateSchema,
    example={"course_id": 1, "device_id": 1, "starts_at": "2026-03-10T14:00:00Z"},
)
@blp.response(201, AppointmentSchema)
def book_appointment(args: dict[str, Any]) -> Any:
    """Book one session of a course; 409 `conflict` names each clash (device, patient,
    closed, outside hours, maintenance) in `error.clashes`."""
    course = numbers.get_course(args.pop("course_id"))
    return booking_service.book_appointment(course, actor_id=current_user.id, **args)


class ConsentWaiverSchema(ma.Schema):
    reason = _text(2000, 1, required=True, metadata={"description": "why no signed consent"})


class ConsentWaiverOutSchema(ma.Schema):
    id = ma.fields.Integer()
    consent_waiver_reason = ma.fields.String()
    consent_waived_by_id = ma.fields.Integer(allow_none=True)
    consent_waived_at = ma.fields.AwareDateTime()


@blp.route("/courses/<int:course_id>/consent-waiver", methods=["POST"])
@requires(Permission.PRESCRIBE)
@blp.arguments(ConsentWaiverSchema)
@blp.response(200, ConsentWaiverOutSchema)
def waive_consent(args: dict[str, Any], course_id: int) -> Any:
    """A clinician records why this course may start without a signed TMS consent (its
    first treatment is otherwise refused with 409 `consent_required`)."""
    return consent.waive_consent(course_id, args["reason"], actor_id=current_user.id)
