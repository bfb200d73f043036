"""Prometheus metrics at `/metrics`, with the well-kept `prometheus_client`.

Two kinds: what each web worker measures itself (request latency by endpoint, its
database pool), and what the database knows for the whole installation, read at scrape
time so every process and the scheduler agree (the reminder outbox's depth and age, the
dispatch rate, each scheduler process's last tick). Under gunicorn, set
`PROMETHEUS_MULTIPROC_DIR` so the workers' own measures are summed (docs/deploy.md).

The page is open to the machine itself (a Prometheus on the host, or behind the proxy,
which makes every request look like the client's address); with `CLINIC_METRICS_TOKEN`
set it asks for that token instead, as `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

from flask import Flask, Response, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select, text

from clinic import clock
from clinic.errors import NotAllowed
from clinic.extensions import db
from clinic.permissions import public
from clinic.reminders.models import OPEN_ROWS, Reminder, ReminderStatus
from clinic.reminders.queries import waiting_counts
from clinic.scheduler.models import SchedulerProcess

DISPATCH_WINDOW = timedelta(minutes=5)
LOOPBACK = frozenset({"127.0.0.1", "::1"})

REQUEST_SECONDS = Histogram(
    "clinic_request_duration_seconds",
    "Time to answer a request, by endpoint (the view's name, never the raw path).",
    ["endpoint", "method", "status_class"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)


class InstallationCollector(Collector):
    """Gauges read from the database at scrape time (in the scrape's own request): the
    same answer from every worker."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from _pool_gauges()
        yield from _outbox_gauges()
        yield from _scheduler_gauges()


def _pool_gauges() -> Iterator[GaugeMetricFamily]:
    pool: Any = db.engine.pool
    checked_out = GaugeMetricFamily(
        "clinic_db_pool_checked_out", "Database connections in use by this process."
    )
    checked_out.add_metric([], pool.checkedout() if hasattr(pool, "checkedout") else 0)
    yield checked_out
    size = GaugeMetricFamily("clinic_db_pool_size", "Connections this process's pool keeps.")
    size.add_metric([], pool.size() if hasattr(pool, "size") else 0)
    yield size


def _outbox_gauges() -> Iterator[GaugeMetricFamily]:
    now = clock.now()
    depth = GaugeMetricFamily(
        "clinic_outbox_messages",
        "Reminder outbox rows waiting or in flight, by status.",
        labels=["status"],
    )
    counts = waiting_counts()
    for status in (ReminderStatus.PENDING, ReminderStatus.SENDING):
        depth.add_metric([status.value], counts.get(status, 0))
    yield depth

    oldest_due = db.session.scalar(
        select(func.min(Reminder.next_attempt_at)).where(
            text(OPEN_ROWS),
            Reminder.status == ReminderStatus.PENDING,
            Reminder.next_attempt_at <= now,
        )
    )
    age = GaugeMetricFamily(
        "clinic_outbox_oldest_due_seconds",
        "How long the oldest due, unsent reminder has waited (0 when none is due).",
    )
    age.add_metric([], (now - oldest_due).total_seconds() if oldest_due else 0.0)
    yield age

    sent = db.session.scalar(
        select(func.count()).where(
            Reminder.status == ReminderStatus.SENT, Reminder.sent_at > now - DISPATCH_WINDOW
        )
    )
    rate = GaugeMetricFamily(
        "clinic_reminders_dispatched_per_second",
        "Reminders sent per second over the last five minutes, by every dispatcher.",
    )
    rate.add_metric([], (sent or 0) / DISPATCH_WINDOW.total_seconds())
    yield rate


def _scheduler_gauges() -> Iterator[GaugeMetricFamily]:
    now = clock.now()
    ticks = GaugeMetricFamily(
        "clinic_scheduler_last_tick_age_seconds",
        "Seconds since each scheduler process last ticked.",
        labels=["host", "pid"],
    )
    for process in db.session.scalars(select(SchedulerProcess)):
        ticks.add_metric(
            [process.host, str(process.pid)], (now - process.last_tick_at).total_seconds()
        )
    yield ticks


def _registry() -> CollectorRegistry:
    """The workers' summed measures under gunicorn, this process's otherwise; plus the
    installation's gauges, once."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = CollectorRegistry()
        registry.register(_ProcessMeasures())
    registry.register(InstallationCollector())
    return registry


class _ProcessMeasures(Collector):
    """This process's own metrics (the default registry), without registering them twice."""

    def collect(self) -> Iterator[Any]:
        yield from REGISTRY.collect()


def _check_access() -> None:
    token = current_app.config.get("CLINIC_METRICS_TOKEN")
    if token:
        offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(offered.encode(), token.encode()):
            raise NotAllowed("Send the metrics token: Authorization: Bearer <token>.")
    elif request.remote_addr not in LOOPBACK:
        raise NotAllowed("Metrics are served to this machine only (or set CLINIC_METRICS_TOKEN).")


@public
def metrics_view() -> Response:
    _check_access()
    body = generate_latest(_registry())
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


def init_app(app: Flask) -> None:
    app.add_url_rule("/metrics", "metrics", metrics_view)

    @app.after_request
    def observe(response: Response) -> Response:
        started = g.get("request_started")  # set by clinic.monitoring.logs
        if started is not None and request.endpoint not in (None, "metrics", "static"):
            REQUEST_SECONDS.labels(
                request.endpoint, request.method, f"{response.status_code // 100}xx"
            ).observe(time.perf_counter() - started)
        return response
