"""/api/v1: devices, the clinic calendar and appointments (booking a course's sessions is
asked through the courses API, which knows the course)."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import jsonify
from flask_login import current_user

from clinic.api.blueprint import Blueprint
from clinic.api.fields import LocalTime
from clinic.api.openapi import declares
from clinic.api.schemas import id_filter, limit_param, list_schema, plain_dumper
from clinic.errors import Invalid
from clinic.permissions import Permission, requires
from clinic.scheduling import calendar, lifecycle, schedule, sites
from clinic.scheduling.api_fields import (
    date_field,
    id_field,
    instant_field,
    site_id_field,
)
from clinic.scheduling.booking_service import move_appointment as move
from clinic.scheduling.models import AppointmentKind, ClosureSource

blp = Blueprint(
    "scheduling_api", __name__, description="Sites, devices, clinic calendar, appointments"
)

MAX_LIST_DAYS = 93


# -- sites -----------------------------------------------------------------------------


class SiteSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=120))
    timezone = ma.fields.String(
        required=True,
        metadata={"description": "IANA time zone of the site's hours", "example": "Europe/Paris"},
    )
    holidays = ma.fields.String(
        load_default="none",
        metadata={
            "description": "A country or subdivision code of the `holidays` library (e.g. "
            "`US`, `US-CA`) whose public holidays close the site, or `none`.",
            "example": "US-CA",
        },
    )


class SitePatchSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=120))
    timezone = ma.fields.String()
    holidays = ma.fields.String()


SiteListSchema = list_schema(SiteSchema)


class SiteQuerySchema(ma.Schema):
    site_id = site_id_field()


@blp.route("/sites")
@requires(Permission.READ)
@blp.response(200, SiteListSchema)
def list_sites() -> Any:
    """Every site of the clinic group, the first (the default one) first."""
    return {"items": sites.list_sites()}


@blp.route("/sites", methods=["POST"])
@declares(409, codes=["site_exists"])
@requires(Permission.ADMINISTER)
@blp.arguments(SiteSchema)
@blp.response(201, SiteSchema)
def create_site(args: dict[str, Any]) -> Any:
    """Add a site (admin); 422 for an unknown time zone or holidays code, 409
    `site_exists` for a name in use. A new site has no hours until they are set."""
    return sites.create_site(actor_id=current_user.id, **args)


@blp.route("/sites/<int:site_id>")
@requires(Permission.READ)
@blp.response(200, SiteSchema)
def get_site(site_id: int) -> Any:
    return sites.get_site(site_id)


@blp.route("/sites/<int:site_id>", methods=["PATCH"])
@declares(409, codes=["site_exists"])
@requires(Permission.ADMINISTER)
@blp.arguments(SitePatchSchema)
@blp.response(200, SiteSchema)
def update_site(args: dict[str, Any], site_id: int) -> Any:
    """Rename a site, change its time zone or its public holidays (admin)."""
    return sites.update_site(site_id, actor_id=current_user.id, **args)


# -- devices ---------------------------------------------------------------------------


class DeviceSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    site_id = site_id_field()
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    model = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=120))
    room = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=80))
    active = ma.fields.Boolean(dump_only=True)


class DevicePatchSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=80))
    model = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=120))
    room = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=80))
    active = ma.fields.Boolean()
    site_id = site_id_field()


DeviceListSchema = list_schema(DeviceSchema)


class MaintenanceSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    device_id = ma.fields.Integer(dump_only=True)
    starts_at = instant_field(required=True)
    ends_at = instant_field(required=True)
    reason = ma.fields.String(
        allow_none=True, load_default=None, validate=ma.validate.Length(max=200)
    )


MaintenanceListSchema = list_schema(MaintenanceSchema)


@blp.route("/devices")
@requires(Permission.READ)
@blp.response(200, DeviceListSchema)
@blp.arguments(SiteQuerySchema, location="query")
def list_devices(args: dict[str, Any]) -> Any:
    """Every device (chair), active or not, by name; of one site with `site_id`, and
    only of their sites for staff limited to some."""
    visible = sites.visible_sites(current_user.id, args.get("site_id"))
    return {"items": calendar.list_devices(site_ids=visible)}


@blp.route("/devices", methods=["POST"])
@declares(409, codes=["device_exists"])
@requires(Permission.ADMINISTER)
@blp.arguments(DeviceSchema, example={"name": "Chair 1", "model": "NeuroStar", "room": "2"})
@blp.response(201, DeviceSchema)
def create_device(args: dict[str, Any]) -> Any:
    """Add a device (admin). 409 `device_exists` when the name is taken."""
    device = calendar.create_device(
        name=args["name"],
        model=args.get("model"),
        room=args.get("room"),
        site_id=args.get("site_id"),
        actor_id=current_user.id,
    )
    return device


@blp.route("/devices/<int:device_id>")
@requires(Permission.READ)
@blp.response(200, DeviceSchema)
def get_device(device_id: int) -> Any:
    """One device."""
    return calendar.get_device(device_id)


@blp.route("/devices/<int:device_id>", methods=["PATCH"])
@declares(409, codes=["device_exists"])
@requires(Permission.ADMINISTER)
@blp.arguments(DevicePatchSchema)
@blp.response(200, DeviceSchema)
def update_device(args: dict[str, Any], device_id: int) -> Any:
    """Rename a device or take it out of service (`active: false`; admin)."""
    device = calendar.update_device(device_id, actor_id=current_user.id, **args)
    return device


@blp.route("/devices/<int:device_id>/maintenance")
@requires(Permission.READ)
@blp.response(200, MaintenanceListSchema)
def list_maintenance(device_id: int) -> Any:
    """A device's maintenance windows, oldest first."""
    calendar.get_device(device_id)
    return {"items": calendar.list_maintenance(device_id=device_id)}


