"""Recording questionnaire responses, single-use patient links and course outcomes.

Every path that records an answer set (patient link, tablet, staff page, API) goes
through `record_response`, so scoring, the item-9 alert, the audit row and completing
the cadence's assignment can never differ between paths.
"""

from __future__ import annotations

import hashlib
import secrets
from bisect import bisect_right
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from flask import current_app
from markupsafe import Markup
from sqlalchemy import and_, or_, select, update

from clinic import clock, events
from clinic.alerts.models import Alert, AlertKind, AlertSeverity
from clinic.alerts.services import raise_alert
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.courses.models import Course, CourseStatus
from clinic.db import rowcount
from clinic.errors import Gone, Invalid, NotFound
from clinic.extensions import db
from clinic.outcomes.analysis import FOLLOW_UP_MONTHS, Window, add_months, summarize
from clinic.outcomes.catalog import (
    Instrument,
    InvalidAnswers,
    Score,
    UnknownInstrument,
    default_catalog,
    get_instrument,
)
from clinic.outcomes.chart import ChartPoint, render_course_chart
from clinic.outcomes.models import (
    AssignmentStatus,
    QuestionnaireAssignment,
    QuestionnaireLink,
    QuestionnaireResponse,
    ResponseSource,
)
from clinic.patients.medications import load_of, medications_of
from clinic.patients.models import Patient
from clinic.permissions import Role
from clinic.scheduling.progress import Progress, course_progress, delivered_session_ends

CURRENT_COURSE_STATUSES = (CourseStatus.ACTIVE, CourseStatus.ON_HOLD)
CHART_CODES = ("PHQ-9", "PEG-3", "PROMIS-SD-8a")
MAX_ID = 2**31 - 1
ADMINISTERED_TOLERANCE = timedelta(minutes=5)
# A flag the catalog raises that has no alert kind of its own still reaches a clinician.
URGENT_FLAGS = frozenset({AlertKind.SUICIDAL_IDEATION})


def instrument_or_invalid(code: str) -> Instrument:
    """The catalog entry, or a 422 naming the field (never a KeyError)."""
    try:
        return get_instrument(code)
    except UnknownInstrument:
        known = ", ".join(default_catalog())
        raise Invalid(
            f"Unknown instrument {code!r}.", fields={"instrument": [f"One of {known}."]}
        ) from None


def score_or_invalid(instrument: Instrument, answers: Sequence[Any]) -> Score:
    try:
        return instrument.score(answers)
    except InvalidAnswers as exc:
        raise Invalid(exc.message, fields=exc.fields) from None


def _row(model: type[Any], row_id: int) -> Any:
    """The row, or None; an id beyond the database's integer range simply is not there."""
    return db.session.get(model, row_id) if 0 < row_id <= MAX_ID else None


def get_patient(patient_id: int) -> Patient:
    patient = _row(Patient, patient_id)
    if patient is None:
        raise NotFound(f"No patient {patient_id}.")
    return patient


def current_course(patient_id: int) -> Course | None:
    """The patient's newest course that is still running (active or on hold)."""
    return db.session.scalar(
        select(Course)
        .where(Course.patient_id == patient_id, Course.status.in_(CURRENT_COURSE_STATUSES))
        .order_by(Course.created_at.desc(), Course.id.desc())
        .limit(1)
    )


def _course_for(patient: Patient, course_id: int | None) -> Course | None:
    """The named course (it must be this patient's), else the patient's current one."""
    if course_id is None:
        return current_course(patient.id)
    course = _row(Course, course_id)
    if course is None or course.patient_id != patient.id:
        raise Invalid(
            f"Course {course_id} is not a course of this patient.",
            fields={"course_id": ["Not a course of this patient."]},
        )
    return course


