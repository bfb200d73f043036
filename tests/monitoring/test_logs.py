"""Structured logs: one JSON object a line, each with the request it belongs to."""

from __future__ import annotations

import json
import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient

from clinic.monitoring.logs import JsonFormatter, RequestIdFilter
from config import ConfigError, load_config


def test_a_request_answers_its_id_and_takes_a_sane_one_from_the_proxy(client: FlaskClient) -> None:
    made = client.get("/api/v1/health").headers["X-Request-ID"]
    assert len(made) == 32

    offered = client.get("/api/v1/health", headers={"X-Request-ID": "edge-42.a"})
    assert offered.headers["X-Request-ID"] == "edge-42.a"

    forged = client.get("/api/v1/health", headers={"X-Request-ID": 'x" onload=1 ' + "y" * 200})
    assert forged.headers["X-Request-ID"] != "x"
    assert len(forged.headers["X-Request-ID"]) == 32


def test_every_request_is_logged_with_its_endpoint_status_and_time(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="clinic.requests"):
        client.get("/api/v1/health", headers={"X-Request-ID": "abc123"})
    (record,) = [r for r in caplog.records if r.name == "clinic.requests"]
    line = json.loads(JsonFormatter().format(record))
    assert line["endpoint"] == "api_core.health"
    assert line["status"] == 200
    assert line["method"] == "GET" and line["path"] == "/api/v1/health"
    assert line["duration_ms"] >= 0


def test_a_json_line_carries_the_request_id_and_a_one_line_traceback(app: Flask) -> None:
    with app.test_request_context("/"):
        from flask import g

        g.request_id = "req-7"
        try:
            raise ValueError("boom")
        except ValueError:
            record = logging.getLogger("clinic.test").makeRecord(
                "clinic.test", logging.ERROR, __file__, 1, "failed %s", ("x",), exc_info=True
            )
            import sys

            record.exc_info = sys.exc_info()
        RequestIdFilter().filter(record)
    text = JsonFormatter().format(record)
    assert "\n" not in text
    line = json.loads(text)
    assert line["request_id"] == "req-7"
    assert line["message"] == "failed x"
    assert line["level"] == "ERROR"
    assert "ValueError: boom" in line["exception"]


def test_outside_a_request_the_id_is_a_dash() -> None:
    record = logging.LogRecord("clinic.jobs", logging.INFO, __file__, 1, "tick", None, None)
    RequestIdFilter().filter(record)
    assert json.loads(JsonFormatter().format(record))["request_id"] == "-"


def test_an_unknown_log_format_stops_start_up_clearly(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match=r"^CLINIC_LOG_FORMAT: unknown value 'xml'"):
        load_config({"CLINIC_LOG_FORMAT": "xml"}, instance_dir=tmp_path)  # type: ignore[arg-type]
