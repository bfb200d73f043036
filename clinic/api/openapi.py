"""Make the OpenAPI document tell the whole truth, without each endpoint repeating it.

Most error answers follow from what a view already declares, so a plugin adds them to
every operation as its path is registered:

- 401 and 403 from `@requires(...)` (401 only for `@public` views: none);
- 404 to every path with a `{parameter}` (an unknown or impossible id), and to every
  operation whose body or query names a row (`course_id`, ...);
- 400 (malformed JSON), 413 (too large) and 415 (not JSON) to every operation with a body;
- 422 to every operation with a body, a query or a path parameter (a weekday 9);
- 503 (database unreachable, with `Retry-After`) to every operation;
- an `operationId` from the endpoint's name.

What only the service knows (a 409 and its codes, a 422 with a precise code) a view states
with `@declares(409, codes=[...])`. No `default` response: a status the document does not
list is a bug, and schemathesis says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from apispec import BasePlugin
from flask import Flask

from clinic.errors import HTTP_CODES

F = TypeVar("F", bound=Callable[..., Any])

DECLARED_ATTR = "declared_statuses"

STATUS_MEANINGS = {
    400: "The body is not JSON a parser can read (malformed, or nested too deeply).",
    401: "No valid API token: send `Authorization: Bearer <token>`.",
    403: "The token's role does not allow this action.",
    404: "No row with an id given in the path, body or query (ids above 2^31-1 too).",
    409: "The request clashes with the current state.",
    410: "The link was used or has expired.",
    413: "The body is larger than the server accepts.",
    415: "The body must be `application/json`.",
    422: "The request has invalid fields; `fields` names each one.",
    503: "The database cannot be reached right now; retry after `Retry-After` seconds.",
}


def declares(status: int, codes: Iterable[str] = (), description: str | None = None) -> Any:
    """State an answer only the service knows: `@declares(409, codes=["device_exists"])`.

    Put it under the route decorator (with `@requires`/`@blp.response`); it may be repeated.
    The codes appear in the document's description and examples for that status."""

    def decorator(view: F) -> F:
        declared: dict[int, dict[str, Any]] = dict(getattr(view, DECLARED_ATTR, {}))
        before = declared.get(status, {"codes": [], "description": None})
        declared[status] = {
            "codes": [*before["codes"], *codes],
            "description": description or before["description"],
        }
        setattr(view, DECLARED_ATTR, declared)
        return view

    return decorator


def _error_response(status: int, codes: list[str], description: str | None) -> dict[str, Any]:
    codes = codes or [HTTP_CODES.get(status, "error")]
    text = description or STATUS_MEANINGS.get(status, "Error.")
    text += " Codes: " + ", ".join(f"`{code}`" for code in codes) + "."
    examples = {
        code: {
            "value": {"error": {"code": code, "message": text.split(".")[0] + ".", "fields": {}}}
        }
        for code in codes
    }
    response: dict[str, Any] = {
        "description": text,
        "content": {
            "application/json": {
                "schema": {"$ref": "#/components/schemas/Error"},
                "examples": examples,
            }
        },
    }
    if status == 503:
        response["headers"] = {
            "Retry-After": {
                "description": "Seconds to wait before retrying.",
                "schema": {"type": "integer"},
            }
        }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {"description": "`Bearer`", "schema": {"type": "string"}}
        }
    return response


class TruthPlugin(BasePlugin):
    """Adds the answers every operation can give (see the module docstring)."""

    def __init__(self, app: Flask) -> None:
        super().__init__()
        self.app = app

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        view = self.app.view_functions.get(rule.endpoint)
        permission = getattr(view, "required_permission", None)
        declared: dict[int, dict[str, Any]] = getattr(view, DECLARED_ATTR, {})
        for method, operation in operations.items():
            operation.setdefault("operationId", _operation_id(rule.endpoint, method, rule))
            responses: dict[Any, Any] = operation.setdefault("responses", {})
            responses.pop("default", None)
            statuses = self._implied(rule, operation, permission, view)
            statuses.update({status: dict(entry) for status, entry in declared.items()})
            for status, entry in sorted(statuses.items()):
                responses.pop(status, None)
                responses.pop(str(status), None)
                codes = list(dict.fromkeys(entry.get("codes") or []))
                if status == 422 and "validation_error" not in codes:
                    codes.insert(0, "validation_error")
                responses[str(status)] = _error_response(status, codes, entry.get("description"))
            if permission is None:
                operation["security"] = []

    @staticmethod
    def _implied(
        rule: Any, operation: dict[str, Any], permission: Any, view: Any
    ) -> dict[int, Any]:
        statuses: dict[int, Any] = {503: {}}
        if permission is not None:
            statuses[401] = {}
            statuses[403] = {}
        if rule.arguments or _names_rows(view):
            statuses[404] = {}
        has_body = "requestBody" in operation
        has_query = any(p.get("in") == "query" for p in operation.get("parameters", []))
        if has_body:
            statuses.update({400: {}, 413: {}, 415: {}})
        if has_body or has_query or rule.arguments:
            statuses[422] = {}
        return statuses


def _names_rows(view: Any) -> bool:
    """Whether the body or query names a row by id (`course_id`...): an unknown one is 404."""
    arguments = getattr(view, "_apidoc", {}).get("arguments", {})
    for parameter in arguments.get("parameters", []):
        schema = parameter["schema"]
        fields = getattr(schema, "_declared_fields", None) or getattr(schema, "fields", {})
        if any(name.endswith("_id") for name in fields):
            return True
    return False


def _operation_id(endpoint: str, method: str, rule: Any) -> str:
    """`scheduling_api.update_device` -> `update_device`; a view serving several methods
    gets the method in front (`get_x`/`post_x`) so ids stay unique."""
    name = endpoint.rsplit(".", 1)[-1]
    methods = [m for m in rule.methods or () if m not in ("HEAD", "OPTIONS")]
    return name if len(methods) <= 1 else f"{method.lower()}_{name}"


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)


def _closure(names: set[str], schemas: dict[str, Any]) -> set[str]:
    """The schemas `names` use, directly or through others."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen or name not in schemas:
            continue
        seen.add(name)
        inner: set[str] = set()
        _refs(schemas[name], inner)
        todo.extend(inner - seen)
    return seen


def finish_document(document: dict[str, Any]) -> dict[str, Any]:
    """What only the whole document shows: a schema used only in answers lists every
    property as `required` (we always send every key, null or not), so clients may rely
    on them; schemathesis checks each answer against it."""
    schemas: dict[str, Any] = document.get("components", {}).get("schemas", {})
    answered: set[str] = set()
    asked: set[str] = set()
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict):
                continue
            for status, response in operation.get("responses", {}).items():
                if str(status).startswith("2"):
                    _refs(response, answered)
            _refs(operation.get("requestBody", {}), asked)
            _refs(operation.get("parameters", []), asked)
    for name in _closure(answered, schemas) - _closure(asked, schemas):
        properties = schemas[name].get("properties", {})
        required = [key for key, value in properties.items() if not value.get("writeOnly")]
        if required:
            schemas[name]["required"] = required
    return document
