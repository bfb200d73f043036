"""What patients answer through the links in their reminders: "I will come", "please
change the time", and the calendar file; and the front desk's view of those answers.

A link is bound to the appointment's revision: after a move it says so instead of
acting on the new time (see `clinic.reminders.links`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache

from sqlalchemy import Select, and_, bindparam, or_, select
from sqlalchemy.orm import joinedload

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.errors import Conflict, DomainError, Gone, NotFound
from clinic.extensions import db
from clinic.reminders import links
from clinic.reminders.models import AnswerKind, AppointmentResponse
from clinic.reminders.planning import appointment_calendar
from clinic.scheduling.models import Appointment, Device


def _appointment_for(purpose: str, token: str) -> tuple[Appointment, links.LinkClaim]:
    claim = links.read_token(purpose, token)
    appointment = db.session.scalar(
        select(Appointment)
        .options(joinedload(Appointment.patient))
        .where(Appointment.id == claim.appointment_id)
    )
    if appointment is None:
        raise NotFound("This appointment no longer exists.")
    return appointment, claim


def link_language(purpose: str, token: str) -> str | None:
    """The patient's language for a link's pages; None when the link names no appointment."""
    try:
        appointment, _claim = _appointment_for(purpose, token)
    except DomainError:
        return None
    return appointment.patient.language


def appointment_for_link(purpose: str, token: str) -> Appointment:
    """The appointment a patient link is about, if the link still applies to it."""
    appointment, claim = _appointment_for(purpose, token)
    if appointment.revision != claim.revision:
        raise Gone(
            "This appointment has been changed since this message was sent; "
            "please use the link in the newest message.",
            code="appointment_changed",
        )
    if not appointment.is_live:
        raise Gone("This appointment has been cancelled.", code="appointment_cancelled")
    return appointment


def _respond(token: str, purpose: str, kind: str, message: str | None) -> AppointmentResponse:
    appointment = appointment_for_link(purpose, token)
    if appointment.starts_at <= clock.now():
        raise Gone("This appointment has already begun.", code="appointment_past")
    already = db.session.scalar(
        select(AppointmentResponse).where(
            AppointmentResponse.appointment_id == appointment.id,
            AppointmentResponse.revision == appointment.revision,
            AppointmentResponse.kind == kind,
        )
    )
    if already is not None:
        if kind == AnswerKind.CONFIRM:
            return already
        raise Conflict(
            "We already have your request for this appointment.", code="already_requested"
        )
    response = AppointmentResponse(
        appointment_id=appointment.id,
        patient_id=appointment.patient_id,
        revision=appointment.revision,
        appointment_starts_at=appointment.starts_at,
        kind=kind,
        message=(message or "").strip()[:1000] or None,
        at=clock.now(),
    )
    db.session.add(response)
    db.session.flush()
    confirmed = kind == AnswerKind.CONFIRM
    record(
        None,
        AuditAction.CONFIRM_ATTENDANCE if confirmed else AuditAction.REQUEST_CHANGE,
        "appointment",
        appointment.id,
        patient_id=appointment.patient_id,
        detail={"source": "patient_link"},
    )
    return response


def confirm_attendance(token: str) -> AppointmentResponse:
    """The patient says they will come (idempotent: a second click changes nothing)."""
    return _respond(token, "confirm", AnswerKind.CONFIRM, None)


def request_change(token: str, message: str | None) -> AppointmentResponse:
    """The patient asks the front desk to change the time; shown on the day board."""
    return _respond(token, "change", AnswerKind.CHANGE, message)


def open_change_requests(
    start: datetime, end: datetime, limit: int = 500, site_id: int | None = None
) -> Sequence[AppointmentResponse]:
    """Change requests not yet handled, for appointments starting in [start, end) (at
    one site with `site_id`)."""
    query = (
        select(AppointmentResponse)
        .join(AppointmentResponse.appointment)
        .join(Appointment.device)
        .options(
            joinedload(AppointmentResponse.appointment).joinedload(Appointment.patient),
            joinedload(AppointmentResponse.appointment)
            .joinedload(Appointment.device)
            .joinedload(Device.site),
        )
        .where(
            AppointmentResponse.kind == AnswerKind.CHANGE,
            AppointmentResponse.handled_at.is_(None),
            AppointmentResponse.appointment_starts_at >= start,
            AppointmentResponse.appointment_starts_at < end,
        )
    )
    if site_id is not None:
        query = query.where(Device.site_id == site_id)
    return db.session.scalars(
        query.order_by(AppointmentResponse.appointment_starts_at).limit(limit)
    ).all()


@dataclass(frozen=True)
class BoardAnswers:
    confirmed: set[int]
    """Appointments the patient confirmed (for their current time)."""
    change_requested: set[int]
    """Appointments with an open request to change the time, asked for [start, end)."""


@cache
def _board_answers_query() -> Select[int, str]:
    """Built once: building it cost more than running it, on every board."""
    instant = AppointmentResponse.__table__.c.appointment_starts_at.type
    return (
        select(AppointmentResponse.appointment_id, AppointmentResponse.kind)
        .join(Appointment, Appointment.id == AppointmentResponse.appointment_id)
        .where(
            AppointmentResponse.appointment_id.in_(bindparam("ids", expanding=True)),
            or_(
                and_(
                    AppointmentResponse.kind == AnswerKind.CONFIRM,
                    AppointmentResponse.revision == Appointment.revision,
                ),
                and_(
                    AppointmentResponse.kind == AnswerKind.CHANGE,
                    AppointmentResponse.handled_at.is_(None),
                    AppointmentResponse.appointment_starts_at >= bindparam("start", type_=instant),
                    AppointmentResponse.appointment_starts_at < bindparam("end", type_=instant),
                ),
            ),
        )
    )


def board_answers(appointment_ids: Sequence[int], start: datetime, end: datetime) -> BoardAnswers:
    """The patients' answers the day board shows on its sessions, in one query."""
    answers = BoardAnswers(set(), set())
    if not appointment_ids:
        return answers
    params = {"ids": list(appointment_ids), "start": start, "end": end}
    rows = db.session.execute(_board_answers_query(), params)
    for appointment_id, kind in rows:
        confirmed = kind == AnswerKind.CONFIRM
        (answers.confirmed if confirmed else answers.change_requested).add(appointment_id)
    return answers


def mark_change_request_handled(response_id: int, *, actor_id: int | None) -> AppointmentResponse:
    """The front desk dealt with it (idempotent: the first handler and time are kept)."""
    response = db.session.get(AppointmentResponse, response_id)
    if response is None or response.kind != AnswerKind.CHANGE:
        raise NotFound("No such change request.")
    if response.handled_at is None:
        response.handled_at = clock.now()
        response.handled_by_id = actor_id
        record(
            actor_id,
            AuditAction.HANDLE_CHANGE_REQUEST,
            "appointment",
            response.appointment_id,
            patient_id=response.patient_id,
        )
    db.session.flush()
    return response


def calendar_for_link(token: str) -> str:
    """The .ics of the appointment as it is now (a cancelled one as CANCELLED)."""
    appointment, _ = _appointment_for("ics", token)
    return appointment_calendar(appointment, now=clock.now())
