"""A calendar feed: a secret URL serving one chair's or one technician's sessions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from clinic import clock
from clinic.extensions import Model


class CalendarFeed(Model):
    """Only the token's SHA-256 is stored: the URL is shown once, at creation, and a
    leaked database does not leak working feeds. Revoked feeds keep their row (who made
    it, when it ended) and answer 404."""

    __tablename__ = "calendar_feeds"
    __table_args__ = (
        CheckConstraint("(device_id IS NULL) <> (technician_id IS NULL)", name="one_subject"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=clock.now)
    revoked_at: Mapped[datetime | None]
