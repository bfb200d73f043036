"""Account rules tested directly: hashing, validation, throttling, tokens, TOTP."""

from __future__ import annotations

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor
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
    assert auth.user_for_token(plain)[0] == user

    auth.set_active(user, False, actor_id=admin.id)
    assert auth.user_for_token(plain) == (None, None)
    auth.set_active(user, True, actor_id=admin.id)
    assert auth.user_for_token(plain)[0] == user

    auth.revoke_token(user, row.id, actor_id=user.id)
    assert auth.user_for_token(plain) == (None, None)
    assert auth.user_for_token("tms_" + "x" * 40) == (None, None)
    assert auth.user_for_token("not-even-a-token") == (None, None)


def test_a_tokens_use_is_recorded_at_most_every_five_minutes(app: Any) -> None:
    user = make_user("technician")
    plain = auth.create_token(user, "laptop")
    db.session.commit()
    token_id = db.session.scalar(select(ApiToken.id))
    with time_machine.travel(T0, tick=False) as traveller:
        assert auth.user_for_token(plain) == (user, token_id)
        auth.record_token_use(token_id)
        traveller.shift(timedelta(minutes=4))
        assert auth.user_for_token(plain) == (user, None)
        traveller.shift(timedelta(minutes=2))
        assert auth.user_for_token(plain) == (user, token_id)


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
        assert not auth.accept_totp(user, old_code)
        assert auth.accept_totp(user, pyotp.TOTP(secret).now())


def _user_with_totp(at: Any) -> tuple[User, str]:
    """A clinician whose second factor was turned on at `at` (which used up that step)."""
    user = make_user("clinician")
    secret = auth.new_totp_secret()
    with time_machine.travel(at, tick=False):
        auth.enable_totp(user, secret, pyotp.TOTP(secret).now())
    db.session.commit()
    return user, secret


def test_a_totp_code_signs_in_once_and_the_next_windows_code_works(app: Any) -> None:
    user, secret = _user_with_totp(T0 - timedelta(minutes=1))
    with time_machine.travel(T0, tick=False) as traveller:
        code = pyotp.TOTP(secret).now()
        assert auth.authenticate(user.email, PASSWORD, "10.0.0.1", code).user == user
        replay = auth.authenticate(user.email, PASSWORD, "10.0.0.2", code)
        assert replay.user is None and replay.error == "Wrong or expired code."
        assert events("login_failed")[-1].detail == {"reason": "totp"}

        traveller.shift(timedelta(seconds=30))
        assert auth.authenticate(user.email, PASSWORD, "10.0.0.1", pyotp.TOTP(secret).now()).user
        assert user.totp_last_step == pyotp.TOTP(secret).timecode(T0) + 1


def test_the_code_used_to_turn_totp_on_cannot_sign_in(app: Any) -> None:
    user = make_user("clinician")
    secret = auth.new_totp_secret()
    with time_machine.travel(T0, tick=False):
        code = pyotp.TOTP(secret).now()
        auth.enable_totp(user, secret, code)
        assert not auth.accept_totp(user, code)
        with pytest.raises(Invalid):  # nor turn it on a second time
            auth.enable_totp(user, secret, code)


def test_after_a_code_from_the_next_step_older_codes_are_refused(app: Any) -> None:
    """Drift is allowed one step either way, but the steps only ever move forward."""
    user, secret = _user_with_totp(T0 - timedelta(minutes=1))
    totp = pyotp.TOTP(secret)
    with time_machine.travel(T0, tick=False):
        assert auth.accept_totp(user, totp.at(T0, counter_offset=1))  # a fast phone
        assert not auth.accept_totp(user, totp.at(T0))
        assert not auth.accept_totp(user, totp.at(T0, counter_offset=-1))
        assert not auth.accept_totp(user, totp.at(T0, counter_offset=2))  # beyond the drift


def test_a_new_secret_after_removal_starts_afresh(app: Any) -> None:
    user, _ = _user_with_totp(T0)
    auth.disable_totp(user, actor_id=user.id)
    fresh = auth.new_totp_secret()
    with time_machine.travel(T0, tick=False):  # the same 30 seconds as the first set-up
        auth.enable_totp(user, fresh, pyotp.TOTP(fresh).now())
    assert user.totp_enabled and user.totp_secret == fresh


def test_of_simultaneous_sign_ins_with_one_code_exactly_one_is_accepted(app: Any) -> None:
    """Each worker has its own connection and transaction; the guarded UPDATE lets only
    one of them claim the step, whatever each one read before."""
    user, secret = _user_with_totp(T0 - timedelta(minutes=1))
    user_id, workers = user.id, 6
    barrier = threading.Barrier(workers)

    def sign_in() -> bool:
        with app.app_context():
            barrier.wait(timeout=30)
            try:
                racer = db.session.get(User, user_id)
                assert racer is not None
                accepted = auth.accept_totp(racer, code)
                db.session.commit()
                return accepted
            finally:
                db.session.remove()

    with time_machine.travel(T0, tick=False):
        code = pyotp.TOTP(secret).now()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = [f.result() for f in [pool.submit(sign_in) for _ in range(workers)]]
    assert sorted(results) == [False] * (workers - 1) + [True]
    db.session.rollback()  # end this thread's snapshot to see what the workers committed
    assert db.session.get(User, user_id).totp_last_step == pyotp.TOTP(secret).timecode(T0)


def test_password_change_rotates_the_session_token(app: Any) -> None:
    user = make_user("front_desk")
    before = user.session_token
    with pytest.raises(Invalid):
        auth.change_password(user, "short", actor_id=user.id)
    auth.change_password(user, "a brand new password", actor_id=user.id)
    assert user.session_token != before
    assert auth.authenticate(user.email, "a brand new password", "10.0.0.1", None).user == user
