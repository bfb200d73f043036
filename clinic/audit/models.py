"""The audit trail: append-only rows (database triggers refuse UPDATE and DELETE)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic import clock
from clinic.extensions import Model

if TYPE_CHECKING:
    from clinic.auth.models import User


class AuditAction(StrEnum):
    """What an audit event says was done; the one list of them."""

    VIEW = "view"  # reading a patient's record (CONTRACT: an action `view`)
    SEARCH = "search"
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    SCHEDULE = "schedule"
    MOVE = "move"
    CHECK_IN = "check_in"
    CANCEL = "cancel"  # an appointment cancelled (one word, whoever cancels)
    NO_SHOW = "no_show"
    STATUS_CHANGE = "status_change"
    SIGN = "sign"
    SIGN_OFF = "sign_off"
    REVIEW = "review"
    AMEND = "amend"
    ACKNOWLEDGE = "acknowledge"
    ALERT_RAISE = "alert_raise"
    ESCALATE = "escalate"
    REQUEST_MT_RECHECK = "request_mt_recheck"
    CONSENT_GRANT = "consent_grant"
    CONSENT_WITHDRAW = "consent_withdraw"
    CONFIRM_ATTENDANCE = "confirm_attendance"
    REQUEST_CHANGE = "request_change"
    HANDLE_CHANGE_REQUEST = "handle_change_request"
    POLICY = "policy"  # an admin changed a policy (security, reminders)
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOGIN_THROTTLED = "login_throttled"
    LOGOUT = "logout"
    PASSWORD_CHANGE = "password_change"
    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"
    TOKEN_CREATE = "token_create"
    TOKEN_REVOKE = "token_revoke"
    TOTP_ENABLE = "totp_enable"
    TOTP_DISABLE = "totp_disable"


class AuditEvent(Model):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_entity", "entity_type", "entity_id", "at"),
        Index("ix_audit_events_patient_at", "patient_id", "at"),
        # The audit page's filters by action and by user, newest first.
        Index("ix_audit_events_action_at", "action", "at"),
        Index("ix_audit_events_actor_at", "actor_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=clock.now, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[int | None]
    # The patient whose record this touches, so "who viewed this chart" is one index scan.
    patient_id: Mapped[int | None]
    address: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    actor: Mapped[User | None] = relationship("User")
