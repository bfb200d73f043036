"""Migration 0015_sites on an existing single-clinic database: one site from the settings,
and its chairs, hours, closures and patients carried over with nothing else changing."""

from __future__ import annotations

from datetime import date, time

from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from clinic.extensions import db
from clinic.patients.intake import find_duplicate
from clinic.scheduling import calendar, sites
from clinic.scheduling.models import Device


def test_a_single_clinic_migrates_to_one_site(app: Flask, backend: str) -> None:
    downgrade(revision="0014_billing_documents")
    with db.engine.begin() as connection:
        connection.execute(text("DELETE FROM opening_hours WHERE weekday = 4"))
        connection.execute(
            text("INSERT INTO devices (name, active) VALUES ('Chair 1', :on), ('Chair 2', :on)"),
            {"on": True},
        )
        connection.execute(
            text("INSERT INTO closures (date, reason) VALUES (:day, 'Staff training')"),
            {"day": date(2026, 3, 3)},
        )
        connection.execute(
            text(
                "INSERT INTO patients (mrn, first_name, last_name, date_of_birth, "
                "preferred_channel, sms_consent, email_consent, created_at, updated_at) "
                "VALUES ('10000001', :first, 'Núñez', :born, 'none', :no, :no, :now, :now)"
            ),
            {
                "first": "Jose\u0301",  # decomposed (NFD), as some systems export it
                "born": date(1970, 1, 1),
                "no": False,
                "now": "2026-01-01 00:00:00",
            },
        )
    app.config.update(CLINIC_NAME="Lakeside TMS", CLINIC_TIMEZONE="America/Chicago")
    upgrade()
    db.session.expire_all()
    if backend == "sqlite":  # the migration turned foreign keys off around its batch work
        assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    [site] = sites.list_sites()
    assert (site.name, site.timezone, site.holidays) == ("Lakeside TMS", "America/Chicago", "US")
    assert {device.site_id for device in db.session.query(Device)} == {site.id}
    hours = calendar.opening_hours()
    assert sorted(hours) == [0, 1, 2, 3] and hours[0].opens_at == time(8)
    closed = calendar.list_closures(since=date(2026, 3, 1), until=date(2026, 3, 31))
    assert [(c.date, c.reason, c.source) for c in closed] == [
        (date(2026, 3, 3), "Staff training", "manual")
    ]
    # New closures get fresh ids after the carried-over ones (PostgreSQL's sequence too).
    calendar.add_closure(day=date(2026, 3, 4), reason="", actor_id=None)
    db.session.flush()
    assert find_duplicate("José", "NÚÑEZ", date(1970, 1, 1)) is not None
