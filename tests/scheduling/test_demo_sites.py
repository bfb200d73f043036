"""`demo load --sites N` makes a clinic group (issue 16): N sites in their own zones and
public holidays, each with its chairs, hours and sessions."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from clinic.extensions import db
from clinic.scheduling import calendar, sites
from clinic.scheduling.models import Appointment, Device


def test_demo_load_makes_a_group_of_sites(app: Any, runner: Any) -> None:
    result = runner.invoke(args=["demo", "load", "--sites", "3"])
    assert result.exit_code == 0, result.output
    group = sites.list_sites()
    assert len(group) == 3
    assert len({site.timezone for site in group}) == 3
    assert group[1].holidays.startswith("US-")
    for site in group:
        assert calendar.opening_hours(site.id), site.name
        chairs = db.session.scalar(
            select(func.count()).select_from(Device).where(Device.site_id == site.id)
        )
        assert chairs, site.name
    booked_at = set(
        db.session.scalars(
            select(Device.site_id).join(Appointment, Appointment.device_id == Device.id).distinct()
        )
    )
    assert booked_at == {site.id for site in group}