@blp.route("/devices/<int:device_id>/maintenance", methods=["POST"])
@requires(Permission.ADMINISTER)
@blp.arguments(MaintenanceSchema)
@blp.response(201, MaintenanceSchema)
def add_maintenance(args: dict[str, Any], device_id: int) -> Any:
    """Block a device for maintenance (admin); booking will not use it then."""
    window = calendar.add_maintenance(device_id, actor_id=current_user.id, **args)
    return window


@blp.route("/devices/<int:device_id>/maintenance/<int:window_id>", methods=["DELETE"])
@requires(Permission.ADMINISTER)
@blp.response(204)
def delete_maintenance(device_id: int, window_id: int) -> Any:
    """Remove a maintenance window (admin)."""
    calendar.delete_maintenance(device_id, window_id, actor_id=current_user.id)
    return None


# -- clinic hours and closures ---------------------------------------------------------


class HoursSchema(ma.Schema):
    weekday = ma.fields.Integer(dump_only=True)
    opens_at = LocalTime(required=True)
    closes_at = LocalTime(required=True)


HoursListSchema = list_schema(HoursSchema)


class HoursPutSchema(HoursSchema):
    site_id = site_id_field(load_only=True)


class ClosureSchema(ma.Schema):
    id = ma.fields.Integer(
        dump_only=True,
        allow_none=True,
        metadata={"description": "A manual closure's id (for DELETE); null for a holiday."},
    )
    site_id = site_id_field()
    date = date_field(required=True)
    reason = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))
    source = ma.fields.String(
        dump_only=True,
        metadata={
            "description": "`manual` (an admin closed the day) or `holiday` (a public "
            "holiday of the site's `holidays` code, observed days included)",
            "enum": [str(source) for source in ClosureSource],
        },
    )


ClosureListSchema = list_schema(ClosureSchema)


class ClosureQuerySchema(SiteQuerySchema):
    since = date_field(data_key="from")
    until = date_field(data_key="to")


@blp.route("/clinic/hours")
@requires(Permission.READ)
@blp.arguments(SiteQuerySchema, location="query")
@blp.response(200, HoursListSchema)
def list_hours(args: dict[str, Any]) -> Any:
    """A site's opening hours per weekday (0 = Monday), `HH:MM` on the site's clock; a
    missing weekday is closed."""
    hours = calendar.opening_hours(args.get("site_id"))
    return {"items": [hours[day] for day in sorted(hours)]}


