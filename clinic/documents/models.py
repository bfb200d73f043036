"""Stored documents and signed consents."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic import clock
from clinic.db import one_of
from clinic.extensions import Model


class DocumentKind(StrEnum):
    CONSENT = "consent"
    REFERRAL = "referral"
    INSURANCE_CARD = "insurance_card"
    RECORDS = "records"
    OTHER = "other"


class SignatureMethod(StrEnum):
    DRAWN = "drawn"  # on the tablet's canvas
    TYPED = "typed"


class Document(Model):
    """One file of a patient's chart; the bytes live in the document store under
    `storage_key`, checked by `sha256` when read back."""

    __tablename__ = "documents"
    __table_args__ = (
        one_of("kind", DocumentKind, name="kind"),
        CheckConstraint("size >= 0", name="size_nonnegative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200), unique=True)
    uploaded_at: Mapped[datetime] = mapped_column(default=clock.now)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class ConsentSignature(Model):
    """The TMS informed consent signed by a patient: which version of the text, how it
    was signed, and the signed PDF kept as a document."""

    __tablename__ = "consent_signatures"
    __table_args__ = (one_of("method", SignatureMethod, name="method"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    version: Mapped[str] = mapped_column(String(20))
    signer_name: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(10))
    signed_at: Mapped[datetime] = mapped_column(default=clock.now)
    witness_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"))
    notes: Mapped[str | None] = mapped_column(Text)

    document: Mapped[Document] = relationship()
