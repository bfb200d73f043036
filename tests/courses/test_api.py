"""The JSON API for protocols and courses, per CONTRACT.md: fields, codes and roles."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from clinic.audit.models import AuditEvent
from clinic.courses.models import Course
from clinic.extensions import db
from clinic.patients.models import Authorization
from tests.courses.conftest import NOW, add_sessions, make_authorization
from tests.factories import make_course, make_patient, make_user

PROTOCOL_KEYS = {
    "code",
    "name",
    "indication",
    "target",
    "frequency_hz",
    "pulses_per_train",
    "train_seconds",
    "inter_train_seconds",
    "trains",
    "total_pulses",
    "intensity_pct_mt",
    "session_seconds",
    "default_sessions",
    "pattern",
    "slot_minutes",
    "setup_buffer_minutes",
    "frequency_note",
}
COURSE_KEYS = {
    "id",
    "patient_id",
    "protocol",
    "status",
    "planned_sessions",
    "delivered_sessions",
    "scheduled_sessions",
    "missed_sessions",
    "remaining_sessions",
    "projected_end_date",
    "authorization",
}
DROP = object()
FUZZ = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def new_protocol(**overrides: Any) -> dict[str, Any]:
    return {
        "code": "5hz-ldlpfc",
        "name": "5 Hz rTMS, left DLPFC",
        "indication": "depression",
        "target": "L-DLPFC",
        "frequency_hz": 5,
        "pulses_per_train": 50,
        "train_seconds": 10,
        "inter_train_seconds": 20,
        "trains": 30,
        "total_pulses": 1500,
        "intensity_pct_mt": 110,
        "default_sessions": 30,
        "pattern": "daily_taper",
    } | overrides


def error_code(response: Any) -> str:
    return response.get_json()["error"]["code"]


# --- Protocols -------------------------------------------------------------------------


def test_protocols_list_the_presets_with_computed_session_length(api: Any, technician: Any) -> None:
    response = api.as_(technician).get("/api/v1/protocols")
    assert response.status_code == 200
    items = {item["code"]: item for item in response.get_json()["items"]}
    assert len(items) == 6
    ldlpfc = items["10hz-ldlpfc"]
    assert set(ldlpfc) >= PROTOCOL_KEYS
    assert ldlpfc["total_pulses"] == 3000
    assert ldlpfc["session_seconds"] == 2224
    assert abs(ldlpfc["session_seconds"] / 60 - 37.5) < 0.5
    assert ldlpfc["slot_minutes"] == 48 and ldlpfc["setup_buffer_minutes"] == 10
    assert items["itbs-ldlpfc"]["total_pulses"] == 600
    assert items["itbs-ldlpfc"]["frequency_note"] == "50 Hz bursts of 3 at 5 Hz"
    assert items["accelerated-itbs"]["pattern"] == "accelerated"


def test_protocols_need_a_token(client: Any) -> None:
    response = client.get("/api/v1/protocols")
    assert response.status_code == 401 and error_code(response) == "unauthorized"


def test_admin_adds_and_edits_a_clinic_protocol(api: Any, admin: Any) -> None:
    created = api.as_(admin).post("/api/v1/protocols", json=new_protocol())
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["session_seconds"] == 880
    assert created.get_json()["setup_buffer_minutes"] == 10
    patched = api.as_(admin).patch(
        "/api/v1/protocols/5hz-ldlpfc", json={"setup_buffer_minutes": 15, "name": "5 Hz"}
    )
    assert patched.status_code == 200
    assert patched.get_json()["slot_minutes"] == 15 + 15
    again = api.as_(admin).post("/api/v1/protocols", json=new_protocol())
    assert again.status_code == 409 and error_code(again) == "protocol_exists"


INVALID_PROTOCOLS = [
    ({"total_pulses": 1000}, "total_pulses"),
    ({"pattern": "fortnightly"}, "pattern"),
    ({"intensity_pct_mt": 200}, "intensity_pct_mt"),
    ({"setup_buffer_minutes": 90}, "setup_buffer_minutes"),
    ({"train_seconds": -4}, "train_seconds"),
    ({"trains": "many"}, "trains"),
    ({"colour": "blue"}, "colour"),
]


def test_invalid_protocols_answer_422_with_the_field(api: Any, admin: Any) -> None:
    for overrides, field in INVALID_PROTOCOLS:
        response = api.as_(admin).post("/api/v1/protocols", json=new_protocol(**overrides))
        assert response.status_code == 422, overrides
        assert field in response.get_json()["error"]["fields"]


def test_presets_are_read_only_but_can_be_deactivated(api: Any, admin: Any) -> None:
    refused = api.as_(admin).patch("/api/v1/protocols/10hz-ldlpfc", json={"trains": 10})
    assert refused.status_code == 409 and error_code(refused) == "preset_read_only"
    code = api.as_(admin).patch("/api/v1/protocols/10hz-ldlpfc", json={"code": "x"})
    assert code.status_code == 422
    off = api.as_(admin).patch("/api/v1/protocols/10hz-ldlpfc", json={"active": False})
    assert off.status_code == 200 and off.get_json()["active"] is False
    codes = [p["code"] for p in api.as_(admin).get("/api/v1/protocols").get_json()["items"]]
    assert "10hz-ldlpfc" not in codes
    everything = api.as_(admin).get("/api/v1/protocols?include_inactive=true").get_json()
    assert "10hz-ldlpfc" in [p["code"] for p in everything["items"]]
    missing = api.as_(admin).patch("/api/v1/protocols/nope", json={"active": False})
    assert missing.status_code == 404


def test_only_an_admin_manages_protocols(api: Any) -> None:
    for role in ("front_desk", "technician", "clinician"):
        user = make_user(role)
        created = api.as_(user).post("/api/v1/protocols", json=new_protocol())
        patched = api.as_(user).patch("/api/v1/protocols/10hz-ldlpfc", json={"active": False})
        assert (created.status_code, patched.status_code) == (403, 403), role
        assert error_code(created) == "forbidden"


# --- Prescribing -----------------------------------------------------------------------


def test_a_clinician_prescribes_a_course(api: Any, clinician: Any) -> None:
    patient = make_patient()
    response = api.as_(clinician).post(
        "/api/v1/courses", json={"patient_id": patient.id, "protocol": "10hz-ldlpfc"}
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) >= COURSE_KEYS
    assert body["protocol"] == "10hz-ldlpfc"
    assert body["status"] == "active"
    assert body["planned_sessions"] == 36
    assert body["prescribed_pct_mt"] == 120
    assert body["prescriber_id"] == clinician.id
    assert (body["delivered_sessions"], body["remaining_sessions"]) == (0, 36)
    assert body["authorization"] is None


def test_prescribing_with_a_new_authorization(api: Any, admin: Any) -> None:
    clinician = make_user("clinician")
    patient = make_patient()
    response = api.as_(admin).post(
        "/api/v1/courses",
        json={
            "patient_id": patient.id,
            "protocol": "10hz-m1-pain",
            "planned_sessions": 12,
            "prescriber_id": clinician.id,
            "authorization": {
                "payer": "Medicare",
                "number": "M-123",
                "sessions_authorized": 10,
                "valid_from": "2026-03-01",
                "valid_to": "2026-06-30",
            },
        },
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["prescriber_id"] == clinician.id and body["planned_sessions"] == 12
    assert body["authorization"] == {
        "id": body["authorization_id"],
        "status": "approved",  # given with the prescription: the payer's answer
        "payer": "Medicare",
        "number": "M-123",
        "sessions_authorized": 10,
        "valid_from": "2026-03-01",
        "valid_to": "2026-06-30",
        "sessions_used": 0,
        "sessions_remaining": 10,
        "sessions_booked": 0,
        "warning": None,
    }


def test_prescribing_is_refused_by_the_screening(api: Any, clinician: Any) -> None:
    for screened, signed_off, code in [
        (None, True, "screening_required"),
        ("contraindicated", True, "screening_contraindicated"),
        ("review", False, "screening_review_required"),
    ]:
        patient = make_patient(screened=screened)
        if not signed_off:
            patient.screenings[0].signed_off_at = None
            db.session.commit()
        response = api.as_(clinician).post(
            "/api/v1/courses", json={"patient_id": patient.id, "protocol": "10hz-ldlpfc"}
        )
        assert response.status_code == 409
        assert error_code(response) == code
        assert db.session.scalar(select(func.count()).select_from(Course)) == 0


def test_a_signed_off_review_screening_allows_prescribing(api: Any, clinician: Any) -> None:
    patient = make_patient(screened="review")
    response = api.as_(clinician).post(
        "/api/v1/courses", json={"patient_id": patient.id, "protocol": "10hz-ldlpfc"}
    )
    assert response.status_code == 201


INVALID_PRESCRIPTIONS = [
    ({"patient_id": DROP, "protocol": "10hz-ldlpfc"}, "patient_id"),
    ({"patient_id": None, "protocol": "10hz-ldlpfc"}, "patient_id"),
    ({"patient_id": 999999, "protocol": "10hz-ldlpfc"}, "patient_id"),
    ({"protocol": "no-such-protocol"}, "protocol"),
    ({"protocol": "10hz-ldlpfc", "planned_sessions": 0}, "planned_sessions"),
    ({"protocol": "10hz-ldlpfc", "planned_sessions": 10**30}, "planned_sessions"),
    ({"protocol": "10hz-ldlpfc", "prescribed_pct_mt": 130}, "pct_mt_reason"),
    ({"protocol": "10hz-ldlpfc", "authorization": {"payer": "X"}}, "authorization"),
    ({"protocol": "10hz-ldlpfc", "surprise": 1}, "surprise"),
]


def test_invalid_prescriptions_answer_422(api: Any, clinician: Any) -> None:
    patient = make_patient()
    for body, field in INVALID_PRESCRIPTIONS:
        merged = {"patient_id": patient.id} | body
        response = api.as_(clinician).post(
            "/api/v1/courses", json={k: v for k, v in merged.items() if v is not DROP}
        )
        assert response.status_code == 422, body
        fields = response.get_json()["error"]["fields"]
        assert any(name.startswith(field) for name in fields), fields


def test_only_admin_and_clinician_prescribe(api: Any) -> None:
    patient = make_patient()
    course = make_course(patient)
    for role in ("front_desk", "technician"):
        user = make_user(role)
        as_user = api.as_(user)
        assert (
            as_user.post(
                "/api/v1/courses", json={"patient_id": patient.id, "protocol": "10hz-ldlpfc"}
            ).status_code
            == 403
        )
        assert as_user.patch(f"/api/v1/courses/{course.id}", json={"notes": "x"}).status_code == 403
        assert (
            as_user.post(
                f"/api/v1/courses/{course.id}/status", json={"status": "on_hold", "reason": "x"}
            ).status_code
            == 403
        )
        assert as_user.get(f"/api/v1/courses/{course.id}").status_code == 200


# --- Reading, numbers, changes ---------------------------------------------------------


def test_reading_a_course_adds_up_and_is_audited(api: Any, front_desk: Any, frozen: Any) -> None:
    patient = make_patient()
    course = make_course(
        patient, planned_sessions=6, authorization_id=make_authorization(patient, 5).id
    )
    add_sessions(course, ["completed", "no_show", "cancelled"], start=NOW - timedelta(days=3))
    add_sessions(course, ["scheduled"] * 5)
    response = api.as_(front_desk).get(f"/api/v1/courses/{course.id}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["delivered_sessions"] == 1
    assert body["missed_sessions"] == 1
    assert body["cancelled_sessions"] == 1
    assert body["scheduled_sessions"] == 5
    assert body["remaining_sessions"] == 5
    assert body["projected_end_date"] == "2026-03-06"
    assert body["authorization"]["sessions_used"] == 1
    assert body["authorization"]["sessions_remaining"] == 4
    assert body["authorization"]["sessions_booked"] == 5
    assert "authorized" in body["authorization"]["warning"]
    view = db.session.scalar(
        select(AuditEvent).where(AuditEvent.action == "view", AuditEvent.actor_id == front_desk.id)
    )
    assert view is not None and view.patient_id == patient.id


def test_a_missing_course_is_404(api: Any, clinician: Any) -> None:
    response = api.as_(clinician).get("/api/v1/courses/424242")
    assert response.status_code == 404 and error_code(response) == "not_found"


def test_courses_are_listed_per_patient(api: Any, technician: Any) -> None:
    patient = make_patient()
    first, second = make_course(patient), make_course(patient, status="completed")
    make_course()
    response = api.as_(technician).get(f"/api/v1/courses?patient_id={patient.id}")
    assert response.status_code == 200
    assert {item["id"] for item in response.get_json()["items"]} == {first.id, second.id}
    active = api.as_(technician).get(f"/api/v1/courses?patient_id={patient.id}&status=active")
    assert [item["id"] for item in active.get_json()["items"]] == [first.id]
    assert api.as_(technician).get("/api/v1/courses").status_code == 422
    assert api.as_(technician).get("/api/v1/courses?patient_id=99999").status_code == 404


def test_patching_a_course(api: Any, clinician: Any) -> None:
    course = make_course()
    response = api.as_(clinician).patch(
        f"/api/v1/courses/{course.id}",
        json={"planned_sessions": 30, "prescribed_pct_mt": 110, "notes": "Tolerating well"},
    )
    assert response.status_code == 200
    body = response.get_json()
    assert (body["planned_sessions"], body["prescribed_pct_mt"]) == (30, 110)
    assert body["remaining_sessions"] == 30
    higher = api.as_(clinician).patch(
        f"/api/v1/courses/{course.id}", json={"prescribed_pct_mt": 125}
    )
    assert higher.status_code == 422
    assert "pct_mt_reason" in higher.get_json()["error"]["fields"]


def test_status_changes_through_the_api(api: Any, clinician: Any, frozen: Any) -> None:
    course = make_course()
    booked = add_sessions(course, ["scheduled"] * 2)
    url = f"/api/v1/courses/{course.id}/status"
    no_reason = api.as_(clinician).post(url, json={"status": "on_hold"})
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["error"]["fields"]
    held = api.as_(clinician).post(url, json={"status": "on_hold", "reason": "Seizure"})
    assert held.status_code == 200 and held.get_json()["status"] == "on_hold"
    assert held.get_json()["scheduled_sessions"] == 2
    ended = api.as_(clinician).post(url, json={"status": "discontinued", "reason": "Moved"})
    assert ended.get_json()["scheduled_sessions"] == 0
    assert ended.get_json()["cancelled_sessions"] == 2
    assert {a.status for a in booked} == {"cancelled"}
    reopen = api.as_(clinician).post(url, json={"status": "active", "reason": "Back"})
    assert reopen.status_code == 409 and error_code(reopen) == "course_closed"
    bogus = api.as_(clinician).post(url, json={"status": "paused"})
    assert bogus.status_code == 422
    closed = api.as_(clinician).patch(f"/api/v1/courses/{course.id}", json={"notes": "x"})
    assert closed.status_code == 409 and error_code(closed) == "course_closed"


def test_the_openapi_document_describes_the_course_endpoints(client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/protocols", "/api/v1/courses", "/api/v1/courses/{course_id}/status"} <= set(
        paths
    )


# --- Fuzzing: never a 5xx, nothing half-written ----------------------------------------

anything = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
prescription_field = st.sampled_from(
    [
        "patient_id",
        "protocol",
        "planned_sessions",
        "prescribed_pct_mt",
        "pct_mt_reason",
        "target",
        "notes",
        "prescriber_id",
        "authorization",
        "authorization_id",
        "extra",
    ]
)


@FUZZ
@given(
    changes=st.dictionaries(prescription_field, anything, max_size=4),
    drop=st.sets(st.sampled_from(["patient_id", "protocol"])),
)
def test_fuzzed_prescriptions_never_fail_the_server_or_half_write(
    api: Any, clinician: Any, changes: dict[str, Any], drop: set[str]
) -> None:
    patient = make_patient(screened=None)  # refused at the end: nothing may be written
    body: dict[str, Any] = {"patient_id": patient.id, "protocol": "10hz-ldlpfc"}
    body.update(changes)  # every patient here is unscreened: a valid body still gets 409
    for name in drop:
        body.pop(name, None)
    response = api.as_(clinician).post("/api/v1/courses", json=body)
    assert response.status_code in (409, 422), response.get_json()
    assert response.get_json()["error"]["message"]
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Course)) == 0
    assert db.session.scalar(select(func.count()).select_from(Authorization)) == 0


@FUZZ
@given(
    status=st.one_of(st.sampled_from(["active", "on_hold", "completed", "discontinued"]), anything),
    reason=anything,
    extra=st.dictionaries(st.sampled_from(["extra", "course_id"]), anything, max_size=1),
)
def test_fuzzed_status_changes_never_fail_the_server(
    api: Any, clinician: Any, status: Any, reason: Any, extra: dict[str, Any]
) -> None:
    course = make_course()
    response = api.as_(clinician).post(
        f"/api/v1/courses/{course.id}/status", json={"status": status, "reason": reason} | extra
    )
    assert response.status_code < 500, response.get_json()
    db.session.rollback()
    db.session.refresh(course)
    if response.status_code == 200:
        assert course.status == status
    else:
        assert response.get_json()["error"]["message"]
        assert course.status == "active"
