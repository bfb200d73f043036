"""The FHIR views (served under /fhir and /api/v1/fhir). Every search names a patient,
loads through `view_patient` (so the read is audited as `view`, section `fhir:<type>`),
and answers a searchset Bundle."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

from flask import Response, request
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload
from werkzeug.exceptions import HTTPException

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.billing.coding import code_course
from clinic.errors import DomainError, Invalid, NotFound
from clinic.extensions import db
from clinic.fhir import PREFIXES, bp, resources
from clinic.outcomes.models import QuestionnaireResponse
from clinic.patients.lookup import view_patient
from clinic.permissions import Permission, public, requires
from clinic.scheduling.models import Appointment
from clinic.treatments.models import MotorThreshold, TreatmentLog

FHIR_JSON = "application/fhir+json"
NDJSON = "application/fhir+ndjson"
ISSUE_CODES = {400: "invalid", 401: "login", 403: "forbidden", 404: "not-found"}
MAX_ID = 2**31 - 1


def _answer(body: dict[str, Any], status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype=FHIR_JSON)


def _outcome(status: int, message: str) -> Response:
    response = _answer(
        resources.operation_outcome(status, ISSUE_CODES.get(status, "exception"), message), status
    )
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="fhir"'
    return response


@bp.errorhandler(DomainError)
def domain_error(error: DomainError) -> Response:
    """FHIR's search answers a search it cannot run with 400 (RESTful API, "Searching"),
    where the JSON API says 422."""
    return _outcome(400 if error.status == 422 else error.status, error.message)


@bp.errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    return _outcome(error.code or 500, error.description or error.name)


def _base() -> str:
    return request.host_url.rstrip("/") + PREFIXES[request.blueprint or "fhir"]


def _patient_id(required: bool = True) -> int | None:
    raw = request.args.get("patient") or request.args.get("subject") or ""
    raw = raw.removeprefix("Patient/")
    if not raw:
        if required:
            raise Invalid("Search by patient: ?patient={id}.")
        return None
    if not raw.isdigit() or not 0 < int(raw) <= MAX_ID:
        raise NotFound(f"No patient {raw}.")
    return int(raw)


def _searched_patient(kind: str) -> int:
    patient_id = _patient_id()
    assert patient_id is not None
    view_patient(patient_id, actor_id=current_user.id, section=f"fhir:{kind}", whole_record=False)
    return patient_id


@bp.route("/<path:unknown>")
@public
def unknown_resource(unknown: str) -> Response:
    """A type or path we do not serve: a FHIR client still gets an OperationOutcome."""
    raise NotFound(f"This server does not serve {unknown!r}; see /metadata.")


@bp.route("/metadata")
@public
def metadata() -> Response:
    return _answer(resources.capability_statement(_base(), clock.now()))


@bp.route("/Patient/<int:patient_id>")
@requires(Permission.READ)
def read_patient(patient_id: int) -> Response:
    patient = view_patient(patient_id, actor_id=current_user.id, section="fhir:Patient")
    return _answer(resources.patient(patient))


def _responses(patient_id: int | None, course_id: int | None = None) -> list[QuestionnaireResponse]:
    query = select(QuestionnaireResponse).order_by(
        QuestionnaireResponse.answered_at, QuestionnaireResponse.id
    )
    if patient_id is not None:
        query = query.where(QuestionnaireResponse.patient_id == patient_id)
    if course_id is not None:
        query = query.where(QuestionnaireResponse.course_id == course_id)
    return list(db.session.scalars(query))


@bp.route("/Observation")
@requires(Permission.READ)
def search_observations() -> Response:
    """Questionnaire totals; `code=http://loinc.org|44261-6` (or just the code) filters."""
    patient_id = _searched_patient("Observation")
    system, _, code = (request.args.get("code") or "").rpartition("|")
    if system and system != resources.LOINC:
        code = "-"  # a code of another system matches nothing we hold
    found = [
        resources.observation(row)
        for row in _responses(patient_id)
        if not code or resources.observation_code(row) == code
    ]
    return _answer(resources.bundle(found, _base()))


@bp.route("/QuestionnaireResponse")
@requires(Permission.READ)
def search_questionnaire_responses() -> Response:
    patient_id = _searched_patient("QuestionnaireResponse")
    found = [resources.questionnaire_response(row) for row in _responses(patient_id)]
    return _answer(resources.bundle(found, _base()))


@bp.route("/Appointment")
@requires(Permission.READ)
def search_appointments() -> Response:
    patient_id = _searched_patient("Appointment")
    rows = db.session.scalars(
        select(Appointment)
        .where(Appointment.patient_id == patient_id)
        .order_by(Appointment.starts_at)
    )
    return _answer(resources.bundle([resources.appointment(row) for row in rows], _base()))


@bp.route("/Procedure")
@requires(Permission.READ)
def search_procedures() -> Response:
    """One Procedure per delivered treatment (a session stopped early is not one)."""
    patient_id = _searched_patient("Procedure")
    logs = list(
        db.session.scalars(
            select(TreatmentLog)
            .options(joinedload(TreatmentLog.appointment))
            .where(TreatmentLog.patient_id == patient_id)
        )
    )
    thresholds: dict[int, list[MotorThreshold]] = defaultdict(list)
    for threshold in db.session.scalars(
        select(MotorThreshold).where(MotorThreshold.patient_id == patient_id)
    ):
        thresholds[threshold.course_id].append(threshold)
    by_course: dict[int, list[TreatmentLog]] = defaultdict(list)
    for log in logs:
        by_course[log.course_id].append(log)
    codes: dict[int, tuple[str, bool]] = {}  # billing owns the CPT rule
    for course_id, course_logs in by_course.items():
        codes.update(code_course(course_logs, thresholds[course_id]))
    delivered = sorted(
        (log for log in logs if log.completed), key=lambda log: log.appointment.starts_at
    )
    found = [resources.procedure(log, codes[log.appointment_id][0]) for log in delivered]
    return _answer(resources.bundle(found, _base()))


@bp.route("/outcomes.ndjson")
@requires(Permission.READ)
def export_outcomes() -> Response:
    """Bulk export for registries: every questionnaire response of a course
    (`?course={id}`) or of the clinic, as QuestionnaireResponse and Observation lines
    (FHIR NDJSON). Audited as one `view` of the export."""
    raw = request.args.get("course", "")
    if raw and not (raw.isdigit() and 0 < int(raw) <= MAX_ID):
        raise Invalid("`course` is a course id.")
    course_id = int(raw) if raw else None
    rows = _responses(None, course_id)
    record(
        current_user.id,
        AuditAction.VIEW,
        "fhir_export",
        course_id,
        detail={"rows": len(rows), "patients": len({row.patient_id for row in rows})},
    )
    lines = []
    for row in rows:
        lines.append(json.dumps(resources.questionnaire_response(row)))
        lines.append(json.dumps(resources.observation(row)))
    return Response("".join(line + "\n" for line in lines), mimetype=NDJSON)
