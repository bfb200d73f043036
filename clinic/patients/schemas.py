"""Marshmallow schemas for intake: the JSON API's bodies and the CSV import's rows.

Input schemas only turn JSON (or CSV text) into Python types and refuse unknown fields;
every business rule (lengths, formats, required-ness across entry paths) lives in
`services`, so the API, the pages and the import answer with the same messages.
"""

from __future__ import annotations

import marshmallow as ma

from clinic.api.schemas import limit_param, list_schema
from clinic.patients import medications
from clinic.patients.models import MedicationCategory
from clinic.patients.screening import SCREENING_ITEMS

CATEGORIES = [category.value for category in MedicationCategory]


class PatientInputSchema(ma.Schema):
    """Fields of a patient; on POST first_name, last_name and date_of_birth are required."""

    first_name = ma.fields.String(metadata={"example": "Jamie"})
    last_name = ma.fields.String(metadata={"example": "Rivera"})
    date_of_birth = ma.fields.Date(metadata={"example": "1980-05-17"})
    sex = ma.fields.String(
        allow_none=True, metadata={"description": "female, male, other, unknown"}
    )
    email = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True, metadata={"description": "normalised to E.164"})
    preferred_channel = ma.fields.String(
        allow_none=True, metadata={"description": "sms, email, none"}
    )
    sms_consent = ma.fields.Boolean()
    email_consent = ma.fields.Boolean()
    timezone = ma.fields.String(allow_none=True, metadata={"description": "IANA name"})
    language = ma.fields.String(
        allow_none=True,
        metadata={
            "description": "en (default) or es: patient links, questionnaire pages, "
            "reminders and calendar files use it",
            "example": "es",
        },
    )
    diagnoses = ma.fields.List(ma.fields.String(), metadata={"description": "ICD-10-CM codes"})
    address = ma.fields.String(
        allow_none=True, metadata={"description": "street, city, ST 12345[-6789]"}
    )
    referring_provider = ma.fields.String(allow_none=True)
    emergency_contact_name = ma.fields.String(allow_none=True)
    emergency_contact_phone = ma.fields.String(allow_none=True)
    pain_sites = ma.fields.String(allow_none=True)
    pain_duration_months = ma.fields.Integer(allow_none=True)
    psychotherapy = ma.fields.String(
        allow_none=True,
        metadata={"description": "psychotherapy tried: kind, duration, outcome (for payers)"},
    )
    notes = ma.fields.String(allow_none=True)


class PatientCreateSchema(PatientInputSchema):
    first_name = ma.fields.String(required=True, metadata={"example": "Jamie"})
    last_name = ma.fields.String(required=True, metadata={"example": "Rivera"})
    date_of_birth = ma.fields.Date(required=True, metadata={"example": "1980-05-17"})
    allow_duplicate = ma.fields.Boolean(
        load_only=True,
        metadata={
            "description": "Register even when a patient with the same names (compared "
            "after Unicode NFC normalisation and case folding) and date of birth exists; "
            "without it that answers 409 `possible_duplicate` with `error.matches: "
            "[{id, mrn}]`."
        },
    )


class DiagnosisSchema(ma.Schema):
    code = ma.fields.String()
    description = ma.fields.String(allow_none=True)


