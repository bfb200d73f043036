"""Uploading, listing and reading a patient's documents. A file is accepted by what it
is (its first bytes), not by what the browser calls it, and only up to the size limit;
its SHA-256 is kept and checked again whenever it is read. Every read is audited."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import IO

from flask import current_app
from sqlalchemy import select
from werkzeug.utils import secure_filename

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.documents.models import Document, DocumentKind
from clinic.documents.storage import document_store
from clinic.errors import Conflict, Invalid, NotFound, TooLarge, UnsupportedMedia
from clinic.extensions import db
from clinic.patients.lookup import get_patient, load

MAGIC = (
    (b"%PDF-", "application/pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
)
EXTENSIONS = {"application/pdf": "pdf", "image/png": "png", "image/jpeg": "jpg"}


def sniff(data: bytes) -> str | None:
    """The content type the bytes themselves declare (PDF, PNG or JPEG), else None."""
    return next((kind for magic, kind in MAGIC if data.startswith(magic)), None)


def max_upload_bytes() -> int:
    return int(current_app.config["CLINIC_MAX_UPLOAD_MB"]) * 1024 * 1024


def read_upload(stream: IO[bytes]) -> bytes:
    """The upload's bytes, refused (413) past the limit without reading much further."""
    limit = max_upload_bytes()
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise TooLarge(f"The file is larger than {limit // (1024 * 1024)} MB.")
    return data


def store_document(
    patient_id: int,
    kind: str,
    filename: str,
    data: bytes,
    *,
    actor_id: int | None,
) -> Document:
    """Check and keep one file of the patient's chart."""
    patient = get_patient(patient_id)
    if kind not in tuple(DocumentKind):
        raise Invalid(
            "Unknown document kind.", fields={"kind": [f"Use one of: {', '.join(DocumentKind)}."]}
        )
    content_type = sniff(data)
    if content_type is None:
        raise UnsupportedMedia("Only PDF, PNG and JPEG files are kept (by their content).")
    if len(data) > max_upload_bytes():
        raise TooLarge(f"The file is larger than {current_app.config['CLINIC_MAX_UPLOAD_MB']} MB.")
    name = secure_filename(filename or "")[:150] or f"document.{EXTENSIONS[content_type]}"
    key = f"{patient.id}/{uuid.uuid4().hex}.{EXTENSIONS[content_type]}"
    document_store().put(key, data)
    document = Document(
        patient_id=patient.id,
        kind=kind,
        filename=name,
        content_type=content_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        storage_key=key,
        uploaded_at=clock.now(),
        uploaded_by_id=actor_id,
    )
    db.session.add(document)
    db.session.flush()
    record(
        actor_id,
        AuditAction.CREATE,
        "document",
        document.id,
        patient_id=patient.id,
        detail={"kind": kind, "sha256": document.sha256, "size": document.size},
    )
    return document


def list_documents(patient_id: int, *, actor_id: int | None) -> Sequence[Document]:
    patient = get_patient(patient_id)
    record(actor_id, AuditAction.VIEW, "patient", patient.id, detail={"section": "documents"})
    return db.session.scalars(
        select(Document).where(Document.patient_id == patient.id).order_by(Document.uploaded_at)
    ).all()


def read_document(document_id: int, *, actor_id: int | None) -> tuple[Document, bytes]:
    """The document and its bytes, checked against the stored checksum; the read is an
    audit `view` of the document."""
    document: Document = load(Document, document_id, "document")
    try:
        data = document_store().get(document.storage_key)
    except (FileNotFoundError, OSError) as error:
        raise NotFound(f"The file of document {document_id} is missing from the store.") from error
    if hashlib.sha256(data).hexdigest() != document.sha256:
        raise Conflict(
            "The stored file does not match its checksum; it was changed outside the app.",
            code="checksum_mismatch",
        )
    record(
        actor_id,
        AuditAction.VIEW,
        "document",
        document.id,
        patient_id=document.patient_id,
        detail={"kind": document.kind},
    )
    return document, data


def has_consent_document(patient_id: int) -> bool:
    """Whether a signed consent is on file (signed on the tablet or a scanned paper one)."""
    return (
        db.session.scalar(
            select(Document.id)
            .where(Document.patient_id == patient_id, Document.kind == DocumentKind.CONSENT)
            .limit(1)
        )
        is not None
    )
