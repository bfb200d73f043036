"""/api/v1: a patient's documents (upload, list, download) and the signed TMS consent."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Response
from flask_login import current_user
from flask_smorest.fields import Upload

from clinic.api import ErrorSchema
from clinic.api.blueprint import Blueprint
from clinic.api.openapi import declares
from clinic.api.schemas import list_schema
from clinic.documents import consent, services
from clinic.documents.models import DocumentKind, SignatureMethod
from clinic.permissions import Permission, requires

blp = Blueprint("documents_api", __name__, description="Patient documents and consent")


class DocumentFormSchema(ma.Schema):
    kind = ma.fields.String(
        required=True,
        validate=ma.validate.OneOf([kind.value for kind in DocumentKind]),
        metadata={"description": "consent, referral, insurance_card, records or other"},
    )


class DocumentFileSchema(ma.Schema):
    file = Upload(required=True, metadata={"description": "PDF, PNG or JPEG (by content)"})


class DocumentSchema(ma.Schema):
    id = ma.fields.Integer()
    patient_id = ma.fields.Integer()
    kind = ma.fields.String()
    filename = ma.fields.String()
    content_type = ma.fields.String()
    size = ma.fields.Integer(metadata={"description": "bytes"})
    sha256 = ma.fields.String(metadata={"description": "hex SHA-256 of the content"})
    uploaded_at = ma.fields.AwareDateTime()
    uploaded_by_id = ma.fields.Integer(allow_none=True)


DocumentListSchema = list_schema(DocumentSchema)


class ConsentCreateSchema(ma.Schema):
    signer_name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=200))
    method = ma.fields.String(
        required=True, validate=ma.validate.OneOf([method.value for method in SignatureMethod])
    )
    signature = ma.fields.String(
        required=True,
        validate=ma.validate.Length(min=1, max=800_000),
        metadata={
            "description": "typed: the signer's name again; drawn: the canvas as a PNG data "
            "URL (data:image/png;base64,...)"
        },
    )


class ConsentSchema(ma.Schema):
    id = ma.fields.Integer()
    patient_id = ma.fields.Integer()
    version = ma.fields.String()
    signer_name = ma.fields.String()
    method = ma.fields.String()
    signed_at = ma.fields.AwareDateTime()
    document_id = ma.fields.Integer()


@blp.route("/patients/<int:patient_id>/documents", methods=["POST"])
@requires(Permission.BILLING)
@blp.arguments(DocumentFormSchema, location="form")
@blp.arguments(DocumentFileSchema, location="files")
@blp.response(201, DocumentSchema)
@blp.alt_response(413, schema=ErrorSchema, description="Larger than CLINIC_MAX_UPLOAD_MB.")
@blp.alt_response(415, schema=ErrorSchema, description="Not a PDF, PNG or JPEG by content.")
def upload_document(form: dict[str, Any], files: dict[str, Any], patient_id: int) -> Any:
    """Keep a file in the patient's chart (multipart: `file`, `kind`), with its SHA-256."""
    upload = files["file"]
    data = services.read_upload(upload.stream)
    return services.store_document(
        patient_id, form["kind"], upload.filename or "", data, actor_id=current_user.id
    )


@blp.route("/patients/<int:patient_id>/documents")
@requires(Permission.READ)
@blp.response(200, DocumentListSchema)
def list_documents(patient_id: int) -> Any:
    """The patient's documents, oldest first."""
    return {"items": services.list_documents(patient_id, actor_id=current_user.id)}


@blp.route("/documents/<int:document_id>")
@declares(409, codes=["checksum_mismatch"])
@requires(Permission.READ)
@blp.response(200, content_type="application/octet-stream", description="The file itself.")
@blp.alt_response(404, schema=ErrorSchema, description="No such document.")
def download_document(document_id: int) -> Any:
    """The file, as uploaded; every download is an audit `view` of the document."""
    document, data = services.read_document(document_id, actor_id=current_user.id)
    response = Response(data, mimetype=document.content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    response.headers["X-Content-SHA256"] = document.sha256
    return response


@blp.route("/patients/<int:patient_id>/consents", methods=["POST"])
@requires(Permission.EDIT_PATIENTS)
@blp.arguments(ConsentCreateSchema)
@blp.response(201, ConsentSchema)
def sign_consent(args: dict[str, Any], patient_id: int) -> Any:
    """The patient signs the current TMS consent (typed or drawn); the signed PDF is kept
    as a `consent` document."""
    return consent.sign_consent(patient_id, actor_id=current_user.id, **args)