def record_response(
    patient_id: int,
    instrument: str,
    answers: Sequence[Any],
    course_id: int | None,
    source: str,
    actor_id: int | None,
    assignment_id: int | None = None,
    *,
    link_id: int | None = None,
    administered_at: datetime | None = None,
) -> QuestionnaireResponse:
    """Score and store one answer set; a critical answer opens an urgent alert at once.

    Without `course_id` the response belongs to the patient's current course, so a
    questionnaire answered at the desk still counts towards that course's outcome.
    `administered_at` is when the patient answered (a paper form entered later); it
    defaults to now and is never in the future.
    """
    if source not in tuple(ResponseSource):
        raise Invalid(f"Unknown source {source!r}.", fields={"source": ["Unknown source."]})
    now = clock.now()
    administered = _administered(administered_at, now)
    patient = get_patient(patient_id)
    spec = instrument_or_invalid(instrument)
    scored = score_or_invalid(spec, answers)
    course = _course_for(patient, course_id)
    response = QuestionnaireResponse(
        patient_id=patient.id,
        course_id=course.id if course else None,
        instrument=spec.code,
        answers=list(answers),
        score=float(scored.score),
        severity=scored.severity,
        flags=list(scored.flags),
        source=source,
        answered_at=now,
        administered_at=administered,
        entered_by_id=actor_id,
        link_id=link_id,
    )
    db.session.add(response)
    db.session.flush()
    record(
        actor_id,
        AuditAction.CREATE,
        "response",
        response.id,
        patient_id=patient.id,
        detail={
            "instrument": spec.code,
            "source": source,
            "score": scored.score,
            "flags": list(scored.flags),
        },
    )
    _complete_assignments(response, assignment_id)
    for flag in scored.flags:
        _alert_for_flag(flag, spec, response, patient, course, actor_id)
    return response


def _administered(at: datetime | None, now: datetime) -> datetime:
    """When the patient answered: aware, not in the future (a clock a little ahead of the
    server's is forgiven), in UTC as the database gives it back."""
    if at is None:
        return now
    if at.tzinfo is None:
        raise Invalid(
            "administered_at needs a UTC offset.",
            fields={
                "administered_at": ["Give the time with its offset, e.g. 2026-03-02T09:15-05:00."]
            },
        )
    if at > now + ADMINISTERED_TOLERANCE:
        raise Invalid(
            "A questionnaire cannot be answered in the future.",
            fields={"administered_at": ["Must not be in the future."]},
        )
    return min(at, now).astimezone(UTC)


def _complete_assignments(response: QuestionnaireResponse, assignment_id: int | None) -> int:
    """A response completes the assignment it answers and any of its kind already due."""
    matches = [
        QuestionnaireAssignment.patient_id == response.patient_id,
        QuestionnaireAssignment.instrument == response.instrument,
        QuestionnaireAssignment.due_on <= clock.today(),
    ]
    if response.course_id is not None:
        matches.append(QuestionnaireAssignment.course_id == response.course_id)
    scope = and_(*matches)
    if assignment_id is not None:
        scope = or_(QuestionnaireAssignment.id == assignment_id, scope)
    return rowcount(
        db.session.execute(
            update(QuestionnaireAssignment)
            .where(QuestionnaireAssignment.status == AssignmentStatus.DUE, scope)
            .values(
                status=AssignmentStatus.COMPLETED, response_id=response.id, completed_at=clock.now()
            )
            .execution_options(synchronize_session=False)
        )
    )


def _alert_for_flag(
    flag: str,
    spec: Instrument,
    response: QuestionnaireResponse,
    patient: Patient,
    course: Course | None,
    actor_id: int | None,
) -> Alert:
    """Address the alert to the prescriber of the course; every clinician sees it anyway."""
    critical = next(c for c in spec.critical_items if c.flag == flag)
    item = spec.items[critical.item - 1]
    value = response.answers[critical.item - 1]
    answer = item.label_for(value) or str(value)
    return raise_alert(
        flag if flag in tuple(AlertKind) else AlertKind.OTHER,
        f"{spec.code} item {item.number} answered \u201c{answer}\u201d ({patient.full_name})",
        message=f"{item.text}: {answer} ({value}). Source: {response.source}.",
        severity=AlertSeverity.URGENT if flag in URGENT_FLAGS else AlertSeverity.WARNING,
        audience=Role.CLINICIAN,
        patient_id=patient.id,
        course_id=course.id if course else None,
        assigned_to_id=course.prescriber_id if course else None,
        subject=("response", response.id),
        data={"instrument": spec.code, "item": item.number, "value": value, "flag": flag},
        actor_id=actor_id,
    )


