"""/api/v1: instruments, questionnaire responses, patient links and course outcomes."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_login import current_user

from clinic.api.blueprint import Blueprint
from clinic.api.openapi import declares
from clinic.api.schemas import id_filter, limit_param, list_schema
from clinic.outcomes import hints, report, services
from clinic.outcomes.catalog import default_catalog, get_instrument
from clinic.outcomes.instrument import ENGLISH
from clinic.outcomes.models import ResponseSource
from clinic.patients.models import LANGUAGES
from clinic.permissions import Permission, requires
from clinic.scheduling import sites
from clinic.scheduling.api_fields import site_id_field

blp = Blueprint("outcomes_api", __name__, description="Questionnaires and outcomes")

MAX_ID = services.MAX_ID
_ID = ma.validate.Range(min=1, max=MAX_ID)


class ResponseCreateSchema(ma.Schema):
    instrument = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=20))
    answers = ma.fields.List(
        ma.fields.Integer(strict=True), required=True, validate=ma.validate.Length(max=100)
    )
    course_id = ma.fields.Integer(strict=True, allow_none=True, validate=_ID)
    administered_at = ma.fields.AwareDateTime(
        allow_none=True,
        metadata={
            "description": "When the patient answered (e.g. a paper form entered later), "
            "with its offset; default: now. Never in the future (422). The outcome rules "
            "(baseline, end of course, follow-ups) read this time, not the entry time.",
            "example": "2026-03-02T08:50:00-05:00",
        },
    )


class ResponseSchema(ma.Schema):
    id = ma.fields.Integer()
    patient_id = ma.fields.Integer()
    course_id = ma.fields.Integer(allow_none=True)
    instrument = ma.fields.String()
    answers = ma.fields.List(ma.fields.Integer())
    score = ma.fields.Method(
        "_score",
        metadata={
            "type": "number",
            "description": "The instrument's score; for PROMIS-SD-8a the T-score.",
        },
    )
    raw = ma.fields.Method(
        "_raw",
        metadata={
            "type": "number",
            "description": "The raw sum of item scores after reverse-scoring (PROMIS-SD-8a: "
            "8-40; PEG-3: the sum the mean is taken of).",
        },
    )
    severity = ma.fields.String(allow_none=True)
    flags = ma.fields.List(ma.fields.String())
    source = ma.fields.String()
    answered_at = ma.fields.AwareDateTime(metadata={"description": "When it was entered."})
    administered_at = ma.fields.AwareDateTime(
        metadata={"description": "When the patient answered."}
    )
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


class FollowUpSchema(SeriesPointSchema):
    months = ma.fields.Integer(
        metadata={"description": "The follow-up it is nearest to: 1, 3 or 6 months after."}
    )
    change_pct = ma.fields.Float(allow_none=True, metadata={"description": "Against baseline."})


class InstrumentOutcomeSchema(ma.Schema):
    baseline = ma.fields.Float(
        allow_none=True,
        metadata={
            "description": "The last response administered on or before the day of the "
            "first delivered treatment and before that treatment was logged."
        },
    )
    baseline_at = ma.fields.String(allow_none=True)
    latest = ma.fields.Float(
        allow_none=True,
        metadata={
            "description": "The end-of-course score: the last response administered from the "
            "first delivered treatment to 7 days after the last one (the baseline until then)."
        },
    )
    latest_at = ma.fields.String(allow_none=True)
    change_pct = ma.fields.Float(allow_none=True)
    response = ma.fields.Boolean(allow_none=True)
    remission = ma.fields.Boolean(allow_none=True)
    improvement = ma.fields.String(allow_none=True)
    series = ma.fields.List(
        ma.fields.Nested(SeriesPointSchema),
        metadata={"description": "Responses up to the end of the course (not follow-ups)."},
    )
    follow_ups = ma.fields.List(
        ma.fields.Nested(FollowUpSchema),
        metadata={"description": "Later responses; they never change the course's result."},
    )


class LoadFiguresSchema(ma.Schema):
    on = ma.fields.Date()
    mme_per_day = ma.fields.Float()
    benzodiazepine_diazepam_mg_per_day = ma.fields.Float()
    unconverted = ma.fields.List(ma.fields.String())


class FollowUpLoadSchema(LoadFiguresSchema):
    label = ma.fields.String(metadata={"description": "`1 month`, `3 months`, `6 months`."})
    months = ma.fields.Integer()


class CourseMedicationLoadSchema(ma.Schema):
    baseline = ma.fields.Nested(
        LoadFiguresSchema,
        metadata={"description": "On the first delivered treatment's day (today before it)."},
    )
    end = ma.fields.Nested(
        LoadFiguresSchema,
        allow_none=True,
        metadata={"description": "On the last delivered treatment's day; null before any."},
    )
    follow_ups = ma.fields.List(
        ma.fields.Nested(FollowUpLoadSchema),
        metadata={
            "description": "On the follow-up days (1, 3 and 6 months after the last delivered "
            "treatment, the questionnaires' follow-up days) that have come; [] before."
        },
    )


class CourseOutcomesSchema(ma.Schema):
    course_id = ma.fields.Integer()
    first_treatment_at = ma.fields.AwareDateTime(allow_none=True)
    last_treatment_at = ma.fields.AwareDateTime(allow_none=True)
    instruments = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.Nested(InstrumentOutcomeSchema)
    )
    medication_load = ma.fields.Nested(CourseMedicationLoadSchema)


class ReportQuerySchema(ma.Schema):
    start = ma.fields.Date(
        data_key="from",
        metadata={"description": "First day of the cohort (default: 8 quarters ago)."},
    )
    end = ma.fields.Date(
        data_key="to", metadata={"description": "Last day of the cohort (default: today)."}
    )
    site_id = site_id_field(
        "Only the courses with a treatment delivered on this site's devices (default: every "
        "site the user works at). 404 for an unknown site, 403 for one the user does not "
        "work at."
    )

    @ma.validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise ma.ValidationError("Must not be before `from`.", field_name="to")


class CohortSchema(ma.Schema):
    n = ma.fields.Integer(metadata={"description": "Courses in the cohort."})
    judged = ma.fields.Integer(
        metadata={"description": "Of them, with a baseline and an end-of-course PHQ-9."}
    )
    responders = ma.fields.Integer()
    response = ma.fields.Float(
        allow_none=True,
        metadata={
            "description": "PHQ-9 response (>= 50% fall) in percent of n; a course "
            "without a baseline or end score counts as not responding."
        },
    )
    remitters = ma.fields.Integer()
    remission = ma.fields.Float(
        allow_none=True,
        metadata={"description": "PHQ-9 end score below 5, in percent of n."},
    )


class PainSchema(ma.Schema):
    n = ma.fields.Integer(metadata={"description": "Courses with a PEG-3 baseline above 0."})
    responders_30 = ma.fields.Integer()
    response_30 = ma.fields.Float(
        allow_none=True, metadata={"description": "PEG-3 fell >= 30%, in percent of n."}
    )
    responders_50 = ma.fields.Integer()
    response_50 = ma.fields.Float(
        allow_none=True, metadata={"description": "PEG-3 fell >= 50%, in percent of n."}
    )


class SleepSchema(ma.Schema):
    n = ma.fields.Integer(
        metadata={"description": "Courses with a PROMIS-SD-8a baseline and end T-score."}
    )
    mean_baseline = ma.fields.Float(allow_none=True)
    mean_end = ma.fields.Float(allow_none=True)
    mean_change = ma.fields.Float(
        allow_none=True, metadata={"description": "End minus baseline: negative is better."}
    )
    improved = ma.fields.Integer(
        metadata={
            "description": "T-score fell at least 5 points (the minimal important difference "
            "commonly used for PROMIS T-scores, half a standard deviation)."
        }
    )
    improved_pct = ma.fields.Float(allow_none=True, metadata={"description": "Of n."})


class LoadChangeSchema(ma.Schema):
    n = ma.fields.Integer(metadata={"description": "Courses taking any at the start or end."})
    mean_baseline = ma.fields.Float(allow_none=True)
    mean_end = ma.fields.Float(allow_none=True)
    mean_change = ma.fields.Float(allow_none=True)


class ReportLoadSchema(ma.Schema):
    opioid = ma.fields.Nested(
        LoadChangeSchema, metadata={"description": "MME a day (CDC 2022 factors)."}
    )
    benzodiazepine = ma.fields.Nested(
        LoadChangeSchema, metadata={"description": "Diazepam-equivalent mg a day."}
    )


class StratumSchema(ma.Schema):
    label = ma.fields.String(
        metadata={
            "description": "`2025-Q1`; or baseline PEG-3 `<4`, `4-6`, `>=7`, `not measured`; "
            "or the site's name."
        }
    )
    site_id = ma.fields.Integer(metadata={"description": "In the `site` strata only."})
    intent_to_treat = ma.fields.Nested(CohortSchema)
    completers = ma.fields.Nested(CohortSchema)
    pain = ma.fields.Nested(PainSchema)
    sleep = ma.fields.Nested(SleepSchema)
    medication_load = ma.fields.Nested(ReportLoadSchema)


class StrataSchema(ma.Schema):
    quarter = ma.fields.List(
        ma.fields.Nested(StratumSchema),
        metadata={"description": "By calendar quarter of the first delivered treatment."},
    )
    baseline_pain = ma.fields.List(
        ma.fields.Nested(StratumSchema),
        metadata={"description": "By baseline PEG-3: severe pain predicts less response."},
    )
    site = ma.fields.List(
        ma.fields.Nested(StratumSchema),
        metadata={
            "description": "By site, when the report covers several: a course counts at every "
            "site where one of its treatments was delivered. [] for one site."
        },
    )


class ProtocolOutcomeSchema(ma.Schema):
    protocol = ma.fields.String(metadata={"description": "Protocol code (`all` in `total`)."})
    protocol_name = ma.fields.String()
    intent_to_treat = ma.fields.Nested(
        CohortSchema,
        metadata={
            "description": "Every course first treated in the period, discontinued, "
            "on hold and running ones included."
        },
    )
    completers = ma.fields.Nested(
        CohortSchema, metadata={"description": "Those of them completed."}
    )
    pain = ma.fields.Nested(PainSchema)
    sleep = ma.fields.Nested(SleepSchema)
    medication_load = ma.fields.Nested(
        ReportLoadSchema,
        metadata={"description": "Mean load on the first and last delivered days."},
    )


class OutcomeReportSchema(ma.Schema):
    start = ma.fields.Date(data_key="from", attribute="from")
    end = ma.fields.Date(data_key="to", attribute="to")
    site_ids = ma.fields.List(
        ma.fields.Integer(),
        allow_none=True,
        metadata={"description": "The sites the report is limited to; null: every site."},
    )
    items = ma.fields.List(ma.fields.Nested(ProtocolOutcomeSchema))
    total = ma.fields.Nested(ProtocolOutcomeSchema)
    strata = ma.fields.Nested(StrataSchema)


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
@blp.arguments(
    ResponseCreateSchema,
    example={"instrument": "PHQ-9", "answers": [1, 2, 1, 2, 1, 1, 0, 1, 0]},
)
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
        administered_at=args.get("administered_at"),
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
    """Baseline, end-of-course (`latest`), change, response and remission per instrument,
    the series, the follow-ups apart, and the medication load at the start and the end.

    Baseline: the last response administered on or before the day of the first delivered
    treatment, before that treatment was logged. End of course: the last one administered
    from then to 7 days after the last delivered treatment. Later ones are follow-ups.
    """
    return services.course_outcomes(course_id, viewer_id=current_user.id)


@blp.route("/reports/outcomes")
@requires(Permission.READ)
@blp.arguments(ReportQuerySchema, location="query")
@blp.response(200, OutcomeReportSchema)
@declares(403, codes=["forbidden"], description="The user works at other sites than `site_id`.")
def outcome_report(args: dict[str, Any]) -> Any:
    """The clinic's results per protocol: intent to treat, completers, pain, sleep and
    medication load, with strata by quarter, baseline pain and site.

    Cohort: courses whose first delivered treatment falls from `from` to `to` (clinic
    days, inclusive); with `site_id`, those with a treatment delivered on that site's
    devices; staff limited to sites see only their sites' courses. Intent to treat counts
    every one of them (discontinued included); completers those completed. Rates are
    percentages of `n` with 1 decimal.
    """
    start, end = report.default_range()
    visible = sites.visible_sites(current_user.id, args.get("site_id"))
    return report.outcome_report(args.get("start", start), args.get("end", end), visible)


class HintSchema(ma.Schema):
    code = ma.fields.String(
        metadata={
            "description": "suggest_extension, retreatment_supported or retreatment_not_supported"
        }
    )
    message = ma.fields.String()
    reason = ma.fields.String(metadata={"description": "the PHQ-9 numbers behind the hint"})


@blp.route("/courses/<int:course_id>/hints")
@requires(Permission.READ)
@blp.response(200, list_schema(HintSchema))
def course_hints(course_id: int) -> Any:
    """Hints, never blocks: an extension when PHQ-9 improved 25-49% by the end of an acute
    course; a retreatment only after an earlier response above 50%; each with its reason."""
    return {"items": hints.hints_for(course_id, viewer_id=current_user.id)}
