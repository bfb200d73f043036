"""Scheduling: devices (chairs), the clinic calendar, the booking engine and the day board."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("scheduling", __name__)


def init_app(app: Flask) -> None:
    from clinic.scheduling import routes, site_routes  # noqa: F401  (registers the views)

    app.register_blueprint(bp)
    app.jinja_env.filters["at_site"] = site_routes.at_site
