"""Staff accounts: creation, passwords, sign-in with throttling and TOTP, API tokens.

Passwords are hashed with scrypt (Werkzeug's default). Sign-in is throttled by recent
failures per account and per address inside a sliding window, so an attacker can slow
an account down but never lock its owner out for good. The count and the check it
allows are one step: concurrent tries of an account (or from an address) queue up, so
no more than the limit are ever checked, however many arrive at once.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import pyotp
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import CursorResult, Select, bindparam, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import InstrumentedAttribute, joinedload
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash, generate_password_hash

from clinic import clock, events
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.auth.models import ApiToken, LoginAttempt, RolePolicy, User, new_session_token
from clinic.errors import Conflict, Invalid, NotAllowed, NotFound
from clinic.extensions import db
from clinic.permissions import Role

MIN_PASSWORD_LENGTH = 10
THROTTLE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
TOKEN_PREFIX = "tms_"
# RFC 6238 steps accepted around now: one 30-second step of clock drift either way.
TOTP_DRIFT_STEPS = (-1, 0, 1)
# The first key of the PostgreSQL advisory locks that queue sign-in tries (the second is
# a hash of the account or address), so they share no key with any other lock.
SIGN_IN_LOCK_CLASS = 0x5157


@functools.cache
def _dummy_hash() -> str:
    """A hash to check an unknown email's password against, so it costs as much time as
    a wrong password. Made on first use: scrypt at import slowed every process's start."""
    return generate_password_hash("not-a-real-password")


def normalize_email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise Invalid(f"Invalid email: {exc}", fields={"email": [str(exc)]}) from exc


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(
            f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.",
            fields={"password": [f"At least {MIN_PASSWORD_LENGTH} characters."]},
        )
    if len(password) > 1024:
        raise Invalid("Password too long.", fields={"password": ["At most 1024 characters."]})


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def get_user(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(f"No user {user_id}.")
    return user


def user_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email.strip().lower()))


def create_user(
    *, email: str, name: str, role: str, password: str, actor_id: int | None = None
) -> User:
    email = normalize_email(email)
    name = _valid_name(name)
    _check_role(role)
    check_password_strength(password)
    if user_by_email(email) is not None:
        raise _duplicate_email(email)
    user = User(
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password),
        password_changed_at=clock.now(),
    )
    try:
        with db.session.begin_nested():  # a concurrent twin loses on the unique key
            db.session.add(user)
    except IntegrityError as exc:
        raise _duplicate_email(email) from exc
    record(actor_id, AuditAction.CREATE, "user", user.id, detail={"role": role})
    return user


def _valid_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 120:
        raise Invalid(
            "A name of 1-120 characters is required.", fields={"name": ["1-120 characters."]}
        )
    return name


def _check_role(role: str) -> None:
    if role not in set(Role):
        raise Invalid(
            f"Unknown role {role!r}.",
            fields={"role": [f"One of {', '.join(r.value for r in Role)}."]},
        )


def _duplicate_email(email: str) -> Conflict:
    message = f"A user with email {email} already exists."
    return Conflict(message, code="duplicate_email", fields={"email": [message]})


def update_user(user: User, *, name: str, role: str, actor_id: int) -> User:
    """Rename or change the role; a role change applies at the user's next request."""
    name = _valid_name(name)
    _check_role(role)
    if user.id == actor_id and role != user.role:
        message = "You cannot change your own role."
        raise NotAllowed(message, fields={"role": [message]})
    if role != user.role:
        events.user_role_changing.send(None, user=user, role=role, actor_id=actor_id)
    user.name, user.role = name, role
    record(actor_id, AuditAction.UPDATE, "user", user.id, detail={"role": role})
    return user


def set_active(user: User, active: bool, *, actor_id: int) -> User:
    if user.id == actor_id and not active:
        raise NotAllowed("You cannot deactivate yourself.")
    user.active = active
    user.session_token = new_session_token()
    record(actor_id, AuditAction.ACTIVATE if active else AuditAction.DEACTIVATE, "user", user.id)
    return user


def change_password(user: User, new_password: str, *, actor_id: int) -> User:
    """Set a new password and end every other session of the user."""
    check_password_strength(new_password)
    user.password_hash = hash_password(new_password)
    user.password_changed_at = clock.now()
    user.session_token = new_session_token()
    record(actor_id, AuditAction.PASSWORD_CHANGE, "user", user.id)
    return user