def list_responses(
    patient_id: int,
    *,
    viewer_id: int | None,
    instrument: str | None = None,
    course_id: int | None = None,
    limit: int = 200,
) -> list[QuestionnaireResponse]:
    """Newest first; reading them is a view of the patient's record (audited)."""
    get_patient(patient_id)
    query = select(QuestionnaireResponse).where(QuestionnaireResponse.patient_id == patient_id)
    if instrument:
        query = query.where(QuestionnaireResponse.instrument == instrument)
    if course_id is not None:
        query = query.where(QuestionnaireResponse.course_id == course_id)
    query = query.order_by(
        QuestionnaireResponse.administered_at.desc(), QuestionnaireResponse.id.desc()
    ).limit(limit)
    record(viewer_id, AuditAction.VIEW, "patient", patient_id, detail={"what": "responses"})
    return list(db.session.scalars(query))


# Patient links -------------------------------------------------------------------------


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def link_url(token: str) -> str:
    return f"{current_app.config['CLINIC_BASE_URL']}/q/{token}"


def create_link(
    patient_id: int,
    instrument: str,
    *,
    course_id: int | None = None,
    actor_id: int | None = None,
    deliver: bool = False,
    at: datetime | None = None,
    channel: str | None = None,
) -> tuple[QuestionnaireLink, str]:
    """A single-use link for the patient; the plain URL exists only in this answer.

    `questionnaire_link_created` carries the URL so the reminders feature can send it
    (when `deliver`) by the patient's preferred channel.
    """
    patient = get_patient(patient_id)
    spec = instrument_or_invalid(instrument)
    course = _course_for(patient, course_id)
    created = at or clock.now()
    token = secrets.token_urlsafe(32)
    link = QuestionnaireLink(
        token_hash=hash_token(token),
        patient_id=patient.id,
        course_id=course.id if course else None,
        instrument=spec.code,
        created_at=created,
        expires_at=created + timedelta(days=current_app.config["CLINIC_LINK_TTL_DAYS"]),
        created_by_id=actor_id,
    )
    db.session.add(link)
    db.session.flush()
    record(
        actor_id,
        AuditAction.CREATE,
        "questionnaire_link",
        link.id,
        patient_id=patient.id,
        detail={"instrument": spec.code, "deliver": deliver},
    )
    url = link_url(token)
    events.questionnaire_link_created.send(
        None, link=link, url=url, patient=patient, course=course, deliver=deliver, channel=channel
    )
    return link, url


def link_language(token: str) -> str | None:
    """The language of the patient a link was made for, even once it is used or expired,
    so its "already answered" page speaks that language too; None for an unknown token."""
    return db.session.scalar(
        select(Patient.language)
        .join(QuestionnaireLink, QuestionnaireLink.patient_id == Patient.id)
        .where(QuestionnaireLink.token_hash == hash_token(token))
    )


def open_link(token: str) -> QuestionnaireLink:
    """The link behind a token: 404 when unknown, 410 when used or expired."""
    link = db.session.scalar(
        select(QuestionnaireLink).where(QuestionnaireLink.token_hash == hash_token(token))
    )
    if link is None:
        raise NotFound("This questionnaire link is not valid.")
    if link.used_at is not None:
        raise Gone("This questionnaire has already been answered.", code="link_used")
    if link.expires_at <= clock.now():
        raise Gone("This questionnaire link has expired.", code="link_expired")
    return link


