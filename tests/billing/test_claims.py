"""Claims: the 837P validated by pyx12 and checked for its codes, the CSV of the same
lines, and the marks that keep a line from being sent twice."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
import pyx12.params
import pyx12.x12n_document

from clinic.extensions import db
from clinic.patients.models import Patient

URL = "/api/v1/billing/claims.x12?from=2026-03-01&to=2026-03-31"


def validate_837(text: str) -> str:
    """pyx12's verdict: the 999 acknowledgement it writes for the interchange."""
    ack = io.StringIO()
    ok = pyx12.x12n_document.x12n_document(
        param=pyx12.params.params(),
        src_file=io.StringIO(text),
        fd_997=ack,
        fd_html=None,
        fd_xmldoc=None,
    )
    assert ok, f"pyx12 refused the 837P:\n{ack.getvalue()}\n{text}"
    return ack.getvalue()


def segments(text: str) -> list[list[str]]:
    return [segment.strip().split("*") for segment in text.split("~") if segment.strip()]


def test_the_837p_is_valid_and_carries_the_codes(
    coded_course: Any, api: Any, front_desk: Any
) -> None:
    course, _ids = coded_course
    response = api.as_(front_desk).get(URL)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/edi-x12"
    text = response.get_data(as_text=True)
    ack = validate_837(text)
    assert "IK5*A" in ack and "AK9*A" in ack  # the transaction set is accepted
    found = segments(text)
    ids_of = {segment[0] for segment in found}
    assert {"ISA", "GS", "ST", "BHT", "CLM", "HI", "SV1", "SE", "GE", "IEA"} <= ids_of
    gs = next(s for s in found if s[0] == "GS")
    assert gs[-1] == "005010X222A1"
    service_lines = [s[1] for s in found if s[0] == "SV1"]
    # The five billable sessions; the two stopped early are not claimed.
    assert service_lines == ["HC:90867", "HC:90868", "HC:90869", "HC:90868", "HC:90869"]
    dates = [s[3] for s in found if s[0] == "DTP" and s[1] == "472"]
    assert dates == ["20260302", "20260304", "20260309", "20260312", "20260316"]
    assert next(s for s in found if s[0] == "HI")[1:] == ["ABK:F332", "ABF:G894"]
    assert ["REF", "G1", "PA-77"] in found
    billing_provider = next(s for s in found if s[0] == "NM1" and s[1] == "85")
    assert billing_provider[-2:] == ["XX", "1234567893"]
    assert ["N4", "SPRINGFIELD", "IL", "627011234"] in found  # the ZIP+4
    subscriber = next(s for s in found if s[0] == "NM1" and s[1] == "IL")
    assert subscriber[3] == course.patient.last_name.upper()
    assert subscriber[-2:] == ["MI", "W123456789"]
    assert response.headers["X-Claims-Lines"] == "5"


def test_an_exported_line_is_not_sent_again_unless_asked(
    coded_course: Any, api: Any, front_desk: Any
) -> None:
    assert api.as_(front_desk).get(URL).status_code == 200
    again = api.as_(front_desk).get(URL)
    assert again.status_code == 204  # nothing left to claim
    assert again.headers["X-Claims-Lines"] == "0"
    resent = api.as_(front_desk).get(URL + "&include_exported=1")
    assert resent.get_data(as_text=True).count("SV1*") == 5


def test_a_payer_filter_and_lines_missing_claim_data(
    coded_course: Any, api: Any, front_desk: Any
) -> None:
    course, _ids = coded_course
    other = api.as_(front_desk).get(URL + "&payer=Cigna")
    assert other.headers["X-Claims-Lines"] == "0"
    patient = db.session.get(Patient, course.patient_id)
    assert patient is not None
    patient.address = None
    db.session.commit()
    response = api.as_(front_desk).get(URL)
    assert response.headers["X-Claims-Lines"] == "0"
    assert len(response.headers["X-Claims-Skipped"].split(",")) == 5
    patient.address = "1 Elm St, Springfield, IL 62701"
    db.session.commit()
    assert api.as_(front_desk).get(URL).headers["X-Claims-Lines"] == "5"  # not marked before


def test_the_csv_lists_the_same_lines(coded_course: Any, api: Any, admin: Any) -> None:
    course, ids = coded_course
    response = api.as_(admin).get(URL.replace("claims.x12", "claims.csv"))
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [int(row["appointment_id"]) for row in rows] == [ids[0], ids[2], ids[3], ids[5], ids[6]]
    assert [row["cpt"] for row in rows] == ["90867", "90868", "90869", "90868", "90869"]
    assert rows[0]["icd10"] == "F33.2 G89.4"
    assert rows[0]["mrn"] == course.patient.mrn
    # The CSV marks nothing: the 837P still carries every line.
    assert api.as_(admin).get(URL).headers["X-Claims-Lines"] == "5"


def test_without_a_billing_identity_claims_are_409(app: Any, api: Any, admin: Any) -> None:
    app.config["CLINIC_BILLING"] = {"npi": None, "tax_id": None, "name": None, "address": None}
    response = api.as_(admin).get(URL)
    assert response.status_code == 409
    assert response.json["error"]["code"] == "billing_identity_missing"
    assert "CLINIC_BILLING_NPI" in response.json["error"]["message"]


@pytest.mark.parametrize("role", ["technician", "clinician"])
def test_only_billing_roles_export(app: Any, api: Any, role: str) -> None:
    from tests.factories import make_user

    assert api.as_(make_user(role)).get(URL).status_code == 403


def pdf_text(body: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def test_the_superbill_names_the_clinic_the_patient_and_each_billable_session(
    coded_course: Any, api: Any, front_desk: Any
) -> None:
    course, _ids = coded_course
    response = api.as_(front_desk).get(
        f"/api/v1/patients/{course.patient_id}/superbill.pdf?from=2026-03-01&to=2026-03-31"
    )
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    text = pdf_text(response.data)
    assert "Lakeside TMS LLC" in text and "1234567893" in text
    assert course.patient.last_name in text and course.patient.mrn in text
    for day, cpt in [("2026-03-02", "90867"), ("2026-03-09", "90869"), ("2026-03-12", "90868")]:
        assert day in text and cpt in text
    assert "2026-03-03" not in text  # stopped early: not on the superbill
    assert "F33.2" in text and "G89.4" in text


def test_a_superbill_of_nobody_is_404(app: Any, api: Any, admin: Any) -> None:
    response = api.as_(admin).get(
        "/api/v1/patients/999999/superbill.pdf?from=2026-03-01&to=2026-03-31"
    )
    assert response.status_code == 404
