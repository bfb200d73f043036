"""Hypothesis throws random, unicode, huge, missing and extra input at every account form
and endpoint: the answer is always a 4xx with a message (or a re-rendered form), never a
5xx, and a refused change writes nothing."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from clinic.auth.models import ApiToken, RolePolicy, User
from clinic.extensions import db
from tests.factories import PASSWORD, ApiClient, login, make_user

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

sendable = st.characters(exclude_categories=("Cs",))  # lone surrogates cannot go over HTTP
huge = st.builds(lambda ch, n: ch * n, sendable, st.integers(300, 20_000))
values = st.one_of(
    st.text(max_size=40),
    huge,
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.sampled_from(["", " ", "admin", "front_desk", "y", "0", "1", "a@b.co", "\u202e", "😀"]),
)


def forms(*names: str) -> st.SearchStrategy[dict[str, str]]:
    """Any subset of the real field names (missing fields) plus random extra ones."""
    known = st.fixed_dictionaries({}, optional=dict.fromkeys(names, values))
    extra = st.dictionaries(st.text(min_size=1, max_size=12), values, max_size=3)
    return st.builds(lambda a, b: {**b, **a}, known, extra)


def _count(model: Any) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def _assert_answered(response: Any) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)[:300]
    if response.status_code >= 400:
        body = response.get_data(as_text=True)
        assert body.strip() and "Traceback" not in body
        if response.is_json:
            assert response.json["error"]["message"]


@pytest.fixture
def admin_client(client: Any, admin: Any) -> Any:
    login(client, admin)
    return client


@FUZZ
@given(data=forms("email", "password"))
def test_login_form(client: Any, data: dict[str, str]) -> None:
    response = client.post("/login", data=data)
    _assert_answered(response)
    assert response.status_code != 302  # nobody exists: a random form never signs in


@FUZZ
@given(data=forms("code"))
def test_totp_form(client: Any, app: Any, data: dict[str, str]) -> None:
    response = client.post("/login/totp", data=data)
    _assert_answered(response)
    assert client.get("/profile").status_code == 302


@FUZZ
@given(data=forms("current_password", "new_password", "confirm"))
def test_password_change_form(admin_client: Any, admin: Any, data: dict[str, str]) -> None:
    before = db.session.scalar(select(User.password_hash).where(User.id == admin.id))
    response = admin_client.post("/profile/password", data=data)
    _assert_answered(response)
    after = db.session.scalar(select(User.password_hash).where(User.id == admin.id))
    assert (after != before) == (response.status_code == 302)


@FUZZ
@given(data=forms("label"))
def test_token_form(admin_client: Any, data: dict[str, str]) -> None:
    before = _count(ApiToken)
    response = admin_client.post("/profile/tokens", data=data)
    _assert_answered(response)
    assert _count(ApiToken) == before + (1 if response.status_code == 201 else 0)


@FUZZ
@given(data=forms("email", "name", "role", "password"))
def test_user_create_form(admin_client: Any, data: dict[str, str]) -> None:
    before = _count(User)
    response = admin_client.post("/admin/users/new", data=data)
    _assert_answered(response)
    assert _count(User) == before + (1 if response.status_code == 302 else 0)


@FUZZ
@given(data=forms("name", "role"))
def test_user_edit_form(admin_client: Any, app: Any, data: dict[str, str]) -> None:
    target = db.session.scalar(select(User).where(User.email == "fuzz-target@tms-clinic.org"))
    target = target or make_user("technician", email="fuzz-target@tms-clinic.org")
    before = (target.name, target.role)
    response = admin_client.post(f"/admin/users/{target.id}", data=data)
    _assert_answered(response)
    db.session.refresh(target)
    if response.status_code != 302:
        assert (target.name, target.role) == before


@FUZZ
@given(data=forms("new_password", "active"))
def test_user_reset_and_active_forms(admin_client: Any, data: dict[str, str]) -> None:
    target = db.session.scalar(select(User).where(User.email == "fuzz-reset@tms-clinic.org"))
    target = target or make_user("clinician", email="fuzz-reset@tms-clinic.org")
    _assert_answered(admin_client.post(f"/admin/users/{target.id}/reset", data=data))
    _assert_answered(admin_client.post(f"/admin/users/{target.id}/active", data=data))


@FUZZ
@given(data=forms(*(f"require_totp_{role}" for role in ("admin", "front_desk", "clinician"))))
def test_policy_form(admin_client: Any, data: dict[str, str]) -> None:
    response = admin_client.post("/admin/policy", data=data)
    _assert_answered(response)
    assert _count(RolePolicy) in (0, 4)  # all roles saved together, or none


@FUZZ
@given(query=forms("entity_type", "entity_id", "actor_id", "action", "since", "until", "page"))
def test_audit_page_filters(admin_client: Any, query: dict[str, str]) -> None:
    _assert_answered(admin_client.get("/admin/audit/", query_string=query))


@FUZZ
@given(query=forms("entity_type", "entity_id", "actor_id", "action", "limit", "offset"))
def test_audit_api_query(api: ApiClient, admin: Any, query: dict[str, str]) -> None:
    response = api.as_(admin).get("/api/v1/audit", query_string=query)
    _assert_answered(response)
    if response.status_code == 200:
        assert isinstance(response.json["items"], list)


header_text = st.text(
    alphabet=st.characters(min_codepoint=32, max_codepoint=255, exclude_characters="\x7f"),
    max_size=300,
)


@FUZZ
@given(
    scheme=st.sampled_from(["Bearer ", "bearer ", "Basic ", "", "Bearer tms_"]), rest=header_text
)
def test_me_with_any_authorization_header(client: Any, scheme: str, rest: str) -> None:
    response = client.get("/api/v1/me", headers={"Authorization": scheme + rest})
    _assert_answered(response)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_password_step_then_random_codes_never_sign_in(client: Any, app: Any) -> None:
    """The TOTP form fuzzed with a real pending sign-in behind it."""
    import pyotp

    from clinic.auth import services as auth

    user = make_user("clinician")
    secret = auth.new_totp_secret()
    auth.enable_totp(user, secret, pyotp.TOTP(secret).now())
    db.session.commit()
    assert (
        client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 302
    )

    @FUZZ
    @given(data=forms("code"))
    def attempt(data: dict[str, str]) -> None:
        _assert_answered(client.post("/login/totp", data=data))

    attempt()
    assert client.get("/profile").status_code == 302
