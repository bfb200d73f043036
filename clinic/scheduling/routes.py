"""Pages: moving, cancelling a session, and the admin pages of chairs and the calendar.

Thin: parse the form, call one service, redirect (the request's single commit is
`clinic.transaction`'s). The services are the same the JSON API calls. The day board
and the week view compose other features too: they live in `clinic.web`.
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
from clinic.forms import flash_refusal, show_refusal
from clinic.permissions import Permission, Role, requires
from clinic.scheduling import bp, calendar, lifecycle, schedule, sites, technicians
from clinic.scheduling.booking_service import move_appointment
from clinic.scheduling.forms import (
    ClosureForm,
    DeviceForm,
    HoursForm,
    MaintenanceForm,
    MoveForm,
    ReasonForm,
)
from clinic.scheduling.site_routes import site_arg


def day_arg(name: str = "date") -> date:
    """A date query argument (today when absent); 400 when it is not a plausible date."""
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


def _local(value: datetime) -> datetime:
    """A naive form datetime is the clinic's wall clock."""
    return value.replace(tzinfo=clock.clinic_tz())


# -- moving, cancelling ----------------------------------------------------------------


def _technician_choices() -> list[SelectChoice]:
    users = db.session.scalars(
        select(User)
        .where(User.role.in_((Role.TECHNICIAN, Role.CLINICIAN)), User.active.is_(True))
        .order_by(User.name)
    )
    return [SelectChoice(0, "Not assigned")] + [SelectChoice(user.id, user.name) for user in users]


@bp.route("/schedule/appointments/<int:appointment_id>/move", methods=["GET", "POST"])
@requires(Permission.EDIT_PATIENTS)
def move(appointment_id: int) -> Any:
    appointment = schedule.get_appointment(appointment_id)
    sites.require_appointment_site(current_user.id, appointment)
    tz = sites.appointment_tz(appointment)  # free starts are on the site's clock
    day = day_arg() if request.args.get("date") else appointment.starts_at.astimezone(tz).date()
    form = MoveForm()
    free = schedule.free_starts(appointment.id, day)
    names = {device.id: device.name for device in calendar.list_devices()}
    form.slot.choices = [SelectChoice("", "Keep the current time and chair")] + [
        SelectChoice(
            f"{place.device_id}|{place.starts_at.isoformat()}",
            f"{place.starts_at.astimezone(tz):%H:%M} on {names.get(place.device_id, '?')}",
        )
        for place in free
    ]
    form.technician_id.choices = _technician_choices()
    if request.method == "GET":
        form.technician_id.data = appointment.technician_id or 0
    status = 422 if form.is_submitted() else 200
    if form.validate_on_submit():
        starts_at, device_id = None, None
        if form.slot.data:
            device_part, _, start_part = form.slot.data.partition("|")
            device_id, starts_at = int(device_part), datetime.fromisoformat(start_part)
        try:
            moved = move_appointment(
                appointment.id,
                starts_at=starts_at,
                device_id=device_id,
                technician_id=form.technician_id.data or None,
                assign_technician=True,
                actor_id=current_user.id,
            )
        except DomainError as error:
            # A busy or off-duty technician, a slot just taken: said on the form.
            show_refusal(form, error)
            status = 409 if error.status == 409 else 422
        else:
            when = moved.starts_at.astimezone(sites.appointment_tz(moved))
            flash(f"Moved to {when:%a %d %b %H:%M} on {moved.device.name}.", "success")
            return redirect(url_for("web.board", date=when.date(), site_id=moved.device.site_id))
    return render_template(
        "scheduling/move.html",
        appointment=schedule.get_appointment(appointment_id),
        form=form,
        reason_form=ReasonForm(),
        day=day,
        free_count=len(free),
    ), status


@bp.route("/schedule/appointments/<int:appointment_id>/cancel", methods=["POST"])
@requires(Permission.EDIT_PATIENTS)
def cancel(appointment_id: int) -> Any:
    form = ReasonForm()
    if not form.validate_on_submit():
        flash("The reason is too long.", "error")
        return redirect(url_for("scheduling.move", appointment_id=appointment_id))
    end = lifecycle.record_no_show if form.no_show.data else lifecycle.cancel_appointment
    change = end(appointment_id, reason=form.reason.data, actor_id=current_user.id)
    what = "Marked as a no-show" if form.no_show.data else "Cancelled"
    if change.makeup is not None:
        when = change.makeup.starts_at.astimezone(sites.appointment_tz(change.makeup))
        pushed = (
            f" {len(change.moved)} later session(s) moved a week later to keep the taper."
            if change.moved
            else ""
        )
        flash(f"{what}; make-up session booked for {when:%a %d %b %H:%M}.{pushed}", "success")
    else:
        flash(f"{what}; no make-up session could be booked (see alerts).", "warning")
    ended = change.appointment
    day = ended.starts_at.astimezone(sites.appointment_tz(ended)).date()
    return redirect(url_for("web.board", date=day, site_id=ended.device.site_id))


# -- admin: devices and the clinic calendar --------------------------------------------


