"""The account pages as a person uses them: sign-in, sessions, TOTP, profile, user admin."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import time_machine
from flask.testing import FlaskClient
from sqlalchemy import select

from clinic.auth import services as auth
from clinic.auth.models import ApiToken, User
from clinic.extensions import db
from tests.auth.conftest import T0, code_for, events, is_signed_in, post_login
from tests.factories import PASSWORD, login, make_user

# --- sign-in, throttling, audit ---------------------------------------------------------


def test_sign_in_lands_on_a_working_page_and_is_audited_with_the_address(
    client: FlaskClient, technician: Any
) -> None:
    response = post_login(client, technician.email)
    assert response.status_code == 302
    assert is_signed_in(client)
    [event] = events("login")
    assert (event.actor_id, event.address) == (technician.id, "127.0.0.1")


def test_wrong_password_is_refused_audited_and_not_signed_in(
    client: FlaskClient, technician: Any
) -> None:
    response = post_login(client, technician.email, "not my password")
    assert response.status_code == 401
    assert "Wrong email or password." in response.get_data(as_text=True)
    assert not is_signed_in(client)
    [event] = events("login_failed")
    assert (event.entity_id, event.address) == (technician.id, "127.0.0.1")


def test_throttled_account_refuses_even_the_right_password_until_the_window_passes(
    client: FlaskClient, clinician: Any
) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        for _ in range(auth.MAX_FAILURES_PER_ACCOUNT):
            post_login(client, clinician.email, "guessing wrong")
        response = post_login(client, clinician.email)
        assert response.status_code == 429
        assert "Too many failed sign-ins" in response.get_data(as_text=True)
        assert not is_signed_in(client)
        traveller.shift(auth.THROTTLE_WINDOW + timedelta(seconds=1))
        assert post_login(client, clinician.email).status_code == 302
        assert is_signed_in(client)


def test_deactivated_user_cannot_sign_in(client: FlaskClient, admin: Any) -> None:
    user = make_user("technician")
    auth.set_active(user, False, actor_id=admin.id)
    db.session.commit()
    assert post_login(client, user.email).status_code == 401


# --- sessions: idle timeout, logout everywhere, password change --------------------------


def test_idle_session_is_signed_out_after_the_timeout(app: Any, client: FlaskClient) -> None:
    user = make_user("front_desk")
    assert app.config["CLINIC_IDLE_TIMEOUT_MINUTES"] == 30
    with time_machine.travel(T0, tick=False) as traveller:
        login(client, user)
        traveller.shift(timedelta(minutes=29))
        assert is_signed_in(client)  # activity restarts the clock
        traveller.shift(timedelta(minutes=29))
        assert is_signed_in(client)
        traveller.shift(timedelta(minutes=31))
        response = client.get("/profile")
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/login")
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "signed out after a period of inactivity" in page
        assert not is_signed_in(client)


def test_idle_timeout_follows_the_setting(app_config: dict[str, Any], client: Any) -> None:
    from clinic import create_app

    short = create_app({**app_config, "CLINIC_IDLE_TIMEOUT_MINUTES": 5})
    with short.app_context():
        user = make_user("clinician")
        browser = short.test_client()
        with time_machine.travel(T0, tick=False) as traveller:
            login(browser, user)
            traveller.shift(timedelta(minutes=6))
            assert not is_signed_in(browser)


def test_logout_ends_the_other_sessions_too(
    client: FlaskClient, second_client: FlaskClient, clinician: Any
) -> None:
    login(client, clinician)
    login(second_client, clinician)
    response = client.post("/logout")
    assert response.status_code == 302
    assert not is_signed_in(client)
    assert not is_signed_in(second_client)
    assert events("logout")


def test_password_change_ends_other_sessions_and_keeps_this_one(
    client: FlaskClient, second_client: FlaskClient, front_desk: Any
) -> None:
    login(client, front_desk)
    login(second_client, front_desk)
    response = client.post(
        "/profile/password",
        data={
            "current_password": PASSWORD,
            "new_password": "another long password",
            "confirm": "another long password",
        },
    )
    assert response.status_code == 302
    assert is_signed_in(client)
    assert not is_signed_in(second_client)
    assert post_login(second_client, front_desk.email, "another long password").status_code == 302


def test_password_change_needs_the_current_password(client: FlaskClient, front_desk: Any) -> None:
    login(client, front_desk)
    response = client.post(
        "/profile/password",
        data={"current_password": "wrong!", "new_password": "x" * 12, "confirm": "x" * 12},
    )
    assert response.status_code == 422
    assert "not your current password" in response.get_data(as_text=True)


# --- TOTP ---------------------------------------------------------------------------------


def _secret_on(page: str) -> str:
    match = re.search(r'data-testid="totp-secret">([A-Z2-7]+)<', page)
    assert match, "no secret on the setup page"
    return match.group(1)


def _set_up_totp(client: FlaskClient) -> str:
    secret = _secret_on(client.get("/profile/totp").get_data(as_text=True))
    response = client.post("/profile/totp", data={"code": code_for(secret)})
    assert response.status_code == 302, response.get_data(as_text=True)[:400]
    return secret


def test_totp_setup_then_sign_in_needs_the_code(
    client: FlaskClient, second_client: FlaskClient, clinician: Any
) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        login(client, clinician)
        client.get("/profile/totp")
        wrong = client.post("/profile/totp", data={"code": "123456"})
        assert wrong.status_code == 422 and "does not match" in wrong.get_data(as_text=True)
        secret = _set_up_totp(client)
        db.session.refresh(clinician)
        assert clinician.totp_enabled
        # The secret is never shown again once it guards sign-in.
        again = client.get("/profile/totp")
        assert again.status_code == 302 and secret not in again.get_data(as_text=True)

        step = post_login(second_client, clinician.email, next_url="/profile")
        assert step.status_code == 302 and "/login/totp" in step.headers["Location"]
        assert not is_signed_in(second_client)  # a password alone is not enough
        refused = second_client.post("/login/totp", data={"code": "000000"})
        assert refused.status_code == 401
        assert "Wrong or expired code." in refused.get_data(as_text=True)
        # The code that turned TOTP on is used up; the next 30-second window's code works.
        replay = second_client.post("/login/totp", data={"code": code_for(secret)})
        assert replay.status_code == 401
        traveller.shift(timedelta(seconds=30))
        done = second_client.post("/login/totp?next=/profile", data={"code": code_for(secret)})
        assert done.status_code == 302 and done.headers["Location"] == "/profile"
        assert is_signed_in(second_client)


def test_a_code_signs_in_only_once(
    app: Any, client: FlaskClient, second_client: FlaskClient, clinician: Any
) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        login(client, clinician)
        secret = _set_up_totp(client)
        traveller.shift(timedelta(seconds=30))
        code = code_for(secret)
        post_login(second_client, clinician.email)
        assert second_client.post("/login/totp", data={"code": code}).status_code == 302

        onlooker = app.test_client()  # someone who saw the code typed in
        post_login(onlooker, clinician.email)
        replay = onlooker.post("/login/totp", data={"code": code})
        assert replay.status_code == 401
        assert "Wrong or expired code." in replay.get_data(as_text=True)
        assert not is_signed_in(onlooker)

        traveller.shift(timedelta(seconds=30))
        assert onlooker.post("/login/totp", data={"code": code_for(secret)}).status_code == 302
        assert is_signed_in(onlooker)


def test_the_password_step_expires_if_no_code_follows(
    client: FlaskClient, second_client: FlaskClient, clinician: Any
) -> None:
    with time_machine.travel(T0, tick=False) as traveller:
        login(client, clinician)
        secret = _set_up_totp(client)
        post_login(second_client, clinician.email)
        traveller.shift(timedelta(minutes=6))
        late = second_client.post("/login/totp", data={"code": code_for(secret)})
        assert late.status_code == 302 and late.headers["Location"].startswith("/login")
        assert not is_signed_in(second_client)


def test_wrong_codes_count_towards_the_throttle(
    client: FlaskClient, second_client: FlaskClient, clinician: Any
) -> None:
    with time_machine.travel(T0, tick=False):
        login(client, clinician)
        secret = _set_up_totp(client)
        post_login(second_client, clinician.email)
        for _ in range(auth.MAX_FAILURES_PER_ACCOUNT):
            second_client.post("/login/totp", data={"code": "000000"})
        response = second_client.post("/login/totp", data={"code": code_for(secret)})
        assert response.status_code == 429
        assert not is_signed_in(second_client)


def test_role_policy_forces_setup_before_anything_else(
    client: FlaskClient, second_client: FlaskClient, admin: Any, technician: Any
) -> None:
    login(client, admin)
    response = client.post("/admin/policy", data={"require_totp_technician": "y"})
    assert response.status_code == 302
    page = client.get("/admin/policy").get_data(as_text=True)
    assert '<input checked id="require_totp_technician"' in page

    with time_machine.travel(T0, tick=False):
        login(second_client, technician)
        forced = second_client.get("/profile")
        assert forced.status_code == 302 and forced.headers["Location"] == "/profile/totp"
        _set_up_totp(second_client)
        assert second_client.get("/profile").status_code == 200
    # Other roles are not affected.
    assert client.get("/profile").status_code == 200


# --- API tokens on the profile page --------------------------------------------------------


def test_token_is_shown_once_listed_and_revocable(client: FlaskClient, technician: Any) -> None:
    login(client, technician)
    created = client.post("/profile/tokens", data={"label": "device tablet"})
    assert created.status_code == 201
    token = re.search(r'data-testid="new-token">(tms_[^<]+)<', created.get_data(as_text=True))
    assert token
    plain = token.group(1)
    headers = {"Authorization": f"Bearer {plain}"}
    assert client.get("/api/v1/me", headers=headers).json["id"] == technician.id

    listing = client.get("/profile").get_data(as_text=True)
    assert "device tablet" in listing and plain not in listing
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == technician.id))
    assert client.post(f"/profile/tokens/{row.id}/revoke").status_code == 302
    assert "revoked" in client.get("/profile").get_data(as_text=True)
    assert client.get("/api/v1/me", headers=headers).status_code == 401


def test_someone_elses_token_cannot_be_revoked(
    client: FlaskClient, technician: Any, clinician: Any
) -> None:
    auth.create_token(clinician, "theirs")
    db.session.commit()
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == clinician.id))
    login(client, technician)
    assert client.post(f"/profile/tokens/{row.id}/revoke").status_code == 404
    db.session.refresh(row)
    assert row.revoked_at is None


# --- user administration -------------------------------------------------------------------


def test_admin_creates_a_user_who_can_then_sign_in(
    client: FlaskClient, second_client: FlaskClient, admin: Any
) -> None:
    login(client, admin)
    response = client.post(
        "/admin/users/new",
        data={
            "email": "Robin@TMS-clinic.org",
            "name": "Robin Tech",
            "role": "technician",
            "password": "first password 1",
        },
    )
    assert response.status_code == 302
    assert "robin@tms-clinic.org" in client.get("/admin/users").get_data(as_text=True)
    assert post_login(second_client, "robin@tms-clinic.org", "first password 1").status_code == 302
    robin = db.session.scalar(select(User).where(User.email == "robin@tms-clinic.org"))
    assert [e.actor_id for e in events("create") if e.entity_id == robin.id] == [admin.id]


def test_a_refused_creation_shows_the_reason_and_creates_nobody(
    client: FlaskClient, admin: Any
) -> None:
    login(client, admin)
    data = {"email": admin.email, "name": "Twin", "role": "admin", "password": "long password 1"}
    response = client.post("/admin/users/new", data=data)
    assert response.status_code == 422
    assert "already exists" in response.get_data(as_text=True)
    assert len(db.session.scalars(select(User)).all()) == 1


def test_deactivation_stops_sessions_and_tokens_at_once(
    client: FlaskClient, second_client: FlaskClient, admin: Any, clinician: Any
) -> None:
    token = auth.create_token(clinician, "script")
    db.session.commit()
    login(second_client, clinician)
    login(client, admin)
    response = client.post(f"/admin/users/{clinician.id}/active", data={"active": "0"})
    assert response.status_code == 302
    assert not is_signed_in(second_client)
    headers = {"Authorization": f"Bearer {token}"}
    assert second_client.get("/api/v1/me", headers=headers).status_code == 401
    assert post_login(second_client, clinician.email).status_code == 401

    client.post(f"/admin/users/{clinician.id}/active", data={"active": "1"})
    assert post_login(second_client, clinician.email).status_code == 302


def test_reset_sets_a_new_password_and_ends_sessions_and_second_factor(
    client: FlaskClient, second_client: FlaskClient, admin: Any, clinician: Any
) -> None:
    with time_machine.travel(T0, tick=False):
        login(second_client, clinician)
        _set_up_totp(second_client)
        login(client, admin)
        response = client.post(
            f"/admin/users/{clinician.id}/reset", data={"new_password": "reset password 1"}
        )
        assert response.status_code == 302
        assert not is_signed_in(second_client)
        db.session.refresh(clinician)
        assert not clinician.totp_enabled
        assert post_login(second_client, clinician.email, "reset password 1").status_code == 302


def test_admin_edits_name_and_role_but_not_their_own_role(
    client: FlaskClient, admin: Any, technician: Any
) -> None:
    login(client, admin)
    response = client.post(
        f"/admin/users/{technician.id}", data={"name": "Renamed", "role": "clinician"}
    )
    assert response.status_code == 302
    db.session.refresh(technician)
    assert (technician.name, technician.role) == ("Renamed", "clinician")
    own = client.post(f"/admin/users/{admin.id}", data={"name": admin.name, "role": "technician"})
    assert own.status_code == 422
    assert "cannot change your own role" in own.get_data(as_text=True)


def test_admin_pages_list_the_users(client: FlaskClient, admin: Any, technician: Any) -> None:
    login(client, admin)
    page = client.get("/admin/users").get_data(as_text=True)
    assert technician.email in page and admin.email in page
    assert client.get("/admin").status_code == 200
    assert client.get(f"/admin/users/{technician.id}").status_code == 200
    assert client.get("/admin/users/999999").status_code == 404