def submit_link(token: str, answers: Sequence[Any]) -> QuestionnaireResponse:
    """Record the patient's answers; the link works exactly once, even under concurrency.

    Answers are checked before the link is spent, so a mistake does not burn the link.
    The claim is one guarded UPDATE: of two simultaneous submissions only one matches
    `used_at IS NULL`, the other gets 410.
    """
    link = open_link(token)
    score_or_invalid(get_instrument(link.instrument), answers)
    now = clock.now()
    claimed = rowcount(
        db.session.execute(
            update(QuestionnaireLink)
            .where(
                QuestionnaireLink.id == link.id,
                QuestionnaireLink.used_at.is_(None),
                QuestionnaireLink.expires_at > now,
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
    )
    if claimed != 1:
        raise Gone("This questionnaire has already been answered.", code="link_used")
    assignment_id = db.session.scalar(
        select(QuestionnaireAssignment.id).where(QuestionnaireAssignment.link_id == link.id)
    )
    return record_response(
        link.patient_id,
        link.instrument,
        answers,
        link.course_id,
        ResponseSource.LINK,
        None,
        assignment_id,
        link_id=link.id,
    )


# Course outcomes ------------------------------------------------------------------------


def course_outcomes(course_id: int, *, viewer_id: int | None) -> dict[str, Any]:
    """`/courses/{id}/outcomes`: every catalog instrument summarised for one course."""
    course = _row(Course, course_id)
    if course is None:
        raise NotFound(f"No course {course_id}.")
    record(viewer_id, AuditAction.VIEW, "patient", course.patient_id, detail={"what": "outcomes"})
    return summarize_course(course_id)


def course_window(progress: Progress, tz: tzinfo | None = None) -> Window:
    """The course's delivered treatments as the outcome rules read them (`tz`: the
    clinic's zone, given by a caller that builds many)."""
    return Window(
        first_at=progress.first_delivered_at,
        last_at=progress.last_delivered_at,
        logged_at=progress.first_logged_at,
        tz=tz or clock.clinic_tz(),
    )


def summarize_course(course_id: int) -> dict[str, Any]:
    progress = course_progress([course_id])[course_id]
    rows = db.session.execute(
        select(
            QuestionnaireResponse.instrument,
            QuestionnaireResponse.administered_at,
            QuestionnaireResponse.score,
        ).where(QuestionnaireResponse.course_id == course_id)
    ).all()
    points: dict[str, list[tuple[datetime, float]]] = {}
    for code, administered_at, score in rows:
        points.setdefault(code, []).append((administered_at, score))
    tz = clock.clinic_tz()
    window = course_window(progress)
    return {
        "course_id": course_id,
        "first_treatment_at": progress.first_delivered_at,
        "last_treatment_at": progress.last_delivered_at,
        "instruments": {
            code: summarize(spec, points.get(code, []), window, tz=tz)
            for code, spec in default_catalog().items()
        },
        "medication_load": _medication_load(course_id, progress),
    }


def _medication_load(course_id: int, progress: Progress) -> dict[str, Any]:
    """Opioid MME and diazepam mg a day at the course's start (its first delivered day, or
    today before it begins), end (its last delivered day; None before any) and each
    follow-up day that has come (1, 3 and 6 months after the last delivered day)."""
    course = db.session.get(Course, course_id)
    assert course is not None  # the caller found it
    taken = medications_of(course.patient_id)
    first = progress.first_delivered_at
    last = progress.last_delivered_day()
    start = clock.to_local(first).date() if first else clock.today()
    follow_ups = []
    for months in FOLLOW_UP_MONTHS:
        day = add_months(last, months) if last else None
        if day is not None and day <= clock.today():
            label = f"{months} month" + ("s" if months > 1 else "")
            follow_ups.append({"label": label, "months": months, **load_of(taken, day).figures()})
    return {
        "baseline": load_of(taken, start).figures(),
        "end": load_of(taken, last).figures() if last else None,
        "follow_ups": follow_ups,
    }


def course_outcome_panel(course_id: int) -> dict[str, Any]:
    """What `outcomes/_course_outcomes.html` shows: the numbers and the inline SVG chart
    of mood, pain and sleep against the sessions delivered when each answer was given."""
    summary = summarize_course(course_id)
    ends = delivered_session_ends(course_id)
    series: dict[str, list[ChartPoint]] = {
        code: [
            (
                bisect_right(ends, datetime.fromisoformat(p["at"])),
                date.fromisoformat(p["date"]),
                p["score"],
            )
            for p in data["series"]
        ]
        for code, data in summary["instruments"].items()
    }
    course = db.session.get(Course, course_id)
    chart = render_course_chart(
        series,
        CHART_CODES,
        planned_sessions=course.planned_sessions if course else 0,
        id_prefix=f"course-{course_id}-outcomes",
    )
    return {
        "summary": summary,
        "chart": Markup(chart),  # built and escaped by clinic.outcomes.chart
        "codes": [code for code in summary["instruments"] if summary["instruments"][code]["series"]]
        or list(CHART_CODES),
        # Which instruments have a response / remission rule at all ("n/a" otherwise).
        "rules": {
            code: {
                "response": spec.outcome_rules.response_fall_pct is not None,
                "remission": spec.outcome_rules.remission_below is not None,
            }
            for code, spec in default_catalog().items()
        },
    }