@bp.route("/admin/devices", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin_devices() -> Any:
    form = DeviceForm()
    form.site_id.choices = [SelectChoice(site.id, site.name) for site in sites.list_sites()]
    if form.validate_on_submit():
        device = calendar.create_device(
            name=form.name.data,
            model=form.model.data,
            room=form.room.data,
            site_id=form.site_id.data or None,
            actor_id=current_user.id,
        )
        flash(f"Added {device.name}.", "success")
        return redirect(url_for("scheduling.admin_devices"))
    return render_template(
        "scheduling/admin_devices.html",
        form=form,
        devices=calendar.list_devices(),
        maintenance=calendar.list_maintenance(since=clock.now()),
        maintenance_form=MaintenanceForm(),
    ), (422 if form.errors else 200)


@bp.route("/admin/devices/<int:device_id>/active", methods=["POST"])
@requires(Permission.ADMINISTER)
def toggle_device(device_id: int) -> Any:
    device = calendar.get_device(device_id)
    calendar.update_device(device.id, active=not device.active, actor_id=current_user.id)
    flash(f"{device.name} is {'in service' if device.active else 'out of service'}.", "success")
    return redirect(url_for("scheduling.admin_devices"))


@bp.route("/admin/devices/<int:device_id>/maintenance", methods=["POST"])
@requires(Permission.ADMINISTER)
def add_maintenance(device_id: int) -> Any:
    form = MaintenanceForm()
    if form.validate_on_submit():
        calendar.add_maintenance(
            device_id,
            starts_at=_local(form.starts_at.data),
            ends_at=_local(form.ends_at.data),
            reason=form.reason.data,
            actor_id=current_user.id,
        )
        flash("Maintenance window added.", "success")
    else:
        flash("Give a start and an end after it.", "error")
    return redirect(url_for("scheduling.admin_devices"))


@bp.route("/admin/devices/<int:device_id>/maintenance/<int:window_id>/delete", methods=["POST"])
@requires(Permission.ADMINISTER)
def delete_maintenance(device_id: int, window_id: int) -> Any:
    calendar.delete_maintenance(device_id, window_id, actor_id=current_user.id)
    flash("Maintenance window removed.", "success")
    return redirect(url_for("scheduling.admin_devices"))


@bp.route("/admin/calendar", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin_calendar() -> Any:
    """One site's hours and closed days (public holidays included), `?site_id=`."""
    site = sites.get_site(site_arg())
    form = HoursForm()
    if request.method == "GET":
        hours = calendar.opening_hours(site.id)
        for day, (_name, opens, closes) in enumerate(form.day_fields()):
            if day in hours:
                opens.data, closes.data = hours[day].opens_at, hours[day].closes_at
    elif form.validate_on_submit():
        for day, (_name, opens, closes) in enumerate(form.day_fields()):
            calendar.set_opening_hours(
                day,
                opens_at=opens.data,
                closes_at=closes.data,
                site_id=site.id,
                actor_id=current_user.id,
            )
        flash("Opening hours saved.", "success")
        return redirect(url_for("scheduling.admin_calendar", site_id=site.id))
    return render_template(
        "scheduling/admin_calendar.html",
        form=form,
        site=site,
        sites=sites.list_sites(),
        closure_form=ClosureForm(),
        closures=calendar.list_closures(
            since=clock.today(sites.site_tz(site)) - timedelta(days=30), site_id=site.id
        ),
    ), (422 if form.errors else 200)


@bp.route("/admin/technicians")
@requires(Permission.ADMINISTER)
def admin_technicians() -> Any:
    people = technicians.list_technicians()
    return render_template(
        "scheduling/admin_technicians.html",
        technicians=people,
        hours=technicians.working_hours([person.id for person in people]),
        weekdays=technicians.WEEKDAYS,
    )


@bp.route("/admin/technicians/<int:user_id>/hours", methods=["GET", "POST"])
@requires(Permission.ADMINISTER)
def admin_technician_hours(user_id: int) -> Any:
    """The same weekly form as the clinic's hours: a weekday left empty is a day off."""
    technician = technicians.get_technician(user_id)
    form = HoursForm()
    if request.method == "GET":
        hours = technicians.working_hours([technician.id])[technician.id]
        for day, (_name, starts, ends) in enumerate(form.day_fields()):
            if day in hours:
                starts.data, ends.data = hours[day].starts_at, hours[day].ends_at
    elif form.validate_on_submit():
        for day, (_name, starts, ends) in enumerate(form.day_fields()):
            technicians.set_working_hours(
                technician.id,
                day,
                starts_at=starts.data,
                ends_at=ends.data,
                actor_id=current_user.id,
            )
        flash(f"Working hours of {technician.name} saved.", "success")
        return redirect(url_for("scheduling.admin_technicians"))
    return render_template(
        "scheduling/admin_technician_hours.html", form=form, technician=technician
    ), (422 if form.errors else 200)


@bp.route("/admin/calendar/closures", methods=["POST"])
@requires(Permission.ADMINISTER)
def add_closure() -> Any:
    site_id = site_arg()
    form = ClosureForm()
    if form.validate_on_submit():
        try:
            calendar.add_closure(
                day=form.date.data,
                reason=form.reason.data,
                site_id=site_id,
                actor_id=current_user.id,
            )
        except DomainError as refusal:
            flash_refusal(refusal)
        else:
            flash(f"The clinic is closed on {form.date.data:%a %d %b %Y}.", "success")
    else:
        flash("Give a date for the closure.", "error")
    return redirect(url_for("scheduling.admin_calendar", site_id=site_id))


@bp.route("/admin/calendar/open", methods=["POST"])
@requires(Permission.ADMINISTER)
def open_day() -> Any:
    """Open the site on a closed day: a closure goes, a public holiday is overridden."""
    site_id = site_arg()
    day = day_arg()
    calendar.open_day(day=day, site_id=site_id, actor_id=current_user.id)
    flash(f"The clinic is open on {day:%a %d %b %Y}.", "success")
    return redirect(url_for("scheduling.admin_calendar", site_id=site_id))
