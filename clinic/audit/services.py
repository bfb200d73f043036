"""Writing and reading the audit trail.

Services call `record()` in the same transaction as the change they describe, so a
change and its audit row commit or roll back together. The caller's network address is
taken from a context variable the web layer sets per request (None for CLI and jobs).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextvars import ContextVar
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import joinedload

from clinic import clock
from clinic.audit.models import AuditAction, AuditEvent
from clinic.extensions import db
from clinic.paging import Cursor

request_address: ContextVar[str | None] = ContextVar("request_address", default=None)


def record(
    actor_id: int | None,
    action: AuditAction,
    entity_type: str,
    entity_id: int | None = None,
    *,
    patient_id: int | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event: who (actor_id), did what (action) to which entity, when, from where."""
    if entity_type == "patient" and patient_id is None:
        patient_id = entity_id
    event = AuditEvent(
        at=clock.now(),
        actor_id=actor_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        patient_id=patient_id,
        address=request_address.get(),
        detail=detail,
    )
    db.session.add(event)
    return event


def search(
    *,
    entity_type: str | None = None,
    entity_id: int | None = None,
    actor_id: int | None = None,
    action: str | None = None,
    patient_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 200,
    offset: int = 0,
    after: Cursor | None = None,
) -> Sequence[AuditEvent]:
    """Newest first, filtered; bounded by `limit` so the page never loads the whole trail.
    Page with `after` (keyset, constant cost); `offset` stays for older API clients."""
    query = (
        select(AuditEvent)
        .options(joinedload(AuditEvent.actor))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
    )
    if entity_type:
        query = query.where(AuditEvent.entity_type == entity_type)
    if entity_id is not None:
        query = query.where(AuditEvent.entity_id == entity_id)
    if actor_id is not None:
        query = query.where(AuditEvent.actor_id == actor_id)
    if action:
        query = query.where(AuditEvent.action == action)
    if patient_id is not None:
        query = query.where(AuditEvent.patient_id == patient_id)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    if after is not None:
        query = query.where(after.older(AuditEvent.at, AuditEvent.id))
    return db.session.scalars(query.limit(limit).offset(offset)).all()


def actor_names() -> list[tuple[int, str]]:
    """(id, name) of every staff member, by name: who the trail can be filtered by.

    The users table is reached through the event's `actor` relationship, so the audit
    trail (a kernel module every feature writes to) names no feature's model.
    """
    users = AuditEvent.actor.property.mapper.c
    rows = db.session.execute(select(users.id, users.name).order_by(users.name))
    return [(user_id, name) for user_id, name in rows]


def recent_viewers(patient_id: int, limit: int = 10) -> Sequence[AuditEvent]:
    """Who opened this patient's record lately (shown on the chart)."""
    query = (
        select(AuditEvent)
        .options(joinedload(AuditEvent.actor))
        .where(AuditEvent.patient_id == patient_id, AuditEvent.action == AuditAction.VIEW)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .limit(limit)
    )
    return db.session.scalars(query).all()