def sign_out(user: User) -> None:
    """Invalidate every session cookie of the user (logout everywhere), audited."""
    user.session_token = new_session_token()
    record(user.id, AuditAction.LOGOUT, "user", user.id)


@dataclass(frozen=True)
class SignInResult:
    user: User | None
    needs_totp: bool = False
    error: str | None = None
    retry_after_seconds: int = 0


def _recent_failures(column: InstrumentedAttribute[str], value: str) -> int:
    since = clock.now() - THROTTLE_WINDOW
    return (
        db.session.scalar(
            select(func.count())
            .select_from(LoginAttempt)
            .where(column == value, LoginAttempt.success.is_(False), LoginAttempt.at >= since)
        )
        or 0
    )


def _queue_sign_ins(email: str, address: str) -> None:
    """Hold the account's and the address's sign-in locks until this request's
    transaction ends, so the failures counted next include every try before this one.

    On PostgreSQL, transaction-scoped advisory locks (taken in one order, so two tries
    never deadlock); SQLite already runs one writing transaction at a time (BEGIN
    IMMEDIATE, `clinic.db`)."""
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted((f"account:{email}", f"address:{address}")):
        db.session.execute(
            text("SELECT pg_advisory_xact_lock(:lock_class, hashtext(:key))"),
            {"lock_class": SIGN_IN_LOCK_CLASS, "key": key},
        )


def throttled(email: str, address: str) -> bool:
    """Whether this account or address has failed too often lately. Queues this try
    behind any other of the same account or address (see `_queue_sign_ins`)."""
    _queue_sign_ins(email, address)
    return (
        _recent_failures(LoginAttempt.email, email) >= MAX_FAILURES_PER_ACCOUNT
        or _recent_failures(LoginAttempt.address, address) >= MAX_FAILURES_PER_ADDRESS
    )


def role_requires_totp(role: str) -> bool:
    policy = db.session.get(RolePolicy, role)
    return bool(policy and policy.require_totp)


def _attempt(email: str, address: str, success: bool) -> None:
    db.session.add(LoginAttempt(at=clock.now(), email=email, address=address, success=success))


def authenticate(email: str, password: str, address: str, totp_code: str | None) -> SignInResult:
    """Check credentials; every try is recorded (and audited) whatever its outcome."""
    email = email.strip().lower()[:254]
    address = (address or "unknown")[:64]
    if throttled(email, address):
        # Audited, but not counted as a failure: the lock lifts THROTTLE_WINDOW after the
        # last real failure however often someone knocks meanwhile.
        record(None, AuditAction.LOGIN_THROTTLED, "user", None, detail={"email": email})
        return SignInResult(
            None,
            error="Too many failed sign-ins. Wait 15 minutes and try again.",
            retry_after_seconds=int(THROTTLE_WINDOW.total_seconds()),
        )
    user = user_by_email(email)
    password_ok = check_password_hash(user.password_hash if user else _dummy_hash(), password)
    if user is None or not password_ok or not user.active:
        _attempt(email, address, False)
        record(
            None,
            AuditAction.LOGIN_FAILED,
            "user",
            user.id if user else None,
            detail={"email": email},
        )
        return SignInResult(None, error="Wrong email or password.")
    if user.totp_enabled:
        if not totp_code:
            return SignInResult(user, needs_totp=True)
        if not accept_totp(user, totp_code):
            record_totp_failure(user, address)
            return SignInResult(None, needs_totp=True, error="Wrong or expired code.")
    record_sign_in(user, address)
    return SignInResult(user)


def record_sign_in(user: User, address: str) -> None:
    _attempt(user.email, address, True)
    user.last_login_at = clock.now()
    record(user.id, AuditAction.LOGIN, "user", user.id)


