"""Pages: prescribe a course, the course page, status changes, and protocol admin."""

from __future__ import annotations

import calendar as month_grids
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from clinic import clock
from clinic.auth.models import User
from clinic.courses import bp, numbers, prescribing, protocols, titration
from clinic.courses.forms import (
    KIND_LABELS,
    STATUS_LABELS,
    CourseEditForm,
    CourseStatusForm,
    PrescribeForm,
    ProtocolForm,
    ProtocolSettingsForm,
)
from clinic.courses.models import Course
from clinic.courses.status import allowed_statuses, set_course_status
from clinic.errors import DomainError
from clinic.extensions import db
from clinic.forms import go_to, show_refusal
from clinic.patients.models import Authorization, Patient
from clinic.permissions import Permission, Role, requires
from clinic.scheduling import booking_service, calendar
from clinic.scheduling.forms import BookCourseForm
from clinic.scheduling.models import Appointment
from clinic.scheduling.patterns import course_pattern
from clinic.scheduling.progress import PENDING_STATUSES, Progress, course_progress
from clinic.scheduling.sites import appointment_tz

MAX_CALENDAR_APPOINTMENTS = 400


def patient_course_summaries(patient_id: int) -> list[numbers.CourseSummary]:
    """For `templates/courses/_patient_courses.html` on the chart (a Jinja global)."""
    return numbers.course_summaries(numbers.patient_courses(patient_id))


@dataclass
class Submission:
    """How a form post went: `saved` with the service's `result`, or the
    `status` to show the form again with (200 first shown, 422/409 refused)."""

    saved: bool
    status: int
    result: Any = None


def _submit(form: FlaskForm, action: Callable[[], Any]) -> Submission:
    """Validate the form and run the one service call, or put the service's refusal on
    the form (rolled back; the request's commit is `clinic.transaction`'s)."""
    if not form.validate_on_submit():
        return Submission(saved=False, status=422 if form.is_submitted() else 200)
    try:
        result = action()
    except DomainError as error:
        show_refusal(form, error)
        return Submission(saved=False, status=409 if error.status == 409 else 422)
    return Submission(saved=True, status=200, result=result)


# --- Prescribing -----------------------------------------------------------------------


def _prescriber_choices() -> list[SelectChoice]:
    users = db.session.scalars(
        select(User)
        .where(User.active.is_(True), User.role.in_((Role.CLINICIAN, Role.ADMIN)))
        .order_by(User.name)
        .limit(200)
    ).all()
    return [SelectChoice(user.id, user.name) for user in users]


@bp.route("/patients/<int:patient_id>/courses/new", methods=["GET", "POST"])
@requires(Permission.PRESCRIBE)
def new(patient_id: int) -> Any:
    patient = db.session.get(Patient, patient_id) or abort(404)
    form = PrescribeForm()
    form.protocol.choices = [
        SelectChoice(p.code, f"{p.name} ({p.default_sessions} sessions, {p.intensity_pct_mt} %MT)")
        for p in protocols.list_protocols()
    ]
    form.prescriber_id.choices = _prescriber_choices()
    if form.prescriber_id.data is None:
        form.prescriber_id.data = current_user.id
    authorizations = db.session.scalars(
        select(Authorization)
        .where(Authorization.patient_id == patient.id)
        .order_by(Authorization.id.desc())
        .limit(20)
    ).all()
    form.authorization_id.choices = [SelectChoice(0, "None")] + [
        SelectChoice(
            a.id,
            f"{a.payer} {a.number or ''} ({a.sessions_authorized} sessions)".replace("  ", " "),
        )
        for a in authorizations
    ]
    earlier = numbers.patient_courses(patient.id)
    form.previous_course_id.choices = [SelectChoice(0, "None")] + [
        SelectChoice(c.id, f"Course {c.id}: {c.protocol.name} ({c.kind}, {c.status})")
        for c in earlier
    ]
    screening = prescribing.latest_screening(patient.id)
    submission = _submit(
        form,
        lambda: prescribing.prescribe_course(
            patient.id,
            form.protocol.data,
            kind=form.kind.data,
            previous_course_id=form.previous_course_id.data or None,
            pattern=form.pattern(),
            planned_sessions=form.planned_sessions.data,
            prescribed_pct_mt=form.prescribed_pct_mt.data,
            pct_mt_reason=form.pct_mt_reason.data,
            target=form.target.data,
            notes=form.notes.data,
            prescriber_id=form.prescriber_id.data,
            authorization=form.new_authorization(),
            authorization_id=form.authorization_id.data or None,
            titration=form.titration.data or None,
            actor_id=current_user.id,
        ),
    )
    if submission.saved:
        flash("Course prescribed.", "success")
        if request.form.get("then_book") and current_user.can(Permission.EDIT_PATIENTS):
            # Straight to the booking form, preset: no stop on the course page.
            return redirect(url_for("courses.book_course", course_id=submission.result.id))
        return redirect(url_for("courses.detail", course_id=submission.result.id))
    return render_template(
        "courses/new.html",
        form=form,
        patient=patient,
        screening=screening,
        chart_url=url_for("patients.chart", patient_id=patient.id),
    ), submission.status


