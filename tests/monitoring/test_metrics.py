"""/metrics: what an operator's Prometheus scrapes, and who may read it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from clinic import clock
from clinic.extensions import db
from clinic.reminders.models import Reminder, ReminderStatus
from clinic.scheduler.models import SchedulerProcess
from tests.factories import make_patient


def _samples(client: FlaskClient, **kwargs: Any) -> dict[tuple[str, tuple[Any, ...]], float]:
    answer = client.get("/metrics", **kwargs)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.mimetype == "text/plain"
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.get_data(as_text=True))
        for sample in family.samples
    }


def _reminder(patient_id: int, status: ReminderStatus, **fields: Any) -> None:
    now = clock.now()
    db.session.add(
        Reminder(
            kind="email_24h",
            channel="email",
            status=status,
            patient_id=patient_id,
            due_at=fields.pop("due_at", now),
            next_attempt_at=fields.pop("next_attempt_at", now),
            **fields,
        )
    )


def test_the_outbox_and_the_schedulers_are_read_from_the_database(
    app: Flask, client: FlaskClient
) -> None:
    now = clock.now()
    patient = make_patient()
    _reminder(patient.id, ReminderStatus.PENDING, next_attempt_at=now - timedelta(minutes=10))
    _reminder(patient.id, ReminderStatus.PENDING, next_attempt_at=now + timedelta(hours=3))
    _reminder(patient.id, ReminderStatus.SENDING)
    for _ in range(3):
        _reminder(patient.id, ReminderStatus.SENT, sent_at=now - timedelta(minutes=1))
    _reminder(patient.id, ReminderStatus.SENT, sent_at=now - timedelta(hours=1))
    db.session.add(
        SchedulerProcess(
            host="sched-1", pid=4242, started_at=now, last_tick_at=now - timedelta(seconds=30)
        )
    )
    db.session.commit()

    samples = _samples(client)

    assert samples[("clinic_outbox_messages", (("status", "pending"),))] == 2
    assert samples[("clinic_outbox_messages", (("status", "sending"),))] == 1
    assert samples[("clinic_outbox_oldest_due_seconds", ())] == pytest.approx(600, abs=5)
    assert samples[("clinic_reminders_dispatched_per_second", ())] == pytest.approx(3 / 300)
    age = samples[
        ("clinic_scheduler_last_tick_age_seconds", (("host", "sched-1"), ("pid", "4242")))
    ]
    assert age == pytest.approx(30, abs=5)
    assert ("clinic_db_pool_checked_out", ()) in samples


def test_the_outbox_gauges_read_only_the_open_rows(
    app: Flask, client: FlaskClient, count_queries: Any
) -> None:
    """Prometheus scrapes every few seconds and the outbox keeps every message ever sent:
    the depth and the oldest due were read through the whole table at each scrape."""
    patient = make_patient()
    _reminder(patient.id, ReminderStatus.PENDING)
    _reminder(patient.id, ReminderStatus.SENT, sent_at=clock.now())
    db.session.commit()
    with count_queries() as sent:
        _samples(client)
    assert sent.whole_table_reads("reminders", but="ix_reminders_open_next_attempt") == []


def test_request_latency_is_labelled_by_endpoint_never_by_raw_path(client: FlaskClient) -> None:
    client.get("/api/v1/health")
    client.get("/api/v1/patients/123456")  # 401: ids in a path must not make new series

    samples = _samples(client)

    health = [
        labels
        for (name, labels) in samples
        if name == "clinic_request_duration_seconds_count"
        and ("endpoint", "api_core.health") in labels
    ]
    assert health, sorted(name for name, _ in samples)
    assert not any("123456" in str(labels) for (_name, labels) in samples)


def test_metrics_are_refused_to_other_machines(client: FlaskClient) -> None:
    answer = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert answer.status_code == 403


class TestWithAToken:
    @pytest.fixture
    def app_config(self, app_config: dict[str, Any]) -> dict[str, Any]:
        return {**app_config, "CLINIC_METRICS_TOKEN": "scrape-secret"}

    def test_the_token_is_required_from_anywhere(self, client: FlaskClient) -> None:
        assert client.get("/metrics").status_code == 403
        wrong = {"Authorization": "Bearer guess"}
        assert client.get("/metrics", headers=wrong).status_code == 403
        right = {"Authorization": "Bearer scrape-secret"}
        assert _samples(client, headers=right, environ_base={"REMOTE_ADDR": "203.0.113.9"})