def record_totp_failure(user: User, address: str) -> None:
    _attempt(user.email, address, False)
    record(None, AuditAction.LOGIN_FAILED, "user", user.id, detail={"reason": "totp"})


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(user: User, secret: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def totp_step(secret: str, code: str) -> int | None:
    """The time step whose code this is, allowing one step of clock drift either way.

    Returns the step itself (not just yes/no) so the caller can refuse it a second time.
    """
    code = "".join(ch for ch in code if ch.isdigit())
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now = clock.now()
    for offset in TOTP_DRIFT_STEPS:
        if hmac.compare_digest(totp.at(now, counter_offset=offset), code):
            return totp.timecode(now) + offset
    return None


def accept_totp(user: User, code: str, secret: str | None = None) -> bool:
    """Check a code and use it up: a code (or an older one) already accepted is refused.

    The claim is one guarded UPDATE, so of two concurrent sign-ins with the same code
    only one changes the row; the database, not a read-then-write, decides the winner.
    """
    secret = secret or user.totp_secret
    step = totp_step(secret, code) if secret else None
    if step is None:
        return False
    claimed = cast(
        CursorResult[Any],
        db.session.execute(
            update(User)
            .where(
                User.id == user.id,
                or_(User.totp_last_step.is_(None), User.totp_last_step < step),
            )
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        ),
    )
    if claimed.rowcount != 1:
        return False
    set_committed_value(user, "totp_last_step", step)
    return True


def enable_totp(user: User, secret: str, code: str) -> None:
    if not accept_totp(user, code, secret):
        message = "That code does not match. Check your authenticator's clock."
        raise Invalid(message, fields={"code": [message]})
    user.totp_secret, user.totp_enabled = secret, True
    record(user.id, AuditAction.TOTP_ENABLE, "user", user.id)


def disable_totp(user: User, *, actor_id: int) -> None:
    if role_requires_totp(user.role) and actor_id == user.id:
        raise NotAllowed("Your role requires a second factor.")
    # A new secret starts afresh: its first code may fall in the step just used.
    user.totp_secret, user.totp_enabled, user.totp_last_step = None, False, None
    record(actor_id, AuditAction.TOTP_DISABLE, "user", user.id)


def set_role_policy(role: str, *, require_totp: bool, actor_id: int) -> RolePolicy:
    policy = db.session.get(RolePolicy, role) or RolePolicy(role=role)
    policy.require_totp = require_totp
    db.session.add(policy)
    record(
        actor_id,
        AuditAction.POLICY,
        "role",
        None,
        detail={"role": role, "require_totp": require_totp},
    )
    return policy


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, label: str = "", *, actor_id: int | None = None) -> str:
    """Create a token and return its plain text: the only time anyone sees it."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    db.session.add(
        ApiToken(
            user=user,
            label=label.strip()[:120],
            token_hash=_hash_token(token),
            prefix=token[: len(TOKEN_PREFIX) + 4],
            created_at=clock.now(),
        )
    )
    db.session.flush()
    record(actor_id if actor_id is not None else user.id, AuditAction.TOKEN_CREATE, "user", user.id)
    return token


def revoke_token(user: User, token_id: int, *, actor_id: int) -> ApiToken:
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        raise NotFound("No such token.")
    if token.revoked_at is None:
        token.revoked_at = clock.now()
        record(actor_id, AuditAction.TOKEN_REVOKE, "user", user.id, detail={"token_id": token_id})
    return token


@functools.cache
def _session_user_query() -> Select[User]:
    """Built once (every page asks it), with the role's policy joined in: every page asks
    it next (`requires_totp`)."""
    return select(User).options(joinedload(User.role_policy)).where(User.id == bindparam("user_id"))


def user_for_session_id(value: str) -> User | None:
    """The active user whose session cookie holds `value` (`User.get_id()`): a rotated
    session token (logout, password change, deactivation) no longer matches."""
    user_id, _, token = str(value).partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.scalar(_session_user_query(), {"user_id": int(user_id)})
    if user is None or not user.active or user.session_token != token:
        return None
    return user


@functools.cache
def _token_query() -> Select[User, int, datetime | None]:
    """Built once (every API request asks it): the live token's active user, with the
    token's id and last use as plain columns. One entity, not the token and its user:
    loading two cost the API's day list a tenth of its time."""
    return (
        select(User, ApiToken.id, ApiToken.last_used_at)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(
            ApiToken.token_hash == bindparam("token_hash"),
            ApiToken.revoked_at.is_(None),
            User.active.is_(True),
        )
    )


TOKEN_USE_RECORDED_EVERY = timedelta(minutes=5)


def user_for_token(token: str) -> tuple[User | None, int | None]:
    """The active user behind a live token (or None), and the token's id when its last
    use is due to be recorded (`record_token_use`, at most every five minutes)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None, None
    found = db.session.execute(_token_query(), {"token_hash": _hash_token(token)}).first()
    if found is None:
        return None, None
    user, token_id, last_used_at = found
    if last_used_at is not None and clock.now() - last_used_at <= TOKEN_USE_RECORDED_EVERY:
        return user, None
    return user, token_id


def record_token_use(token_id: int) -> None:
    """Now as the token's last use (shown on the profile's token list)."""
    db.session.execute(
        update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=clock.now())
    )