# --- The course page -------------------------------------------------------------------


@dataclass
class CalendarDay:
    day: date
    in_month: bool
    appointments: list[Appointment]


@dataclass
class CalendarMonth:
    title: str
    weeks: list[list[CalendarDay]]


def _calendar_months(appointments: Sequence[Appointment], today: date) -> list[CalendarMonth]:
    """Month grids (Monday first) from the first to the last session, or this month."""
    by_day: dict[date, list[Appointment]] = defaultdict(list)
    for appointment in appointments:
        by_day[appointment.starts_at.astimezone(appointment_tz(appointment)).date()].append(
            appointment
        )
    first = min(by_day, default=today)
    last = max(by_day, default=today)
    months = []
    year, month = first.year, first.month
    grid = month_grids.Calendar(firstweekday=0)
    while (year, month) <= (last.year, last.month):
        weeks = [
            [CalendarDay(day, day.month == month, by_day.get(day, [])) for day in week]
            for week in grid.monthdatescalendar(year, month)
        ]
        months.append(CalendarMonth(date(year, month, 1).strftime("%B %Y"), weeks))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _course_page(course_id: int, *, status_form: CourseStatusForm | None = None) -> Any:
    summary = numbers.read_course(course_id, actor_id=current_user.id)
    course = summary.course
    appointments = numbers.course_appointments(course.id, limit=MAX_CALENDAR_APPOINTMENTS)
    status_form = status_form or CourseStatusForm()
    choices = allowed_statuses(course, is_admin=current_user.role == Role.ADMIN)
    status_form.status.choices = [SelectChoice(status, STATUS_LABELS[status]) for status in choices]
    now = clock.now()
    return render_template(
        "courses/detail.html",
        course=course,
        summary=summary,
        protocol=course.protocol,
        patient=course.patient,
        months=_calendar_months(appointments, clock.today()),
        appointments=appointments,
        held_sessions=[
            a for a in appointments if a.status in PENDING_STATUSES and a.starts_at > now
        ]
        if course.status == "on_hold"
        else [],
        status_form=status_form,
        status_labels=STATUS_LABELS,
        kind_labels=KIND_LABELS,
        pattern=course_pattern(course).describe(),
        titration_text=titration.describe(course),
        book_url=url_for("courses.book_course", course_id=course.id)
        if course.status == "active" and current_user.can(Permission.EDIT_PATIENTS)
        else None,
        chart_url=url_for("patients.chart", patient_id=course.patient_id),
    )


@bp.route("/courses/<int:course_id>")
@requires(Permission.READ)
def detail(course_id: int) -> Any:
    return _course_page(course_id)


@bp.route("/courses/<int:course_id>/status", methods=["POST"])
@requires(Permission.PRESCRIBE)
def change_status(course_id: int) -> Any:
    course = numbers.get_course(course_id)
    form = CourseStatusForm()
    submission = _submit(
        form,
        lambda: set_course_status(
            course, form.status.data, form.reason.data, actor_id=current_user.id
        ),
    )
    if submission.saved:
        flash(f"The course is now {STATUS_LABELS[course.status].lower()}.", "success")
        return redirect(url_for("courses.detail", course_id=course.id))
    return _course_page(course_id, status_form=form), submission.status


@bp.route("/courses/<int:course_id>/edit", methods=["GET", "POST"])
@requires(Permission.PRESCRIBE)
def edit(course_id: int) -> Any:
    course = numbers.get_course(course_id)
    form = CourseEditForm(obj=course)
    submission = _submit(
        form,
        lambda: prescribing.update_course(
            course,
            {name: field.data for name, field in form._fields.items() if name != "csrf_token"},
            actor_id=current_user.id,
        ),
    )
    if submission.saved:
        flash("Course updated.", "success")
        return redirect(url_for("courses.detail", course_id=course.id))
    return render_template("courses/edit.html", form=form, course=course), submission.status


# --- Booking the course's sessions ----------------------------------------------------


