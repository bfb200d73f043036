"""Web security the whole app shares: headers, cookies, CSRF, redirects, error answers."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from clinic import create_app
from clinic.audit.models import AuditEvent
from clinic.extensions import db
from clinic.permissions import public
from tests.factories import PASSWORD, login, make_user


def _assert_security_headers(response: Any) -> None:
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def _boom() -> Any:
    raise RuntimeError("secret internals must not leak")


@pytest.fixture
def exploding_app(app: Flask) -> Flask:
    """The test app plus two test-only routes that fail unexpectedly."""
    app.add_url_rule("/test-only/boom", "test_boom_page", public(_boom))
    app.add_url_rule("/api/v1/test-only/boom", "test_boom_api", public(_boom))
    return app


@pytest.mark.own_app
def test_headers_on_pages_api_and_error_answers(
    exploding_app: Flask, admin: Any, caplog: Any
) -> None:
    client = exploding_app.test_client()
    login(client, admin)
    for path in ("/login", "/profile", "/admin/users", "/api/v1/health", "/api/v1/me",
                 "/no-such-page", "/api/v1/no-such-thing", "/test-only/boom",
                 "/api/v1/test-only/boom", "/static/css/app.css"):  # fmt: skip
        _assert_security_headers(client.get(path))
    assert client.post("/profile").status_code == 405
    _assert_security_headers(client.post("/profile"))


def test_pages_and_api_answers_are_never_cached(client: Any, admin: Any) -> None:
    login(client, admin)
    for path in ("/profile", "/admin/users", "/admin/audit/", "/api/v1/health"):
        assert "no-store" in client.get(path).headers["Cache-Control"], path


def test_session_cookie_is_httponly_and_samesite_lax_but_not_secure_in_development(
    client: Any, admin: Any
) -> None:
    cookie = login(client, admin).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_session_cookie_is_secure_in_production(
    app_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLINIC_ENV", "production")
    monkeypatch.setenv("CLINIC_SECRET_KEY", "p" * 40)
    production = create_app({**app_config, "TESTING": False})
    assert production.config["SECRET_KEY"] == "p" * 40
    with production.app_context():
        user = make_user("admin")
        response = production.test_client().post(
            "/login", data={"email": user.email, "password": PASSWORD}
        )
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


@pytest.mark.parametrize(
    ("proxy_count", "recorded"),
    [(1, "203.0.113.9"), (0, "127.0.0.1")],
)
def test_the_audit_records_the_client_behind_a_trusted_proxy_only(
    app_config: dict[str, Any], proxy_count: int, recorded: str
) -> None:
    """With CLINIC_PROXY_COUNT=1 the proxy's X-Forwarded-For names the client; the hop
    the client could have written itself (the first entry) is never believed. Without
    a proxy setting the header is ignored: anyone could send it."""
    proxied = create_app({**app_config, "CLINIC_PROXY_COUNT": proxy_count})
    with proxied.app_context():
        user = make_user("clinician")
        response = proxied.test_client().post(
            "/login",
            data={"email": user.email, "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.66, 203.0.113.9"},
        )
        assert response.status_code == 302
        login_event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "login"))
        assert login_event is not None and login_event.address == recorded


@pytest.fixture
def csrf_app(app_config: dict[str, Any]) -> Any:
    """CSRF switched on. No app context is held across requests here: Flask-WTF caches
    the token on `g`, which a shared context would carry from one request to the next."""
    return create_app({**app_config, "WTF_CSRF_ENABLED": True})


def _user(app: Flask, role: str) -> Any:
    with app.app_context():
        user = make_user(role)
        return user.email


def _csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page) or re.search(
        r'name="csrf_token" value="([^"]+)"', page
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def test_csrf_refuses_a_form_without_its_token_with_a_clear_message(csrf_app: Any) -> None:
    email = _user(csrf_app, "clinician")
    client = csrf_app.test_client()
    refused = client.post("/login", data={"email": email, "password": PASSWORD})
    assert refused.status_code == 400
    assert "Your form expired or was sent twice" in refused.get_data(as_text=True)

    token = _csrf_token(client.get("/login").get_data(as_text=True))
    data = {"email": email, "password": PASSWORD, "csrf_token": token}
    assert client.post("/login", data=data).status_code == 302

    # Signed in, a form posted from another site (no token, a foreign referrer) is refused.
    foreign = client.post("/profile/tokens", data={"label": "x"}, headers={"Referer": "/profile"})
    assert foreign.status_code == 302
    assert "Your form expired" in client.get("/profile").get_data(as_text=True)
    token = _csrf_token(client.get("/profile").get_data(as_text=True))
    created = client.post("/profile/tokens", data={"label": "x", "csrf_token": token})
    assert created.status_code == 201, created.get_data(as_text=True)


def test_every_post_form_on_every_page_carries_a_csrf_token(csrf_app: Any) -> None:
    """Walks every argument-free page an admin can open; new features are covered too."""
    email = _user(csrf_app, "admin")
    client = csrf_app.test_client()
    token = _csrf_token(client.get("/login").get_data(as_text=True))
    client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    checked = 0
    for rule in csrf_app.url_map.iter_rules():
        if rule.arguments or "GET" not in (rule.methods or ()) or rule.rule.startswith("/api/"):
            continue
        response = client.get(rule.rule)
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        for form in re.findall(r"<form[^>]*>.*?</form>", response.get_data(as_text=True), re.S):
            if 'method="post"' in form:
                assert 'name="csrf_token"' in form, f"{rule.rule}: {form[:200]}"
                checked += 1
    assert checked >= 5


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "/%5Cevil.example",
        "%2F%2Fevil.example",
        "/%09/evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
    ],
)
def test_next_never_leaves_the_site(client: Any, admin: Any, target: str) -> None:
    response = client.post(
        f"/login?next={target}", data={"email": admin.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//")
    assert "evil" not in location and "javascript" not in location


def test_next_within_the_site_is_honoured(client: Any, admin: Any) -> None:
    first = client.get("/admin/users")
    assert first.status_code == 302
    target = first.headers["Location"]
    assert target == "/login?next=/admin/users"
    response = client.post(target, data={"email": admin.email, "password": PASSWORD})
    assert response.headers["Location"] == "/admin/users"


@pytest.mark.own_app
def test_error_pages_are_plain_and_never_a_traceback(exploding_app: Flask, caplog: Any) -> None:
    client = exploding_app.test_client()
    page = client.get("/no-such-page")
    assert page.status_code == 404 and page.mimetype == "text/html"
    not_allowed = client.put("/login")
    assert not_allowed.status_code == 405 and not_allowed.mimetype == "text/html"

    crash = client.get("/test-only/boom")
    body = crash.get_data(as_text=True)
    assert crash.status_code == 500 and crash.mimetype == "text/html"
    assert "Something went wrong on our side" in body
    assert "Traceback" not in body and "secret internals" not in body
    assert "secret internals" in caplog.text  # logged for the operator instead

    api_crash = client.get("/api/v1/test-only/boom")
    assert api_crash.status_code == 500
    assert api_crash.json["error"]["code"] == "internal_error"
    assert "secret internals" not in api_crash.get_data(as_text=True)

    api_405 = client.post("/api/v1/health")
    assert api_405.status_code == 405
    assert api_405.json["error"]["code"] == "method_not_allowed"


def test_nul_characters_are_refused_with_a_message(client: Any, api: Any, admin: Any) -> None:
    response = client.post("/login", data={"email": "a\x00@b.org", "password": "x"})
    assert response.status_code == 422
    assert "NUL" in response.get_data(as_text=True)
    answer = api.as_(admin).get("/api/v1/audit?entity_type=pa%00tient")
    assert answer.status_code == 422 and answer.json["error"]["code"] == "validation_error"