@blp.route("/clinic/hours/<int:weekday>", methods=["PUT"])
@requires(Permission.ADMINISTER)
@blp.arguments(HoursPutSchema, example={"opens_at": "08:00", "closes_at": "18:00"})
@blp.arguments(SiteQuerySchema, location="query")
@blp.response(200, HoursSchema)
def set_hours(args: dict[str, Any], query: dict[str, Any], weekday: int) -> Any:
    """Set one weekday's opening hours, `HH:MM` in the site's time zone (admin); the site
    may be named in the body or the query."""
    return calendar.set_opening_hours(weekday, actor_id=current_user.id, **(query | args))


@blp.route("/clinic/hours/<int:weekday>", methods=["DELETE"])
@requires(Permission.ADMINISTER)
@blp.arguments(SiteQuerySchema, location="query")
@blp.response(204)
def close_weekday(args: dict[str, Any], weekday: int) -> Any:
    """Close a site on a weekday (admin)."""
    calendar.set_opening_hours(
        weekday, opens_at=None, closes_at=None, actor_id=current_user.id, **args
    )
    return None


@blp.route("/clinic/closures")
@requires(Permission.READ)
@blp.arguments(ClosureQuerySchema, location="query")
@blp.response(200, ClosureListSchema)
def list_closures(args: dict[str, Any]) -> Any:
    """Days a site is closed between `from` (default 30 days ago) and `to` (default a
    year later): manual closures and public holidays (`source`)."""
    return {"items": calendar.list_closures(**args)}


@blp.route("/clinic/closures", methods=["POST"])
@declares(409, codes=["closure_exists"])
@requires(Permission.ADMINISTER)
@blp.arguments(ClosureSchema)
@blp.arguments(SiteQuerySchema, location="query")
@blp.response(201, ClosureSchema)
def add_closure(args: dict[str, Any], query: dict[str, Any]) -> Any:
    """Close a site for a day (admin; the site in the body or the query). 409
    `closure_exists` for a day already closed, by an admin or a public holiday."""
    return calendar.add_closure(
        day=args["date"],
        reason=args["reason"],
        site_id=args.get("site_id", query.get("site_id")),
        actor_id=current_user.id,
    )


@blp.route("/clinic/closures/<int:closure_id>", methods=["DELETE"])
@requires(Permission.ADMINISTER)
@blp.response(204)
def delete_closure(closure_id: int) -> Any:
    """Remove a manual closure by id (admin)."""
    calendar.delete_closure(closure_id, actor_id=current_user.id)
    return None


@blp.route("/clinic/closures/<string:day>", methods=["DELETE"])
@declares(404, codes=["not_found"], description="The site is not closed that day.")
@requires(Permission.ADMINISTER)
@blp.arguments(SiteQuerySchema, location="query")
@blp.response(204)
def open_day(args: dict[str, Any], day: str) -> Any:
    """Open a site on a closed day given as `YYYY-MM-DD` (admin): its manual closure is
    removed, or, on a public holiday, the site opens that day (an override, undone by
    closing the day again). 404 when the day is not closed."""
    try:
        parsed = date_field().deserialize(day)
    except ma.ValidationError as exc:
        raise Invalid("Not a date.", fields={"date": ["YYYY-MM-DD."]}) from exc
    calendar.open_day(day=parsed, actor_id=current_user.id, **args)


# -- appointments ----------------------------------------------------------------------


class AppointmentSchema(ma.Schema):
    id = ma.fields.Integer()
    course_id = ma.fields.Integer()
    patient_id = ma.fields.Integer()
    device_id = ma.fields.Integer()
    technician_id = ma.fields.Integer(allow_none=True)
    starts_at = ma.fields.AwareDateTime()
    ends_at = ma.fields.AwareDateTime()
    kind = ma.fields.String()
    status = ma.fields.String()
    sequence = ma.fields.Integer()
    is_makeup = ma.fields.Boolean()
    makeup_for_id = ma.fields.Integer(allow_none=True)
    status_reason = ma.fields.String(allow_none=True)
    checked_in_at = ma.fields.AwareDateTime(allow_none=True)
    revision = ma.fields.Integer()