class PatientSchema(ma.Schema):
    id = ma.fields.Integer()
    mrn = ma.fields.String()
    first_name = ma.fields.String()
    last_name = ma.fields.String()
    date_of_birth = ma.fields.Date()
    sex = ma.fields.String(allow_none=True)
    email = ma.fields.String(allow_none=True)
    phone = ma.fields.String(allow_none=True)
    preferred_channel = ma.fields.String()
    sms_consent = ma.fields.Boolean()
    sms_consent_at = ma.fields.AwareDateTime(allow_none=True)
    email_consent = ma.fields.Boolean()
    email_consent_at = ma.fields.AwareDateTime(allow_none=True)
    timezone = ma.fields.String(allow_none=True)
    language = ma.fields.String(metadata={"description": "en or es"})
    diagnoses = ma.fields.Function(
        lambda patient: [diagnosis.code for diagnosis in patient.diagnoses],
        metadata={"description": "ICD-10-CM codes", "type": "array", "items": {"type": "string"}},
    )
    diagnosis_details = ma.fields.Function(
        lambda patient: DiagnosisSchema(many=True).dump(patient.diagnoses),
        metadata={
            "description": "each diagnosis with its description",
            "type": "array",
            "items": {"type": "object"},
        },
    )
    address = ma.fields.String(
        allow_none=True, metadata={"description": "street, city, ST 12345[-6789]"}
    )
    referring_provider = ma.fields.String(allow_none=True)
    emergency_contact_name = ma.fields.String(allow_none=True)
    emergency_contact_phone = ma.fields.String(allow_none=True)
    pain_sites = ma.fields.String(allow_none=True)
    pain_duration_months = ma.fields.Integer(allow_none=True)
    psychotherapy = ma.fields.String(
        allow_none=True,
        metadata={"description": "psychotherapy tried: kind, duration, outcome (for payers)"},
    )
    notes = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    updated_at = ma.fields.AwareDateTime()


PatientListSchema = list_schema(PatientSchema)


class PatientSearchSchema(ma.Schema):
    q = ma.fields.String(load_default="", metadata={"description": "name or MRN fragment"})
    limit = limit_param(default=50, maximum=200)


class ScreeningItemSchema(ma.Schema):
    code = ma.fields.String()
    question = ma.fields.String()
    class_ = ma.fields.String(attribute="item_class", data_key="class")


ScreeningItemListSchema = list_schema(ScreeningItemSchema)


class ScreeningInputSchema(ma.Schema):
    answers = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Raw(),
        required=True,
        metadata={
            "description": "{code: true/false} for every item of GET /screening-items",
            "example": {item.code: False for item in SCREENING_ITEMS},
        },
    )
    notes = ma.fields.String(allow_none=True)


class ScreeningSchema(ma.Schema):
    id = ma.fields.Integer()
    patient_id = ma.fields.Integer()
    version = ma.fields.Integer()
    result = ma.fields.String(metadata={"description": "clear, review or contraindicated"})
    positive_items = ma.fields.List(ma.fields.String())
    answers = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Boolean())
    notes = ma.fields.String(allow_none=True)
    created_at = ma.fields.AwareDateTime()
    created_by_id = ma.fields.Integer(allow_none=True)
    signed_off_at = ma.fields.AwareDateTime(allow_none=True)
    signed_off_by_id = ma.fields.Integer(allow_none=True)
    sign_off_note = ma.fields.String(allow_none=True)
    cleared_for_treatment = ma.fields.Boolean()
    repeat_requested_at = ma.fields.AwareDateTime(
        allow_none=True,
        metadata={"description": "Set when a current medication changed: screen again."},
    )
    repeat_reason = ma.fields.String(allow_none=True)


ScreeningListSchema = list_schema(ScreeningSchema)


class SignOffSchema(ma.Schema):
    note = ma.fields.String(required=True)


class MedicationTrialInputSchema(ma.Schema):
    drug = ma.fields.String(metadata={"example": "sertraline"})
    drug_class = ma.fields.String(allow_none=True, metadata={"example": "SSRI"})
    dose = ma.fields.String(allow_none=True, metadata={"example": "150 mg daily"})
    start_date = ma.fields.Date(allow_none=True)
    stop_date = ma.fields.Date(allow_none=True)
    weeks_at_dose = ma.fields.Integer(allow_none=True)
    reason_stopped = ma.fields.String(allow_none=True)


class MedicationTrialCreateSchema(MedicationTrialInputSchema):
    drug = ma.fields.String(required=True, metadata={"example": "sertraline"})


class MedicationTrialSchema(MedicationTrialInputSchema):
    id = ma.fields.Integer()
    patient_id = ma.fields.Integer()
    created_at = ma.fields.AwareDateTime()


MedicationTrialListSchema = list_schema(MedicationTrialSchema)


