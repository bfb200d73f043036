"""The scheduler: the process that runs every feature's periodic jobs (`flask scheduler
run`), its heartbeat, and the admin page that shows it.

It sits above the features (its job table imports them), so no feature imports it.
Modules: `jobs` (the table), `runner` (the APScheduler process), `heartbeat` (what
each tick records, for /api/v1/health and the admin page), `cli`, `routes`.
"""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("scheduler", __name__)


def init_app(app: Flask) -> None:
    from clinic.api.routes import add_health_extra
    from clinic.scheduler import routes  # noqa: F401  (registers the views)
    from clinic.scheduler.cli import scheduler_cli
    from clinic.scheduler.heartbeat import health_extra

    app.register_blueprint(bp)
    app.cli.add_command(scheduler_cli)
    add_health_extra(app, health_extra)
