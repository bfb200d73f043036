"""/api/v1: devices, the clinic calendar and appointments (booking a course's sessions is
asked through the courses API, which knows the course)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import marshmallow as ma
from flask_login import current_user
from flask_smorest import Blueprint

from clinic.api.fields import LocalTime
from clinic.api.openapi import declares
from clinic.api.schemas import id_filter, limit_param, list_schema
from clinic.permissions import Permission, requires
from clinic.scheduling import calendar, lifecycle, schedule, technicians
from clinic.scheduling.booking_service import move_appointment as move
from clinic.scheduling.calendar import MAX_ID
from clinic.scheduling.models import AppointmentKind

blp = Blueprint("scheduling_api", __name__, description="Devices, clinic calendar, appointments")

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
MAX_LIST_DAYS = 93


def _id(**kwargs: Any) -> ma.fields.Integer:
    return ma.fields.Integer(strict=True, validate=ma.validate.Range(min=1, max=MAX_ID), **kwargs)


def _instant(**kwargs: Any) -> ma.fields.AwareDateTime:
    return ma.fields.AwareDateTime(
        validate=ma.validate.Range(min=EARLIEST, max=LATEST, error="Between 2000 and 2100."),
        **kwargs,
    )


def _day(**kwargs: Any) -> ma.fields.Date:
    return ma.fields.Date(
        validate=ma.validate.Range(
            min=EARLIEST.date(), max=LATEST.date(), error="Between 2000 and 2100."
        ),
        **kwargs,
    )


# -- devices ---------------------------------------------------------------------------


class DeviceSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=80))
    model = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=120))
    room = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=80))
    active = ma.fields.Boolean(dump_only=True)


class DevicePatchSchema(ma.Schema):
    name = ma.fields.String(validate=ma.validate.Length(min=1, max=80))
    model = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=120))
    room = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=80))
    active = ma.fields.Boolean()


DeviceListSchema = list_schema(DeviceSchema)


class MaintenanceSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    device_id = ma.fields.Integer(dump_only=True)
    starts_at = _instant(required=True)
    ends_at = _instant(required=True)
    reason = ma.fields.String(
        allow_none=True, load_default=None, validate=ma.validate.Length(max=200)
    )


MaintenanceListSchema = list_schema(MaintenanceSchema)


@blp.route("/devices")
@requires(Permission.READ)
@blp.response(200, DeviceListSchema)
def list_devices() -> Any:
    """Every device (chair), active or not, by name."""
    return {"items": calendar.list_devices()}


@blp.route("/devices", methods=["POST"])
@declares(409, codes=["device_exists"])
@requires(Permission.ADMINISTER)
@blp.arguments(DeviceSchema, example={"name": "Chair 1", "model": "NeuroStar", "room": "2"})
@blp.response(201, DeviceSchema)
def create_device(args: dict[str, Any]) -> Any:
    """Add a device (admin). 409 `device_exists` when the name is taken."""
    device = calendar.create_device(
        name=args["name"], model=args.get("model"), room=args.get("room"), actor_id=current_user.id
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


class ClosureSchema(ma.Schema):
    id = ma.fields.Integer(dump_only=True)
    date = _day(required=True)
    reason = ma.fields.String(load_default="", validate=ma.validate.Length(max=200))


ClosureListSchema = list_schema(ClosureSchema)


class ClosureQuerySchema(ma.Schema):
    since = _day(data_key="from")
    until = _day(data_key="to")


@blp.route("/clinic/hours")
@requires(Permission.READ)
@blp.response(200, HoursListSchema)
def list_hours() -> Any:
    """Opening hours per weekday (0 = Monday); a missing weekday is closed."""
    hours = calendar.opening_hours()
    return {"items": [hours[day] for day in sorted(hours)]}


@blp.route("/clinic/hours/<int:weekday>", methods=["PUT"])
@requires(Permission.ADMINISTER)
@blp.arguments(HoursSchema, example={"opens_at": "08:00", "closes_at": "18:00"})
@blp.response(200, HoursSchema)
def set_hours(args: dict[str, Any], weekday: int) -> Any:
    """Set one weekday's opening hours, `HH:MM` in the clinic's time zone (admin)."""
    row = calendar.set_opening_hours(weekday, actor_id=current_user.id, **args)
    return row


@blp.route("/clinic/hours/<int:weekday>", methods=["DELETE"])
@requires(Permission.ADMINISTER)
@blp.response(204)
def close_weekday(weekday: int) -> Any:
    """Close the clinic on a weekday (admin)."""
    calendar.set_opening_hours(weekday, opens_at=None, closes_at=None, actor_id=current_user.id)
    return None


@blp.route("/clinic/closures")
@requires(Permission.READ)
@blp.arguments(ClosureQuerySchema, location="query")
@blp.response(200, ClosureListSchema)
def list_closures(args: dict[str, Any]) -> Any:
    """Days the clinic is closed, optionally between `from` and `to`."""
    return {"items": calendar.list_closures(**args)}


@blp.route("/clinic/closures", methods=["POST"])
@declares(409, codes=["closure_exists"])
@requires(Permission.ADMINISTER)
@blp.arguments(ClosureSchema)
@blp.response(201, ClosureSchema)
def add_closure(args: dict[str, Any]) -> Any:
    """Close the clinic for a day (admin). 409 `closure_exists` for a day already closed."""
    closure = calendar.add_closure(
        day=args["date"], reason=args["reason"], actor_id=current_user.id
    )
    return closure


@blp.route("/clinic/closures/<int:closure_id>", methods=["DELETE"])
@requires(Permission.ADMINISTER)
@blp.response(204)
def delete_closure(closure_id: int) -> Any:
    """Reopen a closed day (admin)."""
    calendar.delete_closure(closure_id, actor_id=current_user.id)
    return None


# -- technicians -----------------------------------------------------------------------


class TechnicianHoursSchema(ma.Schema):
    weekday = ma.fields.Integer(dump_only=True, metadata={"description": "0 = Monday"})
    starts_at = LocalTime(required=True, metadata={"description": "HH:MM, the clinic's zone"})
    ends_at = LocalTime(required=True, metadata={"description": "HH:MM, the clinic's zone"})


TechnicianHoursListSchema = list_schema(TechnicianHoursSchema)


class TechnicianSchema(ma.Schema):
    id = ma.fields.Integer()
    name = ma.fields.String()
    email = ma.fields.String()
    hours = ma.fields.List(
        ma.fields.Nested(TechnicianHoursSchema),
        metadata={"description": "working hours per weekday; none set: never refused for hours"},
    )


TechnicianListSchema = list_schema(TechnicianSchema)


def _hours_items(rows: dict[int, Any]) -> list[Any]:
    return [rows[day] for day in sorted(rows)]


@blp.route("/technicians")
@requires(Permission.READ)
@blp.response(200, TechnicianListSchema)
def list_technicians() -> Any:
    """Active technicians and their working hours."""
    people = technicians.list_technicians()
    hours = technicians.working_hours([person.id for person in people])
    return {
        "items": [
            {
                "id": person.id,
                "name": person.name,
                "email": person.email,
                "hours": _hours_items(hours[person.id]),
            }
            for person in people
        ]
    }


@blp.route("/technicians/<int:user_id>/hours")
@requires(Permission.READ)
@blp.response(200, TechnicianHoursListSchema)
def technician_hours(user_id: int) -> Any:
    """A technician's working hours per weekday (0 = Monday); a missing weekday is off,
    unless no weekday is set at all (then the technician is never refused for hours)."""
    technicians.get_technician(user_id)
    return {"items": _hours_items(technicians.working_hours([user_id])[user_id])}


@blp.route("/technicians/<int:user_id>/hours/<int:weekday>", methods=["PUT"])
@requires(Permission.ADMINISTER)
@blp.arguments(TechnicianHoursSchema)
@blp.response(200, TechnicianHoursSchema)
def set_technician_hours(args: dict[str, Any], user_id: int, weekday: int) -> Any:
    """Set one weekday's working hours of a technician (admin). Assigning them to an
    appointment outside their hours answers 409 `technician_off_duty`."""
    return technicians.set_working_hours(user_id, weekday, actor_id=current_user.id, **args)


@blp.route("/technicians/<int:user_id>/hours/<int:weekday>", methods=["DELETE"])
@requires(Permission.ADMINISTER)
@blp.response(204)
def delete_technician_hours(user_id: int, weekday: int) -> Any:
    """Make a weekday a technician's day off (admin)."""
    technicians.set_working_hours(
        user_id, weekday, starts_at=None, ends_at=None, actor_id=current_user.id
    )
    return None


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
    day = _day(data_key="date")
    first = _day(data_key="from")
    last = _day(data_key="to")
    device_id = id_filter()
    patient_id = id_filter()
    course_id = id_filter()
    technician_id = id_filter()
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
    course_id = _id(required=True)
    device_id = _id(required=True)
    starts_at = _instant(required=True)
    kind = ma.fields.String(
        load_default=AppointmentKind.TREATMENT, validate=ma.validate.OneOf(tuple(AppointmentKind))
    )
    technician_id = _id(allow_none=True)


class AppointmentPatchSchema(ma.Schema):
    starts_at = _instant()
    device_id = _id()
    technician_id = _id(allow_none=True)

    @ma.validates_schema
    def something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError("Give `starts_at`, `device_id` or `technician_id`.")


class ReasonSchema(ma.Schema):
    reason = ma.fields.String(allow_none=True, validate=ma.validate.Length(max=2000))


class ScheduleSchema(ma.Schema):
    start_date = _day(required=True)
    time = LocalTime(required=True, metadata={"description": "HH:MM, the patient's local time"})
    device_id = _id(allow_none=True)


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
    return {"items": schedule.list_appointments(**args, actor_id=current_user.id)}


@blp.route("/appointments/<int:appointment_id>")
@requires(Permission.READ)
@blp.response(200, AppointmentSchema)
def get_appointment(appointment_id: int) -> Any:
    """One appointment."""
    return schedule.get_appointment(appointment_id)


@blp.route("/appointments/<int:appointment_id>", methods=["PATCH"])
@declares(
    409, codes=["conflict", "appointment_cancelled", "appointment_past", "appointment_changed"]
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
