"""The intake part of /api/v1, as CONTRACT.md writes it."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from clinic.audit.models import AuditEvent
from clinic.extensions import db
from clinic.patients.models import MedicationTrial, Patient, Screening
from clinic.patients.screening import SCREENING_ITEMS
from tests.factories import count, make_patient, make_user
from tests.patients.conftest import answers, audit_count

BASE = "/api/v1"
NEW = {"first_name": "Jamie", "last_name": "Rivera", "date_of_birth": "1980-05-17"}
FUZZ = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def test_create_answers_201_with_id_mrn_and_normalised_contact(api: Any, front_desk: Any) -> None:
    response = api.as_(front_desk).post(
        f"{BASE}/patients",
        json={
            **NEW,
            "sex": "female",
            "email": "jamie@example.org",
            "phone": "212-555-0123",
            "preferred_channel": "sms",
            "sms_consent": True,
            "email_consent": False,
            "timezone": "America/Chicago",
            "diagnoses": ["f33.1", "G89.29", "F33.1"],
        },
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert isinstance(body["id"], int) and len(body["mrn"]) == 8
    assert body["phone"] == "+12125550123"
    assert body["diagnoses"] == ["F33.1", "G89.29"]
    assert body["sms_consent"] is True and body["sms_consent_at"].endswith(("Z", "+00:00"))
    assert body["date_of_birth"] == "1980-05-17"
    second = api.as_(front_desk).post(f"{BASE}/patients", json={**NEW, "allow_duplicate": True})
    assert second.status_code == 201 and second.json["mrn"] != body["mrn"]


BAD_BODIES = (
    ({"last_name": "Rivera", "date_of_birth": "1980-05-17"}, "first_name"),
    ({**NEW, "date_of_birth": "17/05/1980"}, "date_of_birth"),
    ({**NEW, "date_of_birth": "2999-01-01"}, "date_of_birth"),
    ({**NEW, "phone": "555"}, "phone"),
    ({**NEW, "email": "jamie@"}, "email"),
    ({**NEW, "preferred_channel": "email"}, "preferred_channel"),
    ({**NEW, "timezone": "Nowhere/Town"}, "timezone"),
    ({**NEW, "diagnoses": ["sad"]}, "diagnoses"),
    ({**NEW, "shoe_size": 44}, "shoe_size"),
    ({**NEW, "sms_consent": "maybe"}, "sms_consent"),
)


def test_create_refuses_bad_fields_with_422_naming_them(api: Any, front_desk: Any) -> None:
    desk = api.as_(front_desk)
    for body, field in BAD_BODIES:
        response = desk.post(f"{BASE}/patients", json=body)
        assert response.status_code == 422, body
        error = response.json["error"]
        assert error["code"] == "validation_error" and error["message"]
        assert error["fields"][field], body
    assert count(Patient) == 0


def test_role_table_for_patients(api: Any) -> None:
    """Create/edit: admin, front desk, clinician. Read: every role."""
    patient = make_patient()
    for role, may_edit in (
        ("admin", True),
        ("front_desk", True),
        ("clinician", True),
        ("technician", False),
    ):
        user = api.as_(make_user(role))
        created = user.post(f"{BASE}/patients", json={**NEW, "allow_duplicate": True})
        assert created.status_code == (201 if may_edit else 403), role
        patched = user.patch(f"{BASE}/patients/{patient.id}", json={"notes": role})
        assert patched.status_code == (200 if may_edit else 403), role
        if not may_edit:
            assert created.json["error"]["code"] == "forbidden"
        assert user.get(f"{BASE}/patients/{patient.id}").status_code == 200
        assert user.get(f"{BASE}/patients?q=jam").status_code == 200
        assert user.get(f"{BASE}/screening-items").status_code == 200


def test_no_token_is_401(client: Any) -> None:
    response = client.get(f"{BASE}/patients")
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


def test_search_by_name_or_mrn_fragment(api: Any, front_desk: Any) -> None:
    created = api.as_(front_desk).post(f"{BASE}/patients", json=NEW).json
    api.as_(front_desk).post(
        f"{BASE}/patients", json={**NEW, "first_name": "Alex", "last_name": "Stone"}
    )
    by_name = api.as_(front_desk).get(f"{BASE}/patients?q=rIvEr").json["items"]
    assert [p["id"] for p in by_name] == [created["id"]]
    by_mrn = api.as_(front_desk).get(f"{BASE}/patients?q={created['mrn'][2:6]}").json["items"]
    assert created["id"] in [p["id"] for p in by_mrn]
    assert len(api.as_(front_desk).get(f"{BASE}/patients?limit=1").json["items"]) == 1
    assert api.as_(front_desk).get(f"{BASE}/patients?limit=100000").status_code == 422


def test_get_is_audited_as_view_and_patch_changes_fields(
    api: Any, front_desk: Any, technician: Any
) -> None:
    created = api.as_(front_desk).post(f"{BASE}/patients", json=NEW).json
    read = api.as_(technician).get(f"{BASE}/patients/{created['id']}")
    assert read.status_code == 200 and read.json["mrn"] == created["mrn"]
    views = db.session.scalars(
        select(AuditEvent).where(AuditEvent.action == "view", AuditEvent.actor_id == technician.id)
    ).all()
    assert [(v.entity_type, v.entity_id) for v in views] == [("patient", created["id"])]

    patched = api.as_(front_desk).patch(
        f"{BASE}/patients/{created['id']}",
        json={"email": "new@example.org", "email_consent": True, "preferred_channel": "email"},
    )
    assert patched.status_code == 200, patched.json
    assert patched.json["email_consent"] is True and patched.json["email_consent_at"]
    assert patched.json["first_name"] == "Jamie"
    audit = api.as_(make_user("admin")).get(
        f"{BASE}/audit?entity_type=patient&entity_id={created['id']}"
    )
    assert "view" in [event["action"] for event in audit.json["items"]]


def test_patch_refuses_and_keeps_the_record(api: Any, front_desk: Any) -> None:
    created = api.as_(front_desk).post(f"{BASE}/patients", json=NEW).json
    response = api.as_(front_desk).patch(
        f"{BASE}/patients/{created['id']}", json={"first_name": "", "phone": "1"}
    )
    assert response.status_code == 422
    assert set(response.json["error"]["fields"]) == {"first_name", "phone"}
    assert db.session.get(Patient, created["id"]).first_name == "Jamie"


def test_unknown_patient_is_404(api: Any, front_desk: Any) -> None:
    for path in ("/patients/999", "/patients/99999999999999999999", "/screenings/7/sign-off"):
        response = api.as_(front_desk).get(BASE + path)
        assert response.status_code in (404, 405), path
    response = api.as_(front_desk).get(f"{BASE}/patients/99999999999999999999")
    assert response.json["error"]["code"] == "not_found"


def test_screening_items(api: Any, technician: Any) -> None:
    items = api.as_(technician).get(f"{BASE}/screening-items").json["items"]
    assert [i["code"] for i in items] == [i.code for i in SCREENING_ITEMS]
    assert {i["class"] for i in items} == {"absolute", "relative"}
    assert all(set(i) == {"code", "question", "class"} for i in items)


def test_post_screening(api: Any, front_desk: Any) -> None:
    patient = make_patient(screened=None)
    for version, (yes, result) in enumerate(
        [((), "clear"), (("seizure_history",), "review"), (("metal_in_head",), "contraindicated")],
        start=1,
    ):
        response = api.as_(front_desk).post(
            f"{BASE}/patients/{patient.id}/screenings",
            json={"answers": answers(*yes), "notes": "Reviewed with patient."},
        )
        assert response.status_code == 201, response.json
        assert response.json["result"] == result
        assert response.json["positive_items"] == list(yes)
        assert isinstance(response.json["id"], int) and response.json["version"] == version


def test_incomplete_screening_is_422_naming_the_codes(api: Any, front_desk: Any) -> None:
    patient = make_patient(screened=None)
    partial = answers()
    del partial["cochlear_implant"]
    response = api.as_(front_desk).post(
        f"{BASE}/patients/{patient.id}/screenings", json={"answers": {**partial, "x_ray": True}}
    )
    assert response.status_code == 422
    error = response.json["error"]
    assert "cochlear_implant" in error["message"] and "x_ray" in error["message"]
    assert {"answers.cochlear_implant", "answers.x_ray"} == set(error["fields"])
    assert count(Screening) == 0


def test_screening_permissions_and_sign_off(
    api: Any, technician: Any, front_desk: Any, clinician: Any
) -> None:
    patient = make_patient(screened=None)
    path = f"{BASE}/patients/{patient.id}/screenings"
    assert api.as_(technician).post(path, json={"answers": answers()}).status_code == 403
    screening = api.as_(front_desk).post(path, json={"answers": answers("pregnancy")}).json
    sign_off = f"{BASE}/screenings/{screening['id']}/sign-off"
    assert api.as_(front_desk).post(sign_off, json={"note": "ok"}).status_code == 403
    assert api.as_(clinician).post(sign_off, json={}).status_code == 422
    signed = api.as_(clinician).post(sign_off, json={"note": "Negative pregnancy test."})
    assert signed.status_code == 200
    assert signed.json["signed_off_by_id"] == clinician.id
    assert signed.json["cleared_for_treatment"] is True
    again = api.as_(clinician).post(sign_off, json={"note": "again"})
    assert again.status_code == 409 and again.json["error"]["code"] == "already_signed_off"
    history = api.as_(technician).get(path).json["items"]
    assert [s["id"] for s in history] == [screening["id"]]


def test_medication_trials_endpoints(api: Any, clinician: Any, technician: Any) -> None:
    patient = make_patient()
    path = f"{BASE}/patients/{patient.id}/medication-trials"
    created = api.as_(clinician).post(
        path,
        json={
            "drug": "Sertraline",
            "drug_class": "SSRI",
            "dose": "100 mg",
            "start_date": "2025-01-06",
            "stop_date": "2025-03-03",
            "weeks_at_dose": 8,
            "reason_stopped": "no response",
        },
    )
    assert created.status_code == 201, created.json
    trial_id = created.json["id"]
    assert api.as_(technician).post(path, json={"drug": "x"}).status_code == 403
    changed = api.as_(clinician).patch(
        f"{BASE}/medication-trials/{trial_id}", json={"dose": "150 mg"}
    )
    assert changed.status_code == 200 and changed.json["dose"] == "150 mg"
    bad = api.as_(clinician).patch(
        f"{BASE}/medication-trials/{trial_id}", json={"stop_date": "2024-01-01"}
    )
    assert bad.status_code == 422 and "stop_date" in bad.json["error"]["fields"]
    listed = api.as_(technician).get(path).json["items"]
    assert [t["drug"] for t in listed] == ["Sertraline"]
    assert api.as_(clinician).delete(f"{BASE}/medication-trials/{trial_id}").status_code == 204
    assert count(MedicationTrial) == 0
    assert api.as_(clinician).delete(f"{BASE}/medication-trials/{trial_id}").status_code == 404


def test_authorization_endpoints(api: Any, front_desk: Any, technician: Any) -> None:
    patient = make_patient()
    path = f"{BASE}/patients/{patient.id}/authorizations"
    created = api.as_(front_desk).post(
        path,
        json={
            "payer": "Blue Cross",
            "member_id": "XQ1",
            "number": "PA-77",
            "sessions_authorized": 36,
            "valid_from": "2026-03-01",
            "valid_to": "2026-06-30",
        },
    )
    assert created.status_code == 201, created.json
    changed = api.as_(front_desk).patch(
        f"{BASE}/authorizations/{created.json['id']}", json={"sessions_authorized": 40}
    )
    assert changed.json["sessions_authorized"] == 40
    assert api.as_(front_desk).post(path, json={"payer": "X"}).status_code == 422
    assert [a["number"] for a in api.as_(technician).get(path).json["items"]] == ["PA-77"]


def test_openapi_documents_the_intake_endpoints(client: Any) -> None:
    paths = client.get(f"{BASE}/openapi.json").json["paths"]
    for path in (
        "/api/v1/patients",
        "/api/v1/patients/{patient_id}",
        "/api/v1/screening-items",
        "/api/v1/patients/{patient_id}/screenings",
        "/api/v1/screenings/{screening_id}/sign-off",
        "/api/v1/patients/{patient_id}/medication-trials",
        "/api/v1/patients/{patient_id}/authorizations",
    ):
        assert path in paths


# --- fuzzing: any input answers 4xx with a message, never 5xx, nothing half-written --------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=300),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=8,
)
field_names = st.sampled_from(
    [
        *NEW,
        "sex",
        "email",
        "phone",
        "preferred_channel",
        "sms_consent",
        "timezone",
        "diagnoses",
        "pain_duration_months",
        "notes",
        "emergency_contact_phone",
    ]
) | st.text(max_size=12)


@FUZZ
@given(body=st.dictionaries(field_names, json_values, max_size=8))
def test_fuzz_create_patient(api: Any, front_desk: Any, body: dict[str, Any]) -> None:
    desk = api.as_(front_desk)
    before, audits = count(Patient), audit_count()
    response = desk.post(f"{BASE}/patients", json=body)
    assert response.status_code in (201, 422), response.json
    if response.status_code == 422:
        assert response.json["error"]["message"]
        assert (count(Patient), audit_count()) == (before, audits)


@FUZZ
@given(
    base=st.fixed_dictionaries(
        {},
        optional={
            "first_name": st.text(max_size=150),
            "last_name": st.text(min_size=1, max_size=150),
            "phone": st.text(max_size=30) | st.from_regex(r"\+?[0-9 ()-]{0,20}", fullmatch=True),
            "email": st.emails() | st.text(max_size=30),
            "diagnoses": st.lists(
                st.text(max_size=8) | st.from_regex(r"[A-Z][0-9]{2}\.[0-9]"), max_size=4
            ),
            "pain_duration_months": st.integers(),
            "date_of_birth": st.dates().map(str) | st.text(max_size=12),
        },
    )
)
def test_fuzz_patch_patient(api: Any, front_desk: Any, base: dict[str, Any]) -> None:
    patient = make_patient(first_name="Original")
    response = api.as_(front_desk).patch(f"{BASE}/patients/{patient.id}", json=base)
    assert response.status_code in (200, 422), response.json
    if response.status_code == 422:
        assert response.json["error"]["message"]
        db.session.expire_all()
        assert db.session.get(Patient, patient.id).first_name == "Original"


@FUZZ
@given(
    answers_value=json_values
    | st.dictionaries(st.sampled_from([i.code for i in SCREENING_ITEMS]), json_values),
    notes=json_values,
)
def test_fuzz_screening(api: Any, front_desk: Any, answers_value: Any, notes: Any) -> None:
    patient = make_patient(screened=None)
    response = api.as_(front_desk).post(
        f"{BASE}/patients/{patient.id}/screenings", json={"answers": answers_value, "notes": notes}
    )
    assert response.status_code in (201, 422), response.json
    if response.status_code == 422:
        assert response.json["error"]["message"]
        assert (
            db.session.scalar(select(Screening.id).where(Screening.patient_id == patient.id))
            is None
        )


@FUZZ
@given(q=st.text(max_size=200), limit=st.text(max_size=25) | st.integers().map(str))
def test_fuzz_search(api: Any, technician: Any, q: str, limit: str) -> None:
    response = api.as_(technician).get(f"{BASE}/patients", query_string={"q": q, "limit": limit})
    assert response.status_code in (200, 422), response.json
