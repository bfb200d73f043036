"""Pages: the day board, the week view, moving a session, booking a course, admin pages.

Thin: parse the form, call one service, commit, redirect. The services are the same
the JSON API calls.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from wtforms.fields.choices import SelectChoice

from clinic import clock
from clinic.auth.models import User
from clinic.errors import DomainError
from clinic.extensions import db
from clinic.outcomes.cadence import due_counts_for_day
from clinic.permissions import Permission, requires
from clinic.reminders.answers import change_requests_for_day, confirmations_for
from clinic.scheduling import bp, services
from clinic.scheduling.forms import (
    BookCourseForm,
    ClosureForm,
    DeviceForm,
    HoursForm,
    MaintenanceForm,
    MoveForm,
    ReasonForm,
)


def _day_arg(name: str = "date") -> date:
    raw = request.args.get(name)
    if not raw:
        return clock.today()
    try:
        day = date.fromisoformat(raw)
    except ValueError:
        abort(400, f"`{name}` must be a date as YYYY-MM-DD.")
    if not 2000 <= day.year < 2100:
        abort(400, "Dates run from 2000 to 2099.")
    return day


def _only_technician() -> int | None:
    """Whose sessions the board and the week show: technicians see their own unless they
    ask for everyone's (`mine=0`); None shows everyone's."""
    default = "1" if current_user.role == "technician" else "0"
    return current_user.id if request.args.get("mine", default) == "1" else None


def _local(value: datetime) -> datetime:
    """A naive form datetime is the clinic's wall clock."""
    return value.replace(tzinfo=clock.clinic_tz())


# -- the board -------------------------------------------------------------------------


@bp.route("/schedule")
@requires(Permission.READ)
def board() -> Any:
    day = _day_arg()
    technician_id = _only_technician()
    layout = services.day_board(day, technician_id=technician_id)
    return render_template(
        "scheduling/board.html",
        board=layout,
        day=day,
        mine=technician_id is not None,
        previous_day=day - timedelta(days=1),
        next_day=day + timedelta(days=1),
        # What the front desk must act on, shown on each block: questionnaires due today,
        # a patient's request to change the time, and confirmations.
        questionnaires_due=due_counts_for_day(day),
        change_requested={r.appointment_id for r in change_requests_for_day(day)},
        confirmed=confirmations_for(layout.appointment_ids),
        is_today=day == clock.today(),
    )


@bp.route("/schedule/week")
@requires(Permission.READ)
def week() -> Any:
    day = _day_arg()
    monday = day - timedelta(days=day.weekday())
    technician_id = _only_technician()
    return render_template(
        "scheduling/week.html",
        view=services.week_view(monday, technician_id=technician_id),
        monday=monday,
        mine=technician_id is not None,
        previous_week=monday - timedelta(days=7),
        next_week=monday + timedelta(days=7),
    )


def _technician_choices() -> list[SelectChoice]:
    users = db.session.scalars(
        select(User)
        .where(User.role.in_(("technician", "clinician")), User.active.is_(True))
        .order_by(User.name)
    )
    return [SelectChoice(0, "Not assigned")] + [SelectChoice(user.id, user.name) for user in users]