AppointmentListSchema = list_schema(AppointmentSchema)
# The day's list dumps hundreds of these: the same JSON without marshmallow per field.
dump_appointment = plain_dumper(AppointmentSchema)
# What the list reads: the schema's fields, which are the table's columns of those names.
LISTED = tuple(AppointmentSchema().dump_fields)


class StatusChangeSchema(AppointmentSchema):
    makeup = ma.fields.Nested(
        AppointmentSchema,
        allow_none=True,
        metadata={
            "description": "the make-up session: inside the daily phase for a miss there, "
            "else after the course's last session; null when the course is not active"
        },
    )
    moved = ma.fields.List(
        ma.fields.Nested(AppointmentSchema),
        metadata={
            "description": "later sessions moved so the taper or weekly phase follows the "
            "grown daily phase (their reminders are replaced)"
        },
    )


class AppointmentQuerySchema(ma.Schema):
    day = date_field(data_key="date")
    first = date_field(data_key="from")
    last = date_field(data_key="to")
    device_id = id_filter()
    patient_id = id_filter()
    course_id = id_filter()
    technician_id = id_filter()
    site_id = id_filter()
    limit = limit_param(default=2000, maximum=5000)

    @ma.validates_schema
    def bounded(self, data: dict[str, Any], **kwargs: Any) -> None:
        if "day" in data and ("first" in data or "last" in data):
            raise ma.ValidationError("Give `date`, or `from` and `to`, not both.", "date")
        if ("first" in data) != ("last" in data):
            raise ma.ValidationError("Give both `from` and `to`.", "to")
        if "first" in data:
            if data["last"] < data["first"]:
                raise ma.ValidationError("`to` is before `from`.", "to")
            if (data["last"] - data["first"]).days > MAX_LIST_DAYS:
                raise ma.ValidationError(f"At most {MAX_LIST_DAYS} days at a time.", "to")
        if not ({"day", "first", "course_id", "patient_id"} & data.keys()):
            raise ma.ValidationError(
                "Give `date`, or `from` and `to`, or a `course_id` or `patient_id`.", "date"
            )


class AppointmentCreateSchema(ma.Schema):
    course_id = id_field(required=True)
    device_id = id_field(required=True)
    starts_at = instant_field(required=True)
    kind = ma.fields.String(
        load_default=AppointmentKind.TREATMENT, validate=ma.validate.OneOf(tuple(AppointmentKind))
    )
    technician_id = id_field(allow_none=True)


class AppointmentPatchSchema(ma.Schema):
    starts_at = instant_field()
    device_id = id_field()
    technician_id = id_field(allow_none=True)

    @ma.validates_schema
    def something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError("Give `starts_at`, `device_id` or `technician_id`.")


class ReasonSchema(ma.Schema):
    reason = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=2000))


class ScheduleSchema(ma.Schema):
    start_date = date_field(required=True)
    time = LocalTime(required=True, metadata={"description": "HH:MM, the patient's local time"})
    device_id = id_field(allow_none=True)
    site_id = site_id_field(
        "Where to book when no device is named (default: where the course is treated, "
        "else the first site).",
        allow_none=True,
    )


class PlannedSessionSchema(ma.Schema):
    sequence = ma.fields.Integer()
    device_id = ma.fields.Integer()
    starts_at = ma.fields.AwareDateTime()
    ends_at = ma.fields.AwareDateTime()
    notes = ma.fields.List(ma.fields.String())


class ScheduleResultSchema(ma.Schema):
    appointments = ma.fields.List(ma.fields.Nested(AppointmentSchema))


class PreviewSchema(ma.Schema):
    appointments = ma.fields.List(ma.fields.Nested(PlannedSessionSchema))
    clashes = ma.fields.List(ma.fields.String())
    missing = ma.fields.Integer()
    complete = ma.fields.Boolean()


