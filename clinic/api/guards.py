"""Input rules every JSON endpoint shares, applied to all of them when the API is built, so
an endpoint added by any feature gets them without asking:

- an integer in a JSON body must be a JSON integer: 2.9 (or "2") is refused with 422, never
  truncated to 2 (`refuse_loose_types`; a boolean is true or false, not 0);
- a query parameter the endpoint does not know is refused with 422 (a typo in a filter
  would otherwise return everything);
- a body that is not `application/json` is refused with 415 (before, its fields were
  silently missing and the answer a confusing 422);
- a PATCH with nothing to change is refused with 422 (before, it answered 200 and did
  nothing);
- a path id that cannot exist (above 2^31-1) answers 404 like any unknown id, instead of
  a database error on some paths and 422 on others (`IdConverter`).

The body checks run after the caller is known to be allowed (an anonymous caller still
gets 401 and a wrong role 403 first, as `@requires` promises).
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Flask, request
from flask_login import current_user
from werkzeug.exceptions import UnsupportedMediaType
from werkzeug.routing import IntegerConverter, Map

from clinic.errors import Invalid
from clinic.permissions import role_can

MAX_ID = 2**31 - 1


def _digits_up_to(limit: str) -> list[str]:
    """Regex alternatives matching exactly the decimal numbers 0..limit (no sign)."""
    shorter = [f"[0-9]{{1,{len(limit) - 1}}}"] if len(limit) > 1 else []
    same_length = []
    for index, digit in enumerate(limit):
        if digit != "0":
            rest = len(limit) - index - 1
            lower = "[1-9]" if index == 0 else "[0-9]"
            if index == 0 and digit == "1":
                continue
            below = f"[{lower[1]}-{int(digit) - 1}]"
            same_length.append(limit[:index] + below + (f"[0-9]{{{rest}}}" if rest else ""))
    return [*shorter, *same_length, limit]


class IdConverter(IntegerConverter):
    """Flask's `int` converter bounded by the database's integer: a larger id matches no
    route, so it answers 404 everywhere. The bound is in the regex, not only in `max`: a
    value refused after matching would make Werkzeug answer 405 for the other methods of
    the same path."""

    regex = "(?:" + "|".join(_digits_up_to(str(MAX_ID))) + ")"

    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def install_id_converter(app: Flask) -> None:
    """Before any route is added: every `<int:...>` becomes an `IdConverter`."""
    app.url_map.converters["int"] = IdConverter


def _argument_schemas(view: Any) -> list[tuple[str, Any]]:
    arguments = getattr(view, "_apidoc", {}).get("arguments", {})
    return [(p["in"], p["schema"]) for p in arguments.get("parameters", [])]


def _schema_instance(schema: Any) -> ma.Schema | None:
    """The argument's schema (`clinic.api.blueprint` hands every view an instance)."""
    return schema if isinstance(schema, ma.Schema) else None


def _loose(field: Any, value: Any, name: str, found: dict[str, list[str]]) -> None:
    """Collect, by field name, each value marshmallow would have cast rather than refused:
    2.9 or "2" for an integer (truncated or parsed), 0 or "yes" for a boolean, "1.5" for a
    number, 1.5 for a decimal that travels as a string (money)."""
    if value is None:
        return  # the schema itself says whether null is allowed
    if isinstance(field, ma.fields.Integer):
        if isinstance(value, bool) or not isinstance(value, int):
            found.setdefault(name, []).append("Not a valid integer.")
    elif isinstance(field, ma.fields.Boolean):
        if not isinstance(value, bool):
            found.setdefault(name, []).append("Not a valid boolean (true or false).")
    elif isinstance(field, ma.fields.Decimal) and field.as_string:
        if not isinstance(value, str):  # money travels as a decimal string, never a float
            found.setdefault(name, []).append('Not a valid decimal string (e.g. "325.00").')
    elif isinstance(field, ma.fields.Number):
        if isinstance(value, bool) or not isinstance(value, int | float):
            found.setdefault(name, []).append("Not a valid number.")
    elif isinstance(field, ma.fields.Nested):
        items = value if field.many and isinstance(value, list) else [value]
        nested = field.schema
        for index, item in enumerate(items):
            label = f"{name}.{index}" if field.many else name
            if isinstance(item, dict) and isinstance(nested, ma.Schema):
                _walk(nested, item, f"{label}.", found)
    elif isinstance(field, ma.fields.List) and isinstance(value, list):
        for index, item in enumerate(value):
            _loose(field.inner, item, f"{name}.{index}", found)
    elif isinstance(field, ma.fields.Dict) and isinstance(value, dict) and field.value_field:
        for key, item in value.items():
            _loose(field.value_field, item, f"{name}.{key}", found)


def _walk(
    schema: ma.Schema, data: dict[str, Any], prefix: str, found: dict[str, list[str]]
) -> None:
    for name, field in schema.fields.items():
        key = field.data_key or name
        if not field.dump_only and key in data:
            _loose(field, data[key], prefix + key, found)


def refuse_loose_types(schema: Any, body: Any) -> None:
    """A JSON body's values must have the document's JSON types: 2.9 or "2" for an
    integer, 0 for a boolean are refused with 422, never truncated or cast (marshmallow
    would; a query string stays text and keeps parsing "12")."""
    instance = _schema_instance(schema)
    if instance is None or not isinstance(body, dict):
        return
    found: dict[str, list[str]] = {}
    _walk(instance, body, "", found)
    if found:
        raise Invalid("The request has invalid fields.", fields=found)


def refuse_unknown_query(schemas: list[Any]) -> None:
    """Only the parameters the endpoint's query schema declares (none without one)."""
    known: set[str] = set()
    for schema in schemas:
        instance = _schema_instance(schema)
        if instance is not None:
            known.update(f.data_key or n for n, f in instance.fields.items() if not f.dump_only)
    unknown = sorted(set(request.args) - known)
    if unknown:
        raise Invalid(
            "Unknown query parameter.", fields={name: ["Unknown parameter."] for name in unknown}
        )


def _allowed(view: Any) -> bool:
    """Whether `@requires` will let this caller through (its refusal must come first)."""
    permission = getattr(view, "required_permission", None)
    if permission is None:
        return True
    return bool(current_user.is_authenticated and role_can(current_user.role, permission))


def check_body(app: Flask) -> None:
    """Refuse a non-JSON body (415) and an empty PATCH (422) on JSON endpoints."""
    view = app.view_functions.get(request.endpoint or "")
    if view is None or not request.path.startswith("/api/"):
        return
    arguments = _argument_schemas(view)
    if not arguments or not _allowed(view):
        return
    refuse_unknown_query([schema for location, schema in arguments if location == "query"])
    schemas = [schema for location, schema in arguments if location == "json"]
    if not schemas:
        return
    has_body = bool(request.content_length) or bool(request.headers.get("Transfer-Encoding"))
    if has_body and not request.is_json:
        raise UnsupportedMediaType("Send the body as application/json.")
    body = request.get_json(silent=True) if has_body else None
    if request.method == "PATCH" and not body:
        raise Invalid(
            "Send at least one field to change.", fields={"_schema": ["Nothing to change."]}
        )
    for schema in schemas:
        refuse_loose_types(schema, body)


def install(app: Flask) -> None:
    """Called once the API's blueprints are registered."""
    app.before_request(lambda: check_body(app))
