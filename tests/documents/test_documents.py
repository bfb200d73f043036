"""Documents: uploads checked by content and size, with a checksum; every download in the
audit trail; the storage interface; the TMS consent signed on the tablet, and a course
that cannot start without it unless a clinician records why."""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import zlib
from datetime import datetime
from pathlib import Path
from struct import pack
from typing import Any

import pytest
from sqlalchemy import select

from clinic.audit.models import AuditEvent
from clinic.documents.storage import LocalStore, S3Store, store_for
from clinic.extensions import db
from tests.conftest import _test_config
from tests.factories import login, make_appointment, make_course, make_patient, make_user
from tests.treatments.conftest import NOW, add_mt, log

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


def png(width: int = 2, height: int = 2) -> bytes:
    """A real (tiny, white) PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return pack(">I", len(data)) + kind + data + pack(">I", zlib.crc32(kind + data))

    raw = b"".join(b"\x00" + b"\xff\xff\xff" * width for _ in range(height))
    header = pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


@pytest.fixture
def frozen_at() -> datetime:
    return NOW


@pytest.fixture(scope="session")
def workers_document_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("documents")


@pytest.fixture
def document_store(workers_document_store: Path) -> Path:
    """The store's folder, empty: one a worker, so the settings stay the same from test to
    test and the app an earlier test built is reused (`AppShelf`)."""
    shutil.rmtree(workers_document_store)
    workers_document_store.mkdir()
    return workers_document_store


@pytest.fixture
def app_config(database_url: str, document_store: Path) -> dict[str, Any]:
    return {
        **_test_config(database_url),
        "CLINIC_DOCUMENT_STORE": str(document_store),
        "CLINIC_MAX_UPLOAD_MB": 1,
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    }


def upload(
    api: Any, user: Any, patient_id: int, data: bytes, name: str, kind: str = "referral"
) -> Any:
    return api.as_(user).post(
        f"/api/v1/patients/{patient_id}/documents",
        data={"kind": kind, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_an_upload_is_kept_with_its_checksum_and_served_back(
    app: Any, api: Any, front_desk: Any, technician: Any, document_store: Path
) -> None:
    patient = make_patient()
    response = upload(api, front_desk, patient.id, PDF, "referral letter.pdf")
    assert response.status_code == 201, response.json
    body = response.json
    assert body["kind"] == "referral" and body["size"] == len(PDF)
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert body["filename"] == "referral_letter.pdf" and body["uploaded_at"]
    assert set(body) >= {"id", "kind", "filename", "size", "sha256", "uploaded_at"}
    stored = list(document_store.rglob("*.pdf"))
    assert len(stored) == 1 and stored[0].read_bytes() == PDF
    listed = api.as_(technician).get(f"/api/v1/patients/{patient.id}/documents").json["items"]
    assert [item["id"] for item in listed] == [body["id"]]
    download = api.as_(technician).get(f"/api/v1/documents/{body['id']}")
    assert download.status_code == 200
    assert download.data == PDF and download.mimetype == "application/pdf"
    views = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.entity_type == "document", AuditEvent.entity_id == body["id"]
        )
    ).all()
    assert [(event.action, event.actor_id) for event in views] == [
        ("create", front_desk.id),
        ("view", technician.id),
    ]
    audit = api.as_(make_user("admin")).get(
        f"/api/v1/audit?entity_type=document&entity_id={body['id']}"
    )
    assert "view" in [item["action"] for item in audit.json["items"]]


def test_png_and_jpeg_are_kept_by_their_content(app: Any, api: Any, admin: Any) -> None:
    patient = make_patient()
    assert (
        upload(api, admin, patient.id, png(), "card.png", "insurance_card").json["content_type"]
        == "image/png"
    )
    assert upload(api, admin, patient.id, JPEG, "card", "insurance_card").status_code == 201


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"<html><script>alert(1)</script></html>", "letter.pdf"),  # a PDF by name only
        (b"MZ\x90\x00 executable", "scan.jpg"),
        (b"", "empty.pdf"),
    ],
)
def test_anything_but_pdf_png_or_jpeg_content_is_415(
    app: Any, api: Any, front_desk: Any, data: bytes, name: str
) -> None:
    response = upload(api, front_desk, make_patient().id, data, name)
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"


def test_over_the_size_limit_is_413(app: Any, api: Any, front_desk: Any) -> None:
    patient = make_patient()
    big = PDF + b"0" * (1024 * 1024)
    response = upload(api, front_desk, patient.id, big, "big.pdf")
    assert response.status_code == 413
    assert response.json["error"]["code"] == "too_large"
    huge = PDF + b"0" * (3 * 1024 * 1024)  # past the request limit itself
    response = upload(api, front_desk, patient.id, huge, "huge.pdf")
    assert response.status_code == 413
    assert response.json["error"]["code"] == "too_large"
    assert api.as_(front_desk).get(f"/api/v1/patients/{patient.id}/documents").json["items"] == []


def test_bad_upload_requests_are_422_or_404(app: Any, api: Any, front_desk: Any) -> None:
    patient = make_patient()
    wrong_kind = upload(api, front_desk, patient.id, PDF, "x.pdf", kind="selfie")
    assert wrong_kind.status_code == 422
    no_file = api.as_(front_desk).post(
        f"/api/v1/patients/{patient.id}/documents",
        data={"kind": "records"},
        content_type="multipart/form-data",
    )
    assert no_file.status_code == 422
    assert upload(api, front_desk, 999999, PDF, "x.pdf").status_code == 404
    assert api.as_(front_desk).get("/api/v1/documents/999999").status_code == 404


def test_roles_for_documents(app: Any, api: Any, clinician: Any, technician: Any) -> None:
    patient = make_patient()
    for user in (clinician, technician):
        assert upload(api, user, patient.id, PDF, "x.pdf").status_code == 403
        assert api.as_(user).get(f"/api/v1/patients/{patient.id}/documents").status_code == 200


def test_a_file_changed_in_the_store_is_refused(
    app: Any, api: Any, front_desk: Any, document_store: Path
) -> None:
    document = upload(api, front_desk, make_patient().id, PDF, "x.pdf").json
    stored = next(document_store.rglob("*.pdf"))
    stored.write_bytes(PDF + b"tampered")
    response = api.as_(front_desk).get(f"/api/v1/documents/{document['id']}")
    assert response.status_code == 409
    assert response.json["error"]["code"] == "checksum_mismatch"


def test_the_stores(tmp_path: Path) -> None:
    local = store_for(str(tmp_path))
    assert isinstance(local, LocalStore)
    local.put("1/a.pdf", PDF)
    assert local.get("1/a.pdf") == PDF
    with pytest.raises(ValueError, match="bad document key"):
        local.get("../../etc/passwd")

    class FakeS3:
        def __init__(self) -> None:
            self.objects: dict[tuple[str, str], bytes] = {}

        def put_object(self, Bucket: str, Key: str, Body: bytes, **kwargs: Any) -> None:
            self.objects[(Bucket, Key)] = Body

        def get_object(self, Bucket: str, Key: str) -> dict[str, Any]:
            return {"Body": io.BytesIO(self.objects[(Bucket, Key)])}

    fake = FakeS3()
    s3 = S3Store("clinic-docs", "prod/", client=fake)
    s3.put("1/a.pdf", PDF)
    assert fake.objects == {("clinic-docs", "prod/1/a.pdf"): PDF}
    assert s3.get("1/a.pdf") == PDF


# --- consent ---------------------------------------------------------------------------


def signed_text(api: Any, user: Any, document_id: int) -> str:
    from tests.billing.test_claims import pdf_text

    return pdf_text(api.as_(user).get(f"/api/v1/documents/{document_id}").data)


def test_a_typed_consent_is_kept_as_a_signed_pdf(app: Any, api: Any, front_desk: Any) -> None:
    patient = make_patient(first_name="Robin", last_name="Okafor")
    response = api.as_(front_desk).post(
        f"/api/v1/patients/{patient.id}/consents",
        json={"signer_name": "Robin Okafor", "method": "typed", "signature": "Robin Okafor"},
    )
    assert response.status_code == 201, response.json
    assert response.json["version"] == "2026-1"
    text = signed_text(api, front_desk, response.json["document_id"])
    assert "Informed consent for transcranial magnetic stimulation" in text
    assert "Signed by Robin Okafor" in text and "2026-1" in text
    documents = api.as_(front_desk).get(f"/api/v1/patients/{patient.id}/documents").json["items"]
    assert [d["kind"] for d in documents] == ["consent"]


def test_a_drawn_consent_and_bad_signatures(app: Any, api: Any, clinician: Any) -> None:
    patient = make_patient()
    url = f"/api/v1/patients/{patient.id}/consents"
    drawn = "data:image/png;base64," + base64.b64encode(png(40, 20)).decode()
    ok = api.as_(clinician).post(
        url, json={"signer_name": "Sam Lee", "method": "drawn", "signature": drawn}
    )
    assert ok.status_code == 201, ok.json
    for bad in [
        {"method": "typed", "signature": "someone else"},
        {"method": "drawn", "signature": "data:image/png;base64,bm90IGEgcG5n"},
        {"method": "drawn", "signature": "javascript:alert(1)"},
    ]:
        response = api.as_(clinician).post(url, json={"signer_name": "Sam Lee", **bad})
        assert response.status_code == 422, bad
        assert "signature" in response.json["error"]["fields"]


def test_a_course_cannot_start_without_consent_unless_a_clinician_says_why(
    frozen: Any, api: Any, clinician: Any, technician: Any, front_desk: Any
) -> None:
    course = make_course(make_patient(), prescriber=clinician, consent_waiver_reason=None)
    add_mt(course, 50, at=NOW)
    first = make_appointment(course, NOW)
    body = {"intensity_pct_mt": 120, "pulses_delivered": 3000, "completed": True}
    refused = api.as_(technician).post(f"/api/v1/appointments/{first.id}/treatment", json=body)
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "consent_required"
    assert (
        api.as_(technician)
        .post(f"/api/v1/courses/{course.id}/consent-waiver", json={"reason": "x"})
        .status_code
        == 403
    )
    waived = api.as_(clinician).post(
        f"/api/v1/courses/{course.id}/consent-waiver",
        json={"reason": "Consent signed on paper at the referring clinic; scan to follow."},
    )
    assert waived.status_code == 200
    assert waived.json["consent_waived_by_id"] == clinician.id
    started = api.as_(technician).post(f"/api/v1/appointments/{first.id}/treatment", json=body)
    assert started.status_code == 201, started.json


def test_a_signed_consent_lets_the_course_start(
    frozen: Any, api: Any, front_desk: Any, technician: Any, clinician: Any
) -> None:
    patient = make_patient(first_name="Ada", last_name="Byron")
    course = make_course(patient, prescriber=clinician, consent_waiver_reason=None)
    add_mt(course, 50, at=NOW)
    api.as_(front_desk).post(
        f"/api/v1/patients/{patient.id}/consents",
        json={"signer_name": "Ada Byron", "method": "typed", "signature": "Ada Byron"},
    )
    assert log(make_appointment(course, NOW), technician).completed


def test_the_tablet_page_signs_a_typed_consent(app: Any, client: Any, front_desk: Any) -> None:
    patient = make_patient(first_name="Kim", last_name="Ito")
    login(client, front_desk)
    page = client.get(f"/patients/{patient.id}/consent")
    assert page.status_code == 200
    assert b"Informed consent for transcranial" in page.data and b"<canvas" in page.data
    refused = client.post(
        f"/patients/{patient.id}/consent",
        data={"signer_name": "Kim Ito", "method": "typed", "typed_signature": "K"},
    )
    assert refused.status_code == 422
    signed = client.post(
        f"/patients/{patient.id}/consent",
        data={"signer_name": "Kim Ito", "method": "typed", "typed_signature": "Kim Ito"},
    )
    assert signed.status_code == 302
    listing = client.get(f"/patients/{patient.id}/documents")
    assert b"tms-consent-2026-1.pdf" in listing.data
