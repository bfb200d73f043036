"""The plain dump of a list's rows answers what marshmallow's dump answers, field for
field, and refuses a schema it cannot dump that way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import marshmallow as ma
import pytest

from clinic.api.schemas import plain_dumper
from clinic.scheduling.api import AppointmentSchema, dump_appointment
from clinic.scheduling.models import Appointment

START = datetime(2026, 12, 1, 14, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    "values",
    [
        {
            "technician_id": None,
            "is_makeup": False,
            "status": "scheduled",
            "makeup_for_id": None,
            "checked_in_at": None,
        },
        {
            "technician_id": 7,
            "makeup_for_id": 3,
            "is_makeup": True,
            "status": "checked_in",
            "status_reason": "late, ñ",
            "checked_in_at": START + timedelta(minutes=2, microseconds=5),
        },
    ],
)
def test_the_plain_dump_is_marshmallows(values: dict[str, object]) -> None:
    appointment = Appointment(
        id=12,
        course_id=3,
        patient_id=4,
        device_id=5,
        starts_at=START,
        ends_at=START + timedelta(minutes=40),
        kind="treatment",
        sequence=9,
        revision=2,
        **values,
    )
    assert dump_appointment(appointment) == AppointmentSchema().dump(appointment)


def test_a_schema_it_cannot_dump_plainly_is_refused() -> None:
    nested = ma.Schema.from_dict({"inner": ma.fields.Nested(AppointmentSchema)})
    with pytest.raises(TypeError, match="no plain dump"):
        plain_dumper(nested)
