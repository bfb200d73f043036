"""The domain error family and the one place that turns errors into answers.

Services raise `DomainError` subclasses; the API answers them as the contract's error
body, and pages as a flash message or an error page. Nothing a user sends may end in a
traceback: unexpected errors are logged and answered with a plain 500 body.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from flask import Flask, Response, flash, jsonify, redirect, render_template, request
from sqlalchemy.exc import DataError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from clinic.db import is_contention, is_unavailable

log = logging.getLogger(__name__)

API_PREFIX = "/api/"

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}

# Seconds a client should wait: an outage takes a while, a busy moment passes at once.
RETRY_AFTER_OUTAGE = 5
RETRY_AFTER_BUSY = 1


class DomainError(Exception):
    """A business rule said no. `code` is machine-readable, `message` is for people."""

    status = 400
    default_code = "bad_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        fields: dict[str, list[str]] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.fields = fields or {}
        self.details = details or {}


class Invalid(DomainError):
    status = 422
    default_code = "validation_error"


class Conflict(DomainError):
    status = 409
    default_code = "conflict"


class NotAllowed(DomainError):
    status = 403
    default_code = "forbidden"


class NotFound(DomainError):
    status = 404
    default_code = "not_found"


class TooLarge(DomainError):
    status = 413
    default_code = "too_large"


class UnsupportedMedia(DomainError):
    status = 415
    default_code = "unsupported_media_type"


class Gone(DomainError):
    status = 410
    default_code = "gone"


class Unauthorized(DomainError):
    status = 401
    default_code = "unauthorized"


def error_body(
    code: str,
    message: str,
    fields: dict[str, list[str]] | None = None,
    details: dict[str, Any] | None = None,
) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "fields": fields or {}}
    error.update(details or {})
    return {"error": error}


def json_error(
    status: int,
    code: str,
    message: str,
    fields: dict[str, list[str]] | None = None,
    details: dict[str, Any] | None = None,
) -> Response:
    response = jsonify(error_body(code, message, fields, details))
    response.status_code = status
    return response


def _wants_json() -> bool:
    return request.path.startswith(API_PREFIX)


def flatten_messages(messages: Any) -> dict[str, list[str]]:
    """webargs nests messages by location ({"json": {"field": [...]}}); the contract is flat."""
    fields: dict[str, list[str]] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                name = str(key) if not prefix else f"{prefix}.{key}"
                walk(name, inner)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            fields.setdefault(prefix or "_schema", []).extend(value)
        elif isinstance(value, list):
            for index, inner in enumerate(value):
                walk(f"{prefix}.{index}" if prefix else str(index), inner)
        else:
            fields.setdefault(prefix or "_schema", []).append(str(value))

    if isinstance(messages, dict):
        for location, inner in messages.items():
            if location in ("json", "query", "form", "files", "headers", "path", "view_args"):
                walk("", inner)
            else:
                walk(str(location), inner)
    elif messages is not None:
        walk("", messages)
    return fields


def _render_error_page(status: int, title: str, message: str) -> tuple[str, int]:
    return render_template("errors/error.html", code=status, title=title, message=message), status


def handle_domain_error(error: DomainError) -> Any:
    if _wants_json():
        response = json_error(error.status, error.code, error.message, error.fields, error.details)
        if error.status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
        return response
    if request.method == "POST" and error.status in (409, 422) and request.referrer:
        flash(error.message, "error")
        return redirect(request.referrer)
    return _render_error_page(error.status, HTTP_CODES.get(error.status, "error"), error.message)


def handle_http_exception(error: HTTPException) -> Any:
    status = error.code or 500
    code = HTTP_CODES.get(status, "error")
    data = getattr(error, "data", None) or {}
    if _wants_json():
        fields = flatten_messages(data.get("messages")) if "messages" in data else {}
        message = data.get("message") or error.description or error.name
        if status == 422 and fields:
            message = "The request has invalid fields."
        response = json_error(status, code, message, fields)
        for key, value in (data.get("headers") or {}).items():
            response.headers[key] = value
        if status == 405 and error.get_response().headers.get("Allow"):
            response.headers["Allow"] = error.get_response().headers["Allow"]
        return response
    if status == 400 and "CSRF" in (error.description or ""):
        message = "Your form expired or was sent twice. Please try again."
        if request.referrer:
            flash(message, "error")
            return redirect(request.referrer)
        return _render_error_page(400, "Form expired", message)
    return _render_error_page(status, error.name, error.description or error.name)


def handle_unstorable_value(error: Exception) -> Any:
    """A value the database cannot hold (a number out of range, a string it refuses) is
    bad input that slipped past validation: answer 422, never 500."""
    from clinic.extensions import db

    db.session.rollback()
    log.warning("refused a value the database cannot store on %s: %s", request.path, error)
    message = "A value is out of range or cannot be stored."
    if _wants_json():
        return json_error(422, "validation_error", message)
    return _render_error_page(422, "Invalid value", message)


def handle_database_error(error: Exception) -> Any:
    """A database that cannot be reached, or stayed busy through every retry of
    `clinic.transaction`, answers 503 with Retry-After: the request may be sent again.
    Any other driver error is a bug of ours (500)."""
    outage = is_unavailable(error)
    if not (outage or is_contention(error)):
        return handle_unexpected(error)
    from clinic.extensions import db

    with contextlib.suppress(SQLAlchemyError):  # the connection may be gone already
        db.session.rollback()
    log.warning("database unavailable on %s %s: %s", request.method, request.path, error)
    retry_after = RETRY_AFTER_OUTAGE if outage else RETRY_AFTER_BUSY
    message = (
        "The database cannot be reached right now. Please try again in a moment."
        if outage
        else "The database is busy right now. Please try again in a moment."
    )
    if _wants_json():
        response = json_error(503, "unavailable", message)
    else:
        # A page of its own: the usual layout asks the database who is signed in.
        response = Response(
            render_template("errors/unavailable.html", message=message),
            status=503,
            mimetype="text/html",
        )
    response.headers["Retry-After"] = str(retry_after)
    return response


def handle_too_deep(error: RecursionError) -> Any:
    """JSON nested a thousand deep exhausts the parser's recursion: bad input, not a bug."""
    log.warning("refused a body nested too deeply on %s", request.path)
    message = "The body is nested too deeply to be read."
    if _wants_json():
        return json_error(400, "bad_request", message)
    return _render_error_page(400, "Bad request", message)


def handle_unexpected(error: Exception) -> Any:
    log.exception("unhandled error on %s %s", request.method, request.path)
    message = "Something went wrong on our side. The error has been logged."
    if _wants_json():
        return json_error(500, "internal_error", message)
    return _render_error_page(500, "Server error", message)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(DataError, handle_unstorable_value)
    app.register_error_handler(OverflowError, handle_unstorable_value)
    app.register_error_handler(RecursionError, handle_too_deep)
    for database_error in (OperationalError, InterfaceError, PoolTimeout):
        app.register_error_handler(database_error, handle_database_error)
    app.register_error_handler(Exception, handle_unexpected)
