"""Document pages: a patient's documents (list, upload, download) and the tablet page
where the patient signs the TMS consent. Thin: each calls one service."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, redirect, render_template, url_for
from flask_login import current_user

from clinic.documents import bp, consent, services
from clinic.documents.forms import ConsentForm, UploadForm
from clinic.errors import DomainError
from clinic.forms import show_refusal
from clinic.patients.lookup import get_patient
from clinic.permissions import Permission, requires, role_can


@bp.route("/patients/<int:patient_id>/documents", methods=["GET", "POST"])
@requires(Permission.READ)
def documents(patient_id: int) -> Any:
    form = UploadForm()
    may_upload = role_can(current_user.role, Permission.BILLING)
    if may_upload and form.validate_on_submit():
        upload = form.file.data
        try:
            document = services.store_document(
                patient_id,
                form.kind.data,
                upload.filename or "",
                services.read_upload(upload.stream),
                actor_id=current_user.id,
            )
        except DomainError as error:
            show_refusal(form, error, aliases={"_": "file"})
        else:
            flash(f"{document.filename} kept (SHA-256 {document.sha256[:12]}...).", "success")
            return redirect(url_for("documents.documents", patient_id=patient_id))
    return render_template(
        "documents/list.html",
        patient=get_patient(patient_id),
        documents=services.list_documents(patient_id, actor_id=current_user.id),
        form=form if may_upload else None,
    ), (422 if form.errors or form.form_errors else 200)


@bp.route("/documents/<int:document_id>")
@requires(Permission.READ)
def download(document_id: int) -> Any:
    document, data = services.read_document(document_id, actor_id=current_user.id)
    response = Response(data, mimetype=document.content_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{document.filename}"'
    return response


@bp.route("/patients/<int:patient_id>/consent", methods=["GET", "POST"])
@requires(Permission.EDIT_PATIENTS)
def sign_consent(patient_id: int) -> Any:
    """The tablet page: the consent text, then a drawn or typed signature."""
    patient = get_patient(patient_id)
    form = ConsentForm()
    if form.validate_on_submit():
        drawn = form.method.data == "drawn"
        try:
            consent.sign_consent(
                patient_id,
                signer_name=form.signer_name.data or "",
                method=form.method.data or "",
                signature=(form.drawn_signature.data if drawn else form.typed_signature.data) or "",
                actor_id=current_user.id,
            )
        except DomainError as error:
            show_refusal(
                form,
                error,
                aliases={"signature": "drawn_signature" if drawn else "typed_signature"},
            )
        else:
            flash("Consent signed and kept with the patient's documents.", "success")
            return redirect(url_for("documents.documents", patient_id=patient_id))
    return render_template(
        "documents/consent.html",
        patient=patient,
        form=form,
        text=consent.consent_text(),
        version=consent.CONSENT_VERSION,
    ), (422 if form.errors or form.form_errors else 200)