@bp.route("/schedule/appointments/<int:appointment_id>/move", methods=["GET", "POST"])
@requires(Permission.EDIT_PATIENTS)
def move(appointment_id: int) -> Any:
    appointment = services.get_appointment(appointment_id)
    day = _day_arg() if request.args.get("date") else clock.to_local(appointment.starts_at).date()
    form = MoveForm()
    free = services.free_starts(appointment.id, day)
    names = {device.id: device.name for device in services.list_devices()}
    form.slot.choices = [SelectChoice("", "Keep the current time and chair")] + [
        SelectChoice(
            f"{place.device_id}|{place.starts_at.isoformat()}",
            f"{clock.to_local(place.starts_at):%H:%M} on {names.get(place.device_id, '?')}",
        )
        for place in free
    ]
    form.technician_id.choices = _technician_choices()
    if request.method == "GET":
        form.technician_id.data = appointment.technician_id or 0
    if form.validate_on_submit():
        starts_at, device_id = None, None
        if form.slot.data:
            device_part, _, start_part = form.slot.data.partition("|")
            device_id, starts_at = int(device_part), datetime.fromisoformat(start_part)
        moved = services.move_appointment(
            appointment.id,
            starts_at=starts_at,
            device_id=device_id,
            technician_id=form.technician_id.data or None,
            assign_technician=True,
            actor_id=current_user.id,
        )
        db.session.commit()
        flash(
            f"Moved to {clock.to_local(moved.starts_at):%a %d %b %H:%M} on {moved.device.name}.",
            "success",
        )
        return redirect(url_for("scheduling.board", date=clock.to_local(moved.starts_at).date()))
    return render_template(
        "scheduling/move.html",
        appointment=appointment,
        form=form,
        reason_form=ReasonForm(),
        day=day,
        free_count=len(free),
    ), (422 if form.errors else 200)


@bp.route("/schedule/appointments/<int:appointment_id>/cancel", methods=["POST"])
@requires(Permission.EDIT_PATIENTS)
def cancel(appointment_id: int) -> Any:
    form = ReasonForm()
    if not form.validate_on_submit():
        flash("The reason is too long.", "error")
        return redirect(url_for("scheduling.move", appointment_id=appointment_id))
    end = services.record_no_show if form.no_show.data else services.cancel_appointment
    change = end(appointment_id, reason=form.reason.data, actor_id=current_user.id)
    db.session.commit()
    what = "Marked as a no-show" if form.no_show.data else "Cancelled"
    if change.makeup is not None:
        when = clock.to_local(change.makeup.starts_at)
        flash(f"{what}; make-up session booked for {when:%a %d %b %H:%M}.", "success")
    else:
        flash(f"{what}; no make-up session could be booked (see alerts).", "warning")
    day = clock.to_local(change.appointment.starts_at).date()
    return redirect(url_for("scheduling.board", date=day))


# -- booking a course ------------------------------------------------------------------


@bp.route("/courses/<int:course_id>/book", methods=["GET", "POST"])
@requires(Permission.EDIT_PATIENTS)
def book_course(course_id: int) -> Any:
    course = services.get_course(course_id)
    counts = services.course_counts(course.id)
    form = BookCourseForm()
    form.device_id.choices = [SelectChoice(0, "Any free chair")] + [
        SelectChoice(device.id, device.name) for device in services.list_devices(active_only=True)
    ]
    plan, status = None, 200
    if request.method == "GET":
        form.start_date.data = clock.today() + timedelta(days=1)
    elif form.validate_on_submit():
        arguments = {
            "start_date": form.start_date.data,
            "local_time": form.time.data,
            "device_id": form.device_id.data or None,
        }
        try:
            if form.confirm.data and form.previewed.data == form.choices_key():
                booked = services.schedule_course(course.id, actor_id=current_user.id, **arguments)
                db.session.commit()
                flash(f"Booked {len(booked)} sessions.", "success")
                first = clock.to_local(booked[0].starts_at).date()
                return redirect(url_for("scheduling.board", date=first))
            if form.confirm.data:
                form.form_errors.append("The choices changed: check this preview, then book.")
            plan = services.preview_course(course.id, **arguments)
            form.previewed.data = form.choices_key()
        except DomainError as error:
            db.session.rollback()
            form.form_errors.append(error.message)
            status = error.status
    else:
        status = 422
    return render_template(
        "scheduling/book_course.html",
        course=course,
        counts=counts,
        form=form,
        plan=plan,
        device_names={device.id: device.name for device in services.list_devices()},
    ), status


# -- admin: devices and the clinic calendar --------------------------------------------


