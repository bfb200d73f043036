"""The TMS informed consent: a versioned text the patient reads on a tablet and signs
(a drawn signature or a typed name); the signed PDF is kept as a `consent` document.

The text lives in `templates/documents/consent/<version>.html`; a new wording is a new
file and a new `CONSENT_VERSION`, so every signature names the words it agreed to.
"""

from __future__ import annotations

import base64
import binascii

from flask import current_app, render_template

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.documents.models import ConsentSignature, DocumentKind, SignatureMethod
from clinic.documents.services import sniff, store_document
from clinic.errors import Invalid
from clinic.extensions import db
from clinic.patients.lookup import get_patient
from clinic.pdf import render_pdf

CONSENT_VERSION = "2026-1"
PNG_DATA_URL = "data:image/png;base64,"
MAX_SIGNATURE_BYTES = 512 * 1024


def consent_text(version: str = CONSENT_VERSION) -> str:
    """The consent's wording as HTML (shown on the tablet and printed in the PDF)."""
    return render_template(
        f"documents/consent/{version}.html", clinic_name=current_app.config["CLINIC_NAME"]
    )


def _drawn_png(signature: str) -> bytes:
    """The canvas drawing, sent as a PNG data URL: decoded and checked to be a PNG."""
    problem = {"signature": ["Draw the signature in the box."]}
    if not signature.startswith(PNG_DATA_URL):
        raise Invalid("The drawn signature is missing.", fields=problem)
    try:
        data = base64.b64decode(signature.removeprefix(PNG_DATA_URL), validate=True)
    except (binascii.Error, ValueError):
        raise Invalid("The drawn signature is not an image.", fields=problem) from None
    if sniff(data) != "image/png" or len(data) > MAX_SIGNATURE_BYTES:
        raise Invalid("The drawn signature is not a PNG image.", fields=problem)
    return data


def sign_consent(
    patient_id: int,
    *,
    signer_name: str,
    method: str,
    signature: str,
    actor_id: int | None,
) -> ConsentSignature:
    """Record the patient's signature of the current consent and keep the signed PDF."""
    patient = get_patient(patient_id)
    signer_name = (signer_name or "").strip()
    problems: dict[str, list[str]] = {}
    if not signer_name or len(signer_name) > 200:
        problems["signer_name"] = ["Give the signer's full name (at most 200 characters)."]
    if method not in tuple(SignatureMethod):
        problems["method"] = [f"Use one of: {', '.join(SignatureMethod)}."]
    elif method == SignatureMethod.TYPED and (signature or "").strip() != signer_name:
        problems["signature"] = ["Type the signer's name exactly as given to sign."]
    if problems:
        raise Invalid("The consent is not signed.", fields=problems)
    drawn = _drawn_png(signature) if method == SignatureMethod.DRAWN else None
    signed_at = clock.now()
    pdf = render_pdf(
        "documents/signed_consent.html",
        patient=patient,
        text=consent_text(),
        version=CONSENT_VERSION,
        signer_name=signer_name,
        method=method,
        drawn=PNG_DATA_URL + base64.b64encode(drawn).decode() if drawn else None,
        signed_at=signed_at,
    )
    document = store_document(
        patient.id,
        DocumentKind.CONSENT,
        f"tms-consent-{CONSENT_VERSION}.pdf",
        pdf,
        actor_id=actor_id,
    )
    consent = ConsentSignature(
        patient_id=patient.id,
        version=CONSENT_VERSION,
        signer_name=signer_name,
        method=method,
        signed_at=signed_at,
        witness_id=actor_id,
        document_id=document.id,
    )
    db.session.add(consent)
    db.session.flush()
    record(
        actor_id,
        AuditAction.SIGN,
        "consent",
        consent.id,
        patient_id=patient.id,
        detail={"version": CONSENT_VERSION, "method": method, "document_id": document.id},
    )
    return consent
