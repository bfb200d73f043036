"""/api/v1/technicians: who runs the chairs and when they work (admin sets the hours;
an appointment outside them answers 409 `technician_off_duty`). Routes of the scheduling
API's blueprint."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_login import current_user

from clinic.api.fields import LocalTime
from clinic.api.schemas import list_schema
from clinic.permissions import Permission, requires
from clinic.scheduling import technicians
from clinic.scheduling.api import blp


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
