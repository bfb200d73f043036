"""Production visibility: structured logs with a request id, and Prometheus metrics.

Above every feature (it reads the reminder outbox and the scheduler's heartbeats to
report them), below nothing: no feature imports it.
"""

from __future__ import annotations

from flask import Flask

from clinic.monitoring import logs, metrics


def init_app(app: Flask) -> None:
    logs.init_app(app)
    metrics.init_app(app)