@bp.route("/admin/devices", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin_devices() -> Any:
    form = DeviceForm()
    if form.validate_on_submit():
        device = services.create_device(
            name=form.name.data,
            model=form.model.data,
            room=form.room.data,
            actor_id=current_user.id,
        )
        db.session.commit()
        flash(f"Added {device.name}.", "success")
        return redirect(url_for("scheduling.admin_devices"))
    return render_template(
        "scheduling/admin_devices.html",
        form=form,
        devices=services.list_devices(),
        maintenance=services.list_maintenance(since=clock.now()),
        maintenance_form=MaintenanceForm(),
    ), (422 if form.errors else 200)


@bp.route("/admin/devices/<int:device_id>/active", methods=["POST"])
@requires(Permission.ADMINISTER)
def toggle_device(device_id: int) -> Any:
    device = services.get_device(device_id)
    services.update_device(device.id, active=not device.active, actor_id=current_user.id)
    db.session.commit()
    flash(f"{device.name} is {'in service' if device.active else 'out of service'}.", "success")
    return redirect(url_for("scheduling.admin_devices"))


@bp.route("/admin/devices/<int:device_id>/maintenance", methods=["POST"])
@requires(Permission.ADMINISTER)
def add_maintenance(device_id: int) -> Any:
    form = MaintenanceForm()
    if form.validate_on_submit():
        services.add_maintenance(
            device_id,
            starts_at=_local(form.starts_at.data),
            ends_at=_local(form.ends_at.data),
            reason=form.reason.data,
            actor_id=current_user.id,
        )
        db.session.commit()
        flash("Maintenance window added.", "success")
    else:
        flash("Give a start and an end after it.", "error")
    return redirect(url_for("scheduling.admin_devices"))


@bp.route("/admin/devices/<int:device_id>/maintenance/<int:window_id>/delete", methods=["POST"])
@requires(Permission.ADMINISTER)
def delete_maintenance(device_id: int, window_id: int) -> Any:
    services.delete_maintenance(device_id, window_id, actor_id=current_user.id)
    db.session.commit()
    flash("Maintenance window removed.", "success")
    return redirect(url_for("scheduling.admin_devices"))


@bp.route("/admin/calendar", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin_calendar() -> Any:
    form = HoursForm()
    if request.method == "GET":
        hours = services.opening_hours()
        for day, (_name, opens, closes) in enumerate(form.day_fields()):
            if day in hours:
                opens.data, closes.data = hours[day].opens_at, hours[day].closes_at
    elif form.validate_on_submit():
        for day, (_name, opens, closes) in enumerate(form.day_fields()):
            services.set_opening_hours(
                day, opens_at=opens.data, closes_at=closes.data, actor_id=current_user.id
            )
        db.session.commit()
        flash("Opening hours saved.", "success")
        return redirect(url_for("scheduling.admin_calendar"))
    return render_template(
        "scheduling/admin_calendar.html",
        form=form,
        closure_form=ClosureForm(),
        closures=services.list_closures(since=clock.today() - timedelta(days=30)),
    ), (422 if form.errors else 200)


@bp.route("/admin/calendar/closures", methods=["POST"])
@requires(Permission.ADMINISTER)
def add_closure() -> Any:
    form = ClosureForm()
    if form.validate_on_submit():
        services.add_closure(day=form.date.data, reason=form.reason.data, actor_id=current_user.id)
        db.session.commit()
        flash(f"The clinic is closed on {form.date.data:%a %d %b %Y}.", "success")
    else:
        flash("Give a date for the closure.", "error")
    return redirect(url_for("scheduling.admin_calendar"))


@bp.route("/admin/calendar/closures/<int:closure_id>/delete", methods=["POST"])
@requires(Permission.ADMINISTER)
def delete_closure(closure_id: int) -> Any:
    services.delete_closure(closure_id, actor_id=current_user.id)
    db.session.commit()
    flash("Closure removed.", "success")
    return redirect(url_for("scheduling.admin_calendar"))
