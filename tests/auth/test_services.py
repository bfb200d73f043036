"""Account rules tested directly: hashing, validation, throttling, tokens, TOTP."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pyotp
import pytest
import time_machine
from sqlalchemy import func, select, text

from clinic.auth import services as auth
from clinic.auth.models import ApiToken, User
from clinic.errors import Conflict, Invalid, NotAllowed
from clinic.extensions import db
from tests.auth.conftest import T0, events
from tests.factories import PASSWORD, make_user


def _user_count() -> int:
    return db.session.scalar(select(func.count()).select_from(User)) or 0


def test_passwords_are_stored_as_scrypt_hashes_never_plain(app: Any) -> None:
    user = make_user("clinician")
    stored = db.session.scalar(
        text("SELECT password_hash FROM users WHERE id = :id"), {"id": user.id}
    )
    assert stored.startswith("scrypt:")
    assert PASSWORD not in stored
    assert auth.authenticate(user.email, PASSWORD, "10.0.0.1", None).user == user


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"email": "not an email"}, "email"),
        ({"password": "short"}, "password"),
        ({"role": "superuser"}, "role"),
        ({"name": "   "}, "name"),
    ],
)
def test_create_user_refuses_bad_input_and_writes_nothing(
    app: Any, fields: dict[str, str], field: str
) -> None:
    values = {
        "email": "new@tms-clinic.org",
        "name": "New Person",
        "role": "technician",
        "password": "a long enough password",
        **fields,
    }
    with pytest.raises(Invalid) as raised:
        auth.create_user(**values)
    db.session.rollback()
    assert field in raised.value.fields
    assert _user_count() == 0


def test_duplicate_email_is_a_conflict_whatever_its_case(app: Any) -> None:
    make_user("technician", email="sam@tms-clinic.org")
    with pytest.raises(Conflict) as raised:
        auth.create_user(email="SAM@tms-clinic.org", name="Sam", role="admin", password=PASSWORD)
    assert raised.value.code == "duplicate_email"


def test_an_admin_cannot_change_their_own_role_or_deactivate_themselves(app: Any) -> None:
    admin = make_user("admin")
    with pytest.raises(NotAllowed):
        auth.update_user(admin, name=admin.name, role="technician", actor_id=admin.id)
    with pytest.raises(NotAllowed):
        auth.set_active(admin, False, actor_id=admin.id)


def test_five_failures_lock_the_account_for_fifteen_minutes_then_it_lifts(app: Any) -> None:
    user = make_user("front_desk")
    with time_machine.travel(T0, tick=False) as traveller:
        for _ in range(auth.MAX_FAILURES_PER_ACCOUNT):
            assert auth.authenticate(user.email, "wrong password", "10.0.0.1", None).user is None
        db.session.commit()
        locked = auth.authenticate(user.email, PASSWORD, "10.0.0.2", None)
        assert locked.user is None and locked.retry_after_seconds > 0
        assert "Too many failed sign-ins" in (locked.error or "")
        traveller.shift(timedelta(minutes=10))
        # Knocking while locked does not extend the lock ...
        assert auth.authenticate(user.email, PASSWORD, "10.0.0.2", None).user is None
        traveller.shift(timedelta(minutes=5, seconds=1))
        # ... which lifts by itself 15 minutes after the last real failure.
        assert auth.authenticate(user.email, PASSWORD, "10.0.0.2", None).user == user


def test_twenty_failures_from_one_address_slow_that_address_only(app: Any) -> None:
    victim = make_user("clinician")
    with time_machine.travel(T0, tick=False) as traveller:
        for n in range(auth.MAX_FAILURES_PER_ADDRESS):
            auth.authenticate(f"guess{n}@tms-clinic.org", "guess", "203.0.113.9", None)
        db.session.commit()
        assert auth.authenticate(victim.email, PASSWORD, "203.0.113.9", None).user is None
        assert auth.authenticate(victim.email, PASSWORD, "198.51.100.1", None).user == victim
        traveller.shift(auth.THROTTLE_WINDOW + timedelta(seconds=1))
        assert auth.authenticate(victim.email, PASSWORD, "203.0.113.9", None).user == victim


def test_every_sign_in_try_is_audited(app: Any) -> None:
    user = make_user("technician")
    auth.authenticate(user.email, "wrong password", "10.0.0.7", None)
    auth.authenticate("nobody@tms-clinic.org", "whatever1", "10.0.0.7", None)
    auth.authenticate(user.email, PASSWORD, "10.0.0.7", None)
    db.session.commit()
    failed = events("login_failed")
    assert [(e.entity_id, e.detail["email"]) for e in failed] == [
        (user.id, user.email),
        (None, "nobody@tms-clinic.org"),
    ]
    [success] = events("login")
    assert success.actor_id == user.id and success.entity_id == user.id


def test_tokens_are_stored_as_sha256_and_stop_when_revoked_or_user_deactivated(
    app: Any,
) -> None:
    admin = make_user("admin")
    user = make_user("technician")
    plain = auth.create_token(user, "laptop")
    db.session.commit()
    row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == user.id))
    assert row.token_hash == hashlib.sha256(plain.encode()).hexdigest()
    assert plain not in (row.token_hash, row.prefix, row.label)
    assert auth.user_for_token(plain) == user

    auth.set_active(user, False, actor_id=admin.id)
    assert auth.user_for_token(plain) is None
    auth.set_active(user, True, actor_id=admin.id)
    assert auth.user_for_token(plain) == user

    auth.revoke_token(user, row.id, actor_id=user.id)
    assert auth.user_for_token(plain) is None
    assert auth.user_for_token("tms_" + "x" * 40) is None
    assert auth.user_for_token("not-even-a-token") is None


def test_totp_must_be_proven_with_a_current_code(app: Any) -> None:
    user = make_user("clinician")
    secret = auth.new_totp_secret()
    with time_machine.travel(T0, tick=False) as traveller:
        with pytest.raises(Invalid):
            auth.enable_totp(user, secret, "000000")
        auth.enable_totp(user, secret, pyotp.TOTP(secret).now())
        assert user.totp_enabled
        old_code = pyotp.TOTP(secret).now()
        traveller.shift(timedelta(minutes=5))
        assert not auth.verify_totp(user, old_code)
        assert auth.verify_totp(user, pyotp.TOTP(secret).now())


def test_password_change_rotates_the_session_token(app: Any) -> None:
    user = make_user("front_desk")
    before = user.session_token
    with pytest.raises(Invalid):
        auth.change_password(user, "short", actor_id=user.id)
    auth.change_password(user, "a brand new password", actor_id=user.id)
    assert user.session_token != before
    assert auth.authenticate(user.email, "a brand new password", "10.0.0.1", None).user == user
