"""Scheduling: devices (chairs), the clinic calendar, the booking engine and the day board."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("scheduling", __name__)


def init_app(app: Flask) -> None:
    from clinic.alerts.services import PATIENT_SCOPE
    from clinic.scheduling import receivers, routes, schedule, site_routes, sites  # noqa: F401

    receivers.connect()
    app.register_blueprint(bp)
    app.jinja_env.filters["at_site"] = site_routes.at_site
    app.jinja_env.globals["several_sites"] = sites.several_sites
    app.jinja_env.globals["patient_upcoming_sessions"] = schedule.upcoming_appointments
    # The alerts (kernel) list and count a limited user's sites' patients' only.
    app.extensions[PATIENT_SCOPE] = sites.alert_patients
