"""/api/v1: instruments, questionnaire responses, patient links and course outcomes."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_login import current_user
from flask_smorest import Blueprint

from clinic.api.schemas import id_filter, limit_param, list_schema
from clinic.outcomes import services
from clinic.outcomes.catalog import default_catalog, get_instrument
from clinic.outcomes.instrument import ENGLISH
from clinic.outcomes.models import ResponseSource
from clinic.patients.models import LANGUAGES
from clinic.permissions import Permission, requires

blp = Blueprint("outcomes_api", __name__, description="Questionnaires and outcomes")

MAX_ID = services.MAX_ID
_ID = ma.validate.Range(min=1, max=MAX_ID)


class ResponseCreateSchema(ma.Schema):
    instrument = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=20))
    answers = ma.fields.List(
        ma.fields.Integer(strict=True), required=True, validate=ma.validate.Length(max=100)
    )
    course_id = ma.fields.Integer(strict=True, allow_none=True, validate=_ID)


class ResponseSchema(ma.Schema):
    id = ma.fields.Integer()
    patient_id = ma.fields.Integer()
    course_id = ma.fields.Integer(allow_none=True)
    instrument = ma.fields.String()
    answers = ma.fields.List(ma.fields.Integer())
    score = ma.fields.Method(
        "_score",
        metadata={"description": "The instrument's score; for PROMIS-SD-8a the T-score."},
    )
    raw = ma.fields.Method(
        "_raw",
        metadata={
            "description": "The raw sum of item scores after reverse-scoring (PROMIS-SD-8a: "
            "8-40; PEG-3: the sum the mean is taken of)."
        },
    )
    severity = ma.fields.String(allow_none=True)
    flags = ma.fields.List(ma.fields.String())
    source = ma.fields.String()
    answered_at = ma.fields.AwareDateTime()
    entered_by_id = ma.fields.Integer(allow_none=True)

    def _score(self, response: Any) -> Any:
        return response.display_score

    def _raw(self, response: Any) -> int:
        return int(get_instrument(response.instrument).raw_score(response.answers))


class ResponseQuerySchema(ma.Schema):
    instrument = ma.fields.String(validate=ma.validate.Length(max=20))
    course_id = id_filter()
    limit = limit_param()


ResponseListSchema = list_schema(ResponseSchema)


class LinkCreateSchema(ma.Schema):
    instrument = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=20))
    course_id = ma.fields.Integer(strict=True, allow_none=True, validate=_ID)
    deliver = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "Also send it to the patient by their preferred channel."},
    )


class LinkSchema(ma.Schema):
    id = ma.fields.Integer()
    url = ma.fields.String()
    expires_at = ma.fields.AwareDateTime()
    instrument = ma.fields.String()
    patient_id = ma.fields.Integer()
    course_id = ma.fields.Integer(allow_none=True)


class InstrumentQuerySchema(ma.Schema):
    lang = ma.fields.String(
        load_default=ENGLISH,
        validate=ma.validate.OneOf(LANGUAGES),
        metadata={
            "description": "Wording language. `es`: the authors' published Spanish (US) "
            "versions of PHQ-9 and GAD-7; an instrument without a published Spanish version "
            "(PEG-3, PROMIS-SD-8a) stays in English and says so in its `language`.",
            "example": "es",
        },
    )


class InstrumentListSchema(ma.Schema):
    items = ma.fields.List(
        ma.fields.Dict(),
        metadata={
            "description": "Each instrument: code, name, language, items (number, text, min, "
            "max, reverse_scored, choices), loinc_panel, loinc_score, scoring (raw range and, "
            "for PROMIS, the raw-to-T-score table), bands, cadence."
        },
    )


class SeriesPointSchema(ma.Schema):
    date = ma.fields.String()
    at = ma.fields.String()
    score = ma.fields.Float()


class InstrumentOutcomeSchema(ma.Schema):
    baseline = ma.fields.Float(allow_none=True)
    baseline_at = ma.fields.String(allow_none=True)
    latest = ma.fields.Float(allow_none=True)
    latest_at = ma.fields.String(allow_none=True)
    change_pct = ma.fields.Float(allow_none=True)
    response = ma.fields.Boolean(allow_none=True)
    remission = ma.fields.Boolean(allow_none=True)
    improvement = ma.fields.String(allow_none=True)
    series = ma.fields.List(ma.fields.Nested(SeriesPointSchema))


class CourseOutcomesSchema(ma.Schema):
    course_id = ma.fields.Integer()
    first_treatment_at = ma.fields.AwareDateTime(allow_none=True)
    instruments = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Nested(InstrumentOutcomeSchema)
    )


@blp.route("/instruments")
@requires(Permission.READ)
@blp.arguments(InstrumentQuerySchema, location="query")
@blp.response(200, InstrumentListSchema)
def list_instruments(args: dict[str, Any]) -> Any:
    """The questionnaires (PHQ-9, GAD-7, PEG-3, PROMIS-SD-8a) with items, labels, bands, LOINC.

    `lang=es` answers each instrument's published Spanish wording where one exists.
    """
    return {
        "items": [spec.in_language(args["lang"]).to_api() for spec in default_catalog().values()]
    }


@blp.route("/patients/<int:patient_id>/responses", methods=["POST"])
@requires(Permission.ENTER_RESPONSES)
@blp.arguments(ResponseCreateSchema)
@blp.response(201, ResponseSchema)
def create_response(args: dict[str, Any], patient_id: int) -> Any:
    """Record a completed questionnaire; it is scored at once.

    A PHQ-9 with item 9 above 0 is flagged `suicidal_ideation` and opens an urgent alert
    for the prescribing clinician in the same transaction.
    """
    return services.record_response(
        patient_id,
        args["instrument"],
        args["answers"],
        args.get("course_id"),
        ResponseSource.STAFF,
        current_user.id,
    )


@blp.route("/patients/<int:patient_id>/responses")
@requires(Permission.READ)
@blp.arguments(ResponseQuerySchema, location="query")
@blp.response(200, ResponseListSchema)
def list_responses(args: dict[str, Any], patient_id: int) -> Any:
    """A patient's questionnaire responses, newest first (an audited view)."""
    return {"items": services.list_responses(patient_id, viewer_id=current_user.id, **args)}


@blp.route("/patients/<int:patient_id>/questionnaire-links", methods=["POST"])
@requires(Permission.ENTER_RESPONSES)
@blp.arguments(LinkCreateSchema)
@blp.response(201, LinkSchema)
def create_link(args: dict[str, Any], patient_id: int) -> Any:
    """A single-use link the patient opens without logging in (410 once used or expired).

    The URL is answered only here; the database keeps a hash of its token.
    """
    link, url = services.create_link(
        patient_id,
        args["instrument"],
        course_id=args.get("course_id"),
        actor_id=current_user.id,
        deliver=args["deliver"],
    )
    return {
        "id": link.id,
        "url": url,
        "expires_at": link.expires_at,
        "instrument": link.instrument,
        "patient_id": link.patient_id,
        "course_id": link.course_id,
    }


@blp.route("/courses/<int:course_id>/outcomes")
@requires(Permission.READ)
@blp.response(200, CourseOutcomesSchema)
def course_outcomes(course_id: int) -> Any:
    """Baseline, latest, change, response and remission per instrument, with the series.

    Baseline is the last response before the course's first delivered session.
    """
    return services.course_outcomes(course_id, viewer_id=current_user.id)