@bp.route("/courses/<int:course_id>/book", methods=["GET", "POST"])
@requires(Permission.EDIT_PATIENTS)
def book_course(course_id: int) -> Any:
    """Preview the booking of every remaining session, then book it as previewed."""
    course = numbers.get_course(course_id)
    progress = course_progress([course.id])[course.id]
    form = BookCourseForm()
    form.device_id.choices = [SelectChoice(0, "Any free chair")] + [
        SelectChoice(device.id, device.name) for device in calendar.list_devices(active_only=True)
    ]
    plan, status = None, 200
    if request.method == "GET":
        _booking_defaults(form, course, progress)
    elif form.validate_on_submit():
        arguments = {
            "start_date": form.start_date.data,
            "local_time": form.time.data,
            "device_id": form.device_id.data or None,
        }
        try:
            if form.confirm.data and form.previewed.data == form.choices_key():
                plan = booking_service.preview_course(course, **arguments)
                if _unconfirmed_back_entry(plan, form):
                    form.back_entry.errors = [
                        "Some sessions start in the past. Tick this to confirm they are a "
                        "back-entry of sessions that already happened."
                    ]
                    return _book_page(course, progress, form, plan, 422)
                booked = booking_service.schedule_course(
                    course, actor_id=current_user.id, **arguments
                )
                flash(f"Booked {len(booked)} sessions.", "success")
                first = clock.to_local(booked[0].starts_at).date()
                return go_to(url_for("web.board", date=first))
            if form.confirm.data:
                form.form_errors.append("The choices changed: check this preview, then book.")
            plan = booking_service.preview_course(course, **arguments)
            form.previewed.data = form.choices_key()
        except DomainError as error:
            show_refusal(form, error)
            status = error.status
    else:
        status = 422
    return _book_page(course, progress, form, plan, status)


def _booking_defaults(form: BookCourseForm, course: Course, progress: Progress) -> None:
    """What the front desk would type: tomorrow, or the day after the last booked session,
    at that session's time (else the site's earliest opening hour)."""
    start = clock.today() + timedelta(days=1)
    if progress.last_live_at is not None:
        last = progress.last_live_at.astimezone(calendar.patient_tz(course.patient))
        start = max(start, last.date() + timedelta(days=1))
        form.time.data = last.time().replace(tzinfo=None)
    else:
        opens = [hours.opens_at for hours in calendar.opening_hours().values()]
        form.time.data = min(opens) if opens else None
    form.start_date.data = start


def _unconfirmed_back_entry(plan: booking_service.CoursePlan, form: BookCourseForm) -> bool:
    """A plan that starts in the past needs the user's explicit back-entry tick."""
    now = clock.now()
    return not form.back_entry.data and any(s.starts_at < now for s in plan.sessions)


def _book_page(
    course: Course,
    progress: Progress,
    form: BookCourseForm,
    plan: booking_service.CoursePlan | None,
    status: int,
) -> Any:
    now = clock.now()
    return render_template(
        "courses/book.html",
        course=course,
        progress=progress,
        unbooked=progress.unbooked(course.planned_sessions),
        form=form,
        plan=plan,
        in_past=bool(plan and any(s.starts_at < now for s in plan.sessions)),
        device_names={device.id: device.name for device in calendar.list_devices()},
    ), status


# --- Protocol administration -----------------------------------------------------------


@bp.route("/admin/protocols")
@requires(Permission.ADMINISTER)
def admin_protocols() -> Any:
    return render_template(
        "courses/admin_protocols.html",
        protocols=protocols.list_protocols(include_inactive=True),
    )


@bp.route("/admin/protocols/new", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin_protocol_new() -> Any:
    form = ProtocolForm()
    submission = _submit(
        form, lambda: protocols.create_protocol(form.values(), actor_id=current_user.id)
    )
    if submission.saved:
        flash(f"Protocol {submission.result.code} added.", "success")
        return redirect(url_for("courses.admin_protocols"))
    return render_template(
        "courses/admin_protocol_form.html", form=form, protocol=None
    ), submission.status


@bp.route("/admin/protocols/<code>", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin_protocol_edit(code: str) -> Any:
    protocol = protocols.get_protocol(code)
    form_class = ProtocolSettingsForm if protocol.is_preset else ProtocolForm
    form = form_class(obj=protocol)
    if not protocol.is_preset:
        form.code.render_kw = {"readonly": True}
    submission = _submit(
        form,
        lambda: protocols.update_protocol(
            protocol, {**form.values(), "code": protocol.code}, actor_id=current_user.id
        ),
    )
    if submission.saved:
        flash(f"Protocol {protocol.code} saved.", "success")
        return redirect(url_for("courses.admin_protocols"))
    return render_template(
        "courses/admin_protocol_form.html", form=form, protocol=protocol
    ), submission.status