class MedicationInputSchema(ma.Schema):
    drug = ma.fields.String(
        metadata={
            "example": "oxycodone",
            "description": "Generic name; the MME and diazepam tables look it up by the "
            "first known generic word (e.g. `Oxycodone ER` is oxycodone).",
        }
    )
    category = ma.fields.String(metadata={"example": "opioid", "enum": CATEGORIES})
    dose_mg = ma.fields.Float(
        allow_none=True, allow_nan=False, metadata={"example": 10, "description": "mg per dose"}
    )
    doses_per_day = ma.fields.Float(allow_none=True, allow_nan=False, metadata={"example": 2})
    dose_mcg_per_hour = ma.fields.Float(
        allow_none=True,
        allow_nan=False,
        metadata={"description": "Transdermal fentanyl only: the patch's rate in mcg/h."},
    )
    started_on = ma.fields.Date(allow_none=True)
    stopped_on = ma.fields.Date(
        allow_none=True, metadata={"description": "The first day it was no longer taken."}
    )


class MedicationCreateSchema(MedicationInputSchema):
    drug = ma.fields.String(required=True, metadata={"example": "oxycodone"})
    category = ma.fields.String(required=True, metadata={"example": "opioid", "enum": CATEGORIES})


class MedicationSchema(MedicationInputSchema):
    id = ma.fields.Integer()
    patient_id = ma.fields.Integer()
    mme_per_day = ma.fields.Function(
        medications.mme_per_day,
        metadata={
            "type": "number",
            "nullable": True,
            "description": "Opioids: morphine milligram equivalents a day, CDC 2022 factors "
            "(mg/day x factor; transdermal fentanyl mcg/h x 2.4). Null for other categories, "
            "buprenorphine (the CDC table gives none) and drugs not in the table.",
        },
    )
    diazepam_mg_per_day = ma.fields.Function(
        medications.diazepam_mg_per_day,
        metadata={
            "type": "number",
            "nullable": True,
            "description": "Benzodiazepines: diazepam-equivalent mg a day (Ashton Manual).",
        },
    )
    created_at = ma.fields.AwareDateTime()
    updated_at = ma.fields.AwareDateTime()


MedicationListSchema = list_schema(MedicationSchema)


class MedicationLoadQuerySchema(ma.Schema):
    on = ma.fields.Date(metadata={"description": "The day (default: today in the clinic)."})


class MedicationLoadSchema(ma.Schema):
    on = ma.fields.Date()
    mme_per_day = ma.fields.Float(metadata={"description": "Sum over opioids taken that day."})
    benzodiazepine_diazepam_mg_per_day = ma.fields.Float(
        metadata={"description": "Sum over benzodiazepines taken that day, in diazepam mg."}
    )
    medications = ma.fields.List(ma.fields.Nested(MedicationSchema))
    unconverted = ma.fields.List(
        ma.fields.String(),
        metadata={
            "description": "Opioids or benzodiazepines taken that day left out of the "
            "sums: no conversion factor (or no dose) known."
        },
    )


class AuthorizationInputSchema(ma.Schema):
    payer = ma.fields.String(metadata={"example": "Blue Cross"})
    member_id = ma.fields.String(allow_none=True)
    payer_id = ma.fields.String(
        allow_none=True, metadata={"description": "The payer's electronic id on claims (837P)"}
    )
    number = ma.fields.String(allow_none=True, metadata={"example": "PA-123456"})
    sessions_authorized = ma.fields.Integer(metadata={"example": 36})
    valid_from = ma.fields.Date(allow_none=True)
    valid_to = ma.fields.Date(allow_none=True)
    status = ma.fields.String(
        metadata={
            "description": "draft (default for a new one), requested, approved, denied, "
            "appealed or expired; only approved ones count on a course's meter"
        }
    )
    requested_on = ma.fields.Date(
        allow_none=True, metadata={"description": "defaults to today when set to requested"}
    )
    decided_on = ma.fields.Date(
        allow_none=True, metadata={"description": "defaults to today when approved or denied"}
    )


class AuthorizationCreateSchema(AuthorizationInputSchema):
    payer = ma.fields.String(required=True, metadata={"example": "Blue Cross"})
    sessions_authorized = ma.fields.Integer(required=True, metadata={"example": 36})


class AuthorizationSchema(AuthorizationInputSchema):
    id = ma.fields.Integer()
    patient_id = ma.fields.Integer()
    created_at = ma.fields.AwareDateTime()


AuthorizationListSchema = list_schema(AuthorizationSchema)
