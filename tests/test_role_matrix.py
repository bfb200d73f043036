"""The contract's role table, proven against every route the app has.

The app's URL map is walked at collection time, so a page or API endpoint added by any
feature is covered without touching this file:

- every view must declare `required_permission` (`@requires(...)` or `@public`);
- for every rule x method x role a request with placeholder ids and an empty body gets
  exactly 403 when the role lacks the permission (JSON code `forbidden` on the API) and
  never 401/403/5xx when it has it (404/409/422/302 ... are fine for placeholder input);
- anonymous callers get 401 `unauthorized` on the API and a redirect to /login on pages,
  except on `@public` views.

One app and one database per backend serve the whole walk; sessions are written straight
into the test client's cookie and API tokens are made once per role, so the walk costs one
request per case.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.routing import Rule
from werkzeug.routing.converters import FloatConverter, IntegerConverter, UUIDConverter

from clinic import clock, create_app
from clinic.auth import LAST_SEEN_KEY
from clinic.auth import services as auth
from clinic.auth.models import User
from clinic.extensions import db
from clinic.permissions import ROLE_PERMISSIONS, Permission, Role
from tests.conftest import TemplateDatabase, _test_config

PLACEHOLDER_INT = 999999
PLACEHOLDER_TEXT = "placeholder"
IGNORED_METHODS = {"HEAD", "OPTIONS"}
# Views the frameworks register themselves; both are deliberately open to anyone.
FRAMEWORK_VIEWS = {
    "static": "Flask's static files (CSS, JS, vendored assets)",
    "api-docs.openapi_json": "the OpenAPI document, public by the contract",
}
UNDECLARED = object()


@dataclass(frozen=True)
class Case:
    endpoint: str
    method: str
    url: str
    permission: Permission | None  # None: @public

    @property
    def is_api(self) -> bool:
        """Token paths: the JSON API and FHIR (which answers OperationOutcome bodies)."""
        return self.url.startswith(("/api/", "/fhir/"))

    @property
    def is_fhir(self) -> bool:
        return "/fhir/" in self.url

    def __str__(self) -> str:
        return f"{self.method} {self.url} ({self.endpoint})"


def _declared(view: Any, method: str) -> Any:
    """The permission a view declares for `method` (class-based views declare per method)."""
    view_class = getattr(view, "view_class", None)
    if view_class is not None:
        handler = getattr(view_class, method.lower(), None)
        return getattr(handler, "required_permission", UNDECLARED)
    return getattr(view, "required_permission", UNDECLARED)


def _placeholder(converter: Any) -> Any:
    if isinstance(converter, IntegerConverter):
        return PLACEHOLDER_INT
    if isinstance(converter, FloatConverter):
        return float(PLACEHOLDER_INT)
    if isinstance(converter, UUIDConverter):
        return uuid.UUID(int=PLACEHOLDER_INT)
    return PLACEHOLDER_TEXT


def _url(rule: Rule) -> str:
    values = {name: _placeholder(conv) for name, conv in rule._converters.items()}
    built = rule.build(values, append_unknown=False)
    assert built is not None, f"cannot build {rule.rule}"
    return built[1]


def _walk(app: Flask) -> tuple[list[Case], list[str]]:
    """Every (rule, method) of the app, and the views that declare no permission."""
    cases: list[Case] = []
    undeclared: list[str] = []
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: (r.rule, r.endpoint)):
        if rule.endpoint in FRAMEWORK_VIEWS:
            continue
        view = app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - IGNORED_METHODS):
            permission = _declared(view, method)
            if permission is UNDECLARED:
                undeclared.append(f"{method} {rule.rule} ({rule.endpoint})")
                continue
            cases.append(Case(rule.endpoint, method, _url(rule), permission))
    return cases, undeclared


_COLLECTION_APP = create_app(_test_config("sqlite://"))
CASES, UNDECLARED_VIEWS = _walk(_COLLECTION_APP)
ROLE_CASES = [(case, role) for case in CASES if case.permission is not None for role in Role]


def test_every_view_declares_a_permission() -> None:
    assert not UNDECLARED_VIEWS, (
        "views without @requires(...) or @public (put it right under the route decorator): "
        + ", ".join(UNDECLARED_VIEWS)
    )


def test_the_walk_sees_pages_and_api() -> None:
    """Guards the walk itself: if it found nothing, every other test here would pass."""
    urls = {case.url for case in CASES}
    assert {"/admin/users", "/profile", "/api/v1/me", "/api/v1/audit"} <= urls


@dataclass
class Matrix:
    app: Flask
    users: dict[Role, User]
    tokens: dict[Role, str]


@pytest.fixture(scope="module")
def matrix(template_database: TemplateDatabase) -> Iterator[Matrix]:
    url, cleanup = template_database.clone()
    app = create_app(_test_config(url))
    with app.app_context():
        users = {}
        tokens = {}
        for role in Role:
            users[role] = auth.create_user(
                email=f"matrix-{role.value}@tms-clinic.org",
                name=f"Matrix {role.label}",
                role=role.value,
                password="matrix password 1",
            )
            tokens[role] = auth.create_token(users[role], "role matrix")
        db.session.commit()
        yield Matrix(app, users, tokens)
        db.session.remove()
        db.engine.dispose()
    cleanup()


def _signed_in_client(matrix: Matrix, role: Role) -> FlaskClient:
    """A client whose cookie carries a live session of `role` (read fresh: a walked
    /logout or password change rotates the user's session token)."""
    session_token = db.session.scalar(
        select(User.session_token).where(User.id == matrix.users[role].id)
    )
    client = matrix.app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = f"{matrix.users[role].id}:{session_token}"
        session["_fresh"] = True
        session[LAST_SEEN_KEY] = clock.now().timestamp()
        session.permanent = True
    return client


def _send(client: FlaskClient, case: Case, token: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kwargs: dict[str, Any] = {"headers": headers}
    if case.method in ("POST", "PUT", "PATCH"):
        kwargs["json" if case.is_api else "data"] = {}
    response = client.open(case.url, method=case.method, **kwargs)
    db.session.rollback()  # nothing a view left in this thread's session leaks into the next
    return response


@pytest.mark.parametrize(
    ("case", "role"), ROLE_CASES, ids=[f"{c.method} {c.url} as {r.value}" for c, r in ROLE_CASES]
)
def test_role_gets_what_the_contract_says(matrix: Matrix, case: Case, role: Role) -> None:
    assert case.permission is not None
    allowed = role in ROLE_PERMISSIONS[case.permission]
    if case.is_api:
        response = _send(matrix.app.test_client(), case, matrix.tokens[role])
    else:
        response = _send(_signed_in_client(matrix, role), case)
    what = f"{case} as {role.value} (needs {case.permission.value})"
    body = response.get_data(as_text=True)[:300]
    if allowed:
        assert response.status_code not in (401, 403), f"{what}: refused, {body}"
        assert response.status_code < 500, f"{what}: {response.status_code}, {body}"
    else:
        assert response.status_code == 403, f"{what}: expected 403, got {response.status_code}"
        if case.is_fhir:
            assert response.json["issue"][0]["code"] == "forbidden", what
        elif case.is_api:
            assert response.json["error"]["code"] == "forbidden", what
    assert "Traceback" not in body


@pytest.mark.parametrize("case", CASES, ids=[str(c) for c in CASES])
def test_anonymous_is_sent_to_sign_in(matrix: Matrix, case: Case) -> None:
    response = _send(matrix.app.test_client(), case)
    if case.permission is None:
        assert response.status_code < 500, f"public {case}: {response.status_code}"
    elif case.is_api:
        assert response.status_code == 401, f"{case}: {response.status_code}"
        if case.is_fhir:
            assert response.json["issue"][0]["code"] == "login"
        else:
            assert response.json["error"]["code"] == "unauthorized"
    else:
        assert response.status_code == 302, f"{case}: {response.status_code}"
        assert response.headers["Location"].startswith("/login"), case


@pytest.mark.parametrize("endpoint", sorted(FRAMEWORK_VIEWS))
def test_framework_views_stay_open(matrix: Matrix, endpoint: str) -> None:
    rule = next(r for r in matrix.app.url_map.iter_rules() if r.endpoint == endpoint)
    url = _url(rule) if endpoint != "static" else "/static/css/app.css"
    assert matrix.app.test_client().get(url).status_code == 200


def test_security_doc_shows_the_current_role_table() -> None:
    from pathlib import Path

    from clinic.permissions import permission_table_markdown

    doc = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
    assert permission_table_markdown() in doc, "regenerate the table in docs/security.md"