class _WithMakeup:
    """The changed appointment's fields plus its `makeup`, for StatusChangeSchema."""

    def __init__(self, change: lifecycle.StatusChange) -> None:
        self._appointment = change.appointment
        self.makeup = change.makeup
        self.moved = list(change.moved)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._appointment, name)


def _status_change(change: lifecycle.StatusChange) -> _WithMakeup:
    return _WithMakeup(change)


@blp.route("/appointments")
@requires(Permission.READ)
@blp.arguments(AppointmentQuerySchema, location="query")
@blp.response(200, AppointmentListSchema)
def list_appointments(args: dict[str, Any]) -> Any:
    """Appointments by start time: `date=`, or `from=`&`to=` (at most 93 days), or a
    course or patient; optionally by device, patient, course or technician."""
    day = args.pop("day", None)
    if day is not None:
        args["first"] = args["last"] = day
    args["site_ids"] = sites.visible_sites(current_user.id, args.pop("site_id", None))
    items = schedule.list_appointments(**args, actor_id=current_user.id, columns=LISTED)
    return jsonify(items=[dump_appointment(item) for item in items])


@blp.route("/appointments/<int:appointment_id>")
@requires(Permission.READ)
@blp.response(200, AppointmentSchema)
def get_appointment(appointment_id: int) -> Any:
    """One appointment (403 to staff limited to other sites)."""
    appointment = schedule.get_appointment(appointment_id)
    sites.require_appointment_site(current_user.id, appointment)
    return appointment


@blp.route("/appointments/<int:appointment_id>", methods=["PATCH"])
@declares(
    409,
    codes=[
        "conflict",
        "appointment_cancelled",
        "appointment_past",
        "appointment_changed",
        "technician_busy",
        "technician_off_duty",
    ],
)
@requires(Permission.EDIT_PATIENTS)
@blp.arguments(AppointmentPatchSchema)
@blp.response(200, AppointmentSchema)
def move_appointment(args: dict[str, Any], appointment_id: int) -> Any:
    """Move a scheduled session (new `starts_at` and/or `device_id`); 409 on a clash.
    `technician_id` assigns who runs it (null unassigns): 409 `technician_busy` when that
    technician has an overlapping live appointment, `technician_off_duty` outside their
    working hours."""
    appointment = move(
        appointment_id,
        starts_at=args.get("starts_at"),
        device_id=args.get("device_id"),
        technician_id=args.get("technician_id"),
        assign_technician="technician_id" in args,
        actor_id=current_user.id,
    )
    return appointment


@blp.route("/appointments/<int:appointment_id>/cancel", methods=["POST"])
@declares(409, codes=["conflict"])
@requires(Permission.EDIT_PATIENTS)
@blp.arguments(ReasonSchema)
@blp.response(200, StatusChangeSchema)
def cancel_appointment(args: dict[str, Any], appointment_id: int) -> Any:
    """Cancel a session. Its make-up is `makeup`: a miss in the daily phase is made up
    right after that phase, and the later sessions it pushes are listed in `moved`; a miss
    in the taper or weekly phase is made up after the course's last session."""
    change = lifecycle.cancel_appointment(
        appointment_id, reason=args.get("reason"), actor_id=current_user.id
    )
    return _status_change(change)


@blp.route("/appointments/<int:appointment_id>/no-show", methods=["POST"])
@declares(409, codes=["conflict"])
@requires(Permission.EDIT_PATIENTS)
@blp.arguments(ReasonSchema)
@blp.response(200, StatusChangeSchema)
def no_show(args: dict[str, Any], appointment_id: int) -> Any:
    """Record a missed session; its make-up is `makeup`, sessions it pushed later `moved`
    (as for a cancel)."""
    change = lifecycle.record_no_show(
        appointment_id, reason=args.get("reason"), actor_id=current_user.id
    )
    return _status_change(change)


# The technicians' part of this blueprint lives in its own module (imported last: it
# adds its routes to `blp`).
from clinic.scheduling import technicians_api  # noqa: E402, F401
