"""Logs a log pipeline can parse: one JSON object a line (`CLINIC_LOG_FORMAT=json`), each
carrying the id of the request it belongs to, so one request's lines can be found among
many workers'. The id is taken from the proxy's `X-Request-ID` when it is sane, else made
here, and answered in the same header so a user's report can quote it."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_HANDLER_NAME = "clinic"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
# What a record carries besides its message; anything else passed in `extra` is logged.
_STANDARD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", 0, "", 0, "", None, None)).keys() | {"message", "asctime"}
)

log = logging.getLogger("clinic.requests")


def current_request_id() -> str:
    return str(g.get("request_id", "-")) if has_request_context() else "-"


class RequestIdFilter(logging.Filter):
    """Stamp every record with the request it was written under ("-" outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, request id, and any
    `extra` fields; an exception's traceback as one string, never several lines."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(log_format: str) -> None:
    """Install (or re-point) the one root handler; building the app twice in one process
    (tests do) must not print every line twice."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if h.get_name() == _HANDLER_NAME), None)
    if handler is None:
        handler = logging.StreamHandler()
        handler.set_name(_HANDLER_NAME)
        handler.addFilter(RequestIdFilter())
        root.addHandler(handler)
    handler.setFormatter(
        JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root.setLevel(logging.INFO)


def init_app(app: Flask) -> None:
    configure_logging(app.config["CLINIC_LOG_FORMAT"])

    @app.before_request
    def assign_request_id() -> None:
        offered = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = offered if _SANE_REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    def log_request(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = current_request_id()
        started = g.get("request_started")
        if started is not None:
            log.info(
                "%s %s %s",
                request.method,
                request.path,
                response.status_code,
                extra={
                    "method": request.method,
                    "path": request.path,
                    "endpoint": request.endpoint,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
        return response
