"""The contract's treatment endpoints, every answer code, and a fuzz of the log body."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from clinic.alerts.models import Alert
from clinic.audit.models import AuditEvent
from clinic.extensions import db
from clinic.treatments.models import MotorThreshold, TreatmentAmendment, TreatmentLog
from tests.factories import count, make_appointment, make_course, make_patient, make_user
from tests.treatments.conftest import NOW, body, days


def url(appointment: Any, action: str = "treatment") -> str:
    return f"/api/v1/appointments/{appointment.id}/{action}"


# --- check-in ------------------------------------------------------------------------------


def test_every_role_may_check_in(api: Any, frozen: Any) -> None:
    for role in ["admin", "front_desk", "technician", "clinician"]:
        user = make_user(role)
        appointment = make_appointment(make_course(make_patient()), NOW)
        response = api.as_(user).post(url(appointment, "check-in"), json={"reason": "on time"})
        assert response.status_code == 200, response.json
        assert response.json["status"] == "checked_in"
        assert response.json["id"] == appointment.id
        assert response.json["checked_in_at"].startswith("2026-03-10T14:00:00")
        expected_technician = user.id if role == "technician" else None
        assert response.json["technician_id"] == expected_technician


def test_check_in_without_a_body(api: Any, session_now: Any, front_desk: Any) -> None:
    assert api.as_(front_desk).post(url(session_now, "check-in")).status_code == 200


def test_check_in_of_a_closed_appointment_is_409(
    api: Any, course: Any, frozen: Any, front_desk: Any
) -> None:
    for n, status in enumerate(["cancelled", "no_show", "completed"]):
        appointment = make_appointment(course, NOW + days(n), status=status)
        response = api.as_(front_desk).post(url(appointment, "check-in"), json={})
        assert response.status_code == 409
        assert response.json["error"]["code"] == "conflict"


def test_check_in_answers_401_404_and_422(api: Any, session_now: Any, admin: Any) -> None:
    assert api.as_(admin).post("/api/v1/appointments/999999/check-in").status_code == 404
    response = api.as_(admin).post(url(session_now, "check-in"), json={"nonsense": 1})
    assert response.status_code == 422
    assert "nonsense" in response.json["error"]["fields"]


def test_check_in_needs_a_token(client: Any, session_now: Any) -> None:
    response = client.post(url(session_now, "check-in"))
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"


# --- the treatment log ---------------------------------------------------------------------


def test_log_a_session(api: Any, ready: Any, technician: Any) -> None:
    response = api.as_(technician).post(
        url(ready),
        json=body(
            coil_location="F3, 5.5 cm",
            side_effects=["headache", "scalp_discomfort"],
            comfort_score=7,
            notes="tolerated well",
        ),
    )
    assert response.status_code == 201, response.json
    data = response.json
    assert data["appointment_id"] == ready.id
    assert data["status"] == "unsigned"
    assert data["motor_threshold_pct"] == 50
    assert data["dose_pct_output"] == 60.0
    assert data["side_effects"] == ["headache", "scalp_discomfort"]
    assert data["adverse_event"] is None
    assert data["amendments"] == []
    appointment = api.as_(technician).get(f"/api/v1/treatments/{data['id']}").json
    assert appointment["starts_at"].startswith("2026-03-10T14:00:00")


def test_front_desk_may_not_log(api: Any, ready: Any, front_desk: Any) -> None:
    response = api.as_(front_desk).post(url(ready), json=body())
    assert response.status_code == 403
    assert response.json["error"]["code"] == "forbidden"


def test_a_missing_motor_threshold_is_422_motor_threshold_required(
    api: Any, session_now: Any, technician: Any
) -> None:
    response = api.as_(technician).post(url(session_now), json=body())
    assert response.status_code == 422
    assert response.json["error"]["code"] == "motor_threshold_required"
    assert "motor_threshold_pct" in response.json["error"]["fields"]
    inline = api.as_(technician).post(url(session_now), json=body(motor_threshold_pct=45))
    assert inline.status_code == 201
    assert inline.json["motor_threshold_pct"] == 45 and inline.json["dose_pct_output"] == 54.0


INVALID_LOGS = [
    ({"intensity_pct_mt": 121}, "intensity_pct_mt"),
    ({"pulses_delivered": 3001}, "pulses_delivered"),
    ({"completed": False}, "stop_reason"),
    ({"side_effects": ["sneezing"]}, "side_effects"),
    ({"comfort_score": -1}, "comfort_score"),
    ({"adverse_event": {"type": "seizure", "severity": "catastrophic"}}, "adverse_event.severity"),
    ({"adverse_event": {"type": "boredom", "severity": "mild"}}, "adverse_event.type"),
    ({"intensity_pct_mt": "120"}, "intensity_pct_mt"),
    ({"surprise": True}, "surprise"),
]


def test_invalid_logs_are_422_with_the_field(api: Any, ready: Any, technician: Any) -> None:
    for fields, bad in INVALID_LOGS:
        response = api.as_(technician).post(url(ready), json=body(**fields))
        assert response.status_code == 422, response.json
        assert response.json["error"]["code"] == "validation_error"
        assert bad in response.json["error"]["fields"], (fields, response.json)
    for missing in ["intensity_pct_mt", "pulses_delivered", "completed"]:
        values = body()
        del values[missing]
        response = api.as_(technician).post(url(ready), json=values)
        assert response.status_code == 422
        assert missing in response.json["error"]["fields"]
    assert count(TreatmentLog) == 0


def test_409s_cancelled_already_logged_and_too_early(
    api: Any, course: Any, ready: Any, technician: Any
) -> None:
    client = api.as_(technician)
    cancelled = make_appointment(course, NOW - days(1), status="cancelled", sequence=2)
    assert client.post(url(cancelled), json=body()).status_code == 409
    assert client.post(url(ready), json=body()).status_code == 201
    again = client.post(url(ready), json=body())
    assert again.status_code == 409 and again.json["error"]["code"] == "conflict"
    tomorrow = make_appointment(course, NOW + days(1), sequence=3)
    assert client.post(url(tomorrow), json=body()).status_code == 409
    assert client.post("/api/v1/appointments/424242/treatment", json=body()).status_code == 404


def test_completed_logs_count_and_incomplete_ones_do_not(
    api: Any, course: Any, ready: Any, technician: Any
) -> None:
    client = api.as_(technician)
    client.post(url(ready), json=body())
    stopped = make_appointment(course, NOW - days(1), sequence=2)
    response = client.post(
        url(stopped), json=body(completed=False, pulses_delivered=400, stop_reason="headache")
    )
    assert response.status_code == 201
    db.session.expire_all()
    assert (ready.status, stopped.status) == ("completed", "incomplete")


def test_a_seizure_alerts_and_holds_the_course(
    api: Any, ready: Any, technician: Any, clinician: Any
) -> None:
    response = api.as_(technician).post(
        url(ready),
        json=body(
            completed=False,
            pulses_delivered=800,
            stop_reason="seizure",
            adverse_event={"type": "seizure", "severity": "severe", "description": "20 s"},
        ),
    )
    assert response.status_code == 201
    assert response.json["adverse_event"]["type"] == "seizure"
    alerts = api.as_(clinician).get("/api/v1/alerts?status=open")
    if alerts.status_code == 200:  # the alerts API belongs to the outcomes feature
        assert any(a["kind"] == "adverse_event" for a in alerts.json["items"])
    alert = db.session.scalar(select(Alert))
    assert alert.kind == "adverse_event" and alert.severity == "urgent"
    db.session.expire_all()
    assert ready.course.status == "on_hold"


# --- sign, review, amendments, reads ----------------------------------------------------------


@pytest.fixture
def logged(api: Any, ready: Any, technician: Any) -> dict[str, Any]:
    return api.as_(technician).post(url(ready), json=body()).json


def test_sign_then_every_change_but_an_amendment_is_409(
    api: Any, logged: dict[str, Any], technician: Any
) -> None:
    client = api.as_(technician)
    base = f"/api/v1/treatments/{logged['id']}"
    signed = client.post(f"{base}/sign")
    assert signed.status_code == 200 and signed.json["status"] == "signed"
    assert client.post(f"{base}/sign").status_code == 409
    assert client.patch(base, json={"notes": "late"}).status_code == 409
    amended = client.post(
        f"{base}/amendments", json={"field": "comfort_score", "value": 6, "reason": "asked again"}
    )
    assert amended.status_code == 201, amended.json
    history = amended.json["amendments"]
    assert history[-1]["field"] == "comfort_score"
    assert history[-1]["old_value"] is None and history[-1]["new_value"] == 6
    assert history[-1]["actor_id"] == technician.id and history[-1]["reason"] == "asked again"
    assert history[-1]["at"].startswith("2026-03-10T14:00:00")


def test_patch_an_unsigned_log(api: Any, logged: dict[str, Any], technician: Any) -> None:
    response = api.as_(technician).patch(
        f"/api/v1/treatments/{logged['id']}", json={"pulses_delivered": 2950}
    )
    assert response.status_code == 200
    assert response.json["pulses_delivered"] == 2950


def test_bad_amendments_are_422(api: Any, logged: dict[str, Any], technician: Any) -> None:
    for payload in [
        {"field": "completed", "value": False, "reason": "x"},
        {"field": "intensity_pct_mt", "value": 200, "reason": "x"},
        {"field": "notes", "value": "x"},
        {"field": "notes", "value": "x", "reason": ""},
        {"field": "notes", "value": "x", "reason": "y", "extra": 1},
    ]:
        response = api.as_(technician).post(
            f"/api/v1/treatments/{logged['id']}/amendments", json=payload
        )
        assert response.status_code == 422
        assert response.json["error"]["fields"]
    assert count(TreatmentAmendment) == 0


def test_sign_permissions(api: Any, logged: dict[str, Any], front_desk: Any) -> None:
    path = f"/api/v1/treatments/{logged['id']}/sign"
    assert api.as_(front_desk).post(path).status_code == 403
    assert api.as_(make_user("technician")).post(path).status_code == 403
    assert api.as_(make_user("admin")).post(path).status_code == 200


def test_review_permissions_and_twice_is_409(api: Any, logged: dict[str, Any]) -> None:
    path = f"/api/v1/treatments/{logged['id']}/review"
    for role in ("technician", "front_desk"):
        assert api.as_(make_user(role)).post(path).status_code == 403
    response = api.as_(make_user("clinician")).post(path)
    assert response.status_code == 200
    assert response.json["status"] == "reviewed"
    assert response.json["reviewed_by_id"] == response.json["signed_by_id"]
    assert api.as_(make_user("admin")).post(path).status_code == 409


def test_an_admin_may_review(api: Any, logged: dict[str, Any], admin: Any) -> None:
    response = api.as_(admin).post(f"/api/v1/treatments/{logged['id']}/review")
    assert response.status_code == 200


def test_lists_by_course_and_status_record_a_view(
    api: Any, course: Any, logged: dict[str, Any], front_desk: Any
) -> None:
    client = api.as_(front_desk)
    items = client.get(f"/api/v1/treatments?course_id={course.id}").json["items"]
    assert [i["id"] for i in items] == [logged["id"]]
    assert client.get("/api/v1/treatments?status=unreviewed").json["items"][0]["id"] == logged["id"]
    assert client.get("/api/v1/treatments?status=reviewed").json["items"] == []
    assert client.get("/api/v1/treatments?status=bogus").status_code == 422
    assert client.get("/api/v1/treatments/999999").status_code == 404
    assert db.session.scalar(
        select(AuditEvent).where(
            AuditEvent.action == "view", AuditEvent.patient_id == course.patient_id
        )
    )


# --- motor thresholds -------------------------------------------------------------------------


def test_motor_threshold_endpoints(api: Any, course: Any, frozen: Any, technician: Any) -> None:
    client = api.as_(technician)
    path = f"/api/v1/courses/{course.id}/motor-thresholds"
    created = client.post(path, json={"value_pct": 52, "method": "emg", "coil_location": "C3"})
    assert created.status_code == 201, created.json
    assert created.json["measured_at"].startswith("2026-03-10T14:00:00")
    assert created.json["measured_by_id"] == technician.id
    past = client.post(
        path, json={"value_pct": 55, "method": "visual", "measured_at": "2026-03-01T09:00:00-05:00"}
    )
    assert past.json["measured_at"].startswith("2026-03-01T14:00:00")
    items = client.get(path).json["items"]
    assert [i["value_pct"] for i in items] == [52, 55]


def test_bad_motor_thresholds_are_422(api: Any, course: Any, frozen: Any, technician: Any) -> None:
    for payload in [
        {"value_pct": 0, "method": "visual"},
        {"value_pct": 101, "method": "visual"},
        {"value_pct": 50, "method": "palpation"},
        {"value_pct": 50},
        {"value_pct": 50, "method": "visual", "measured_at": "2026-03-01T09:00:00"},
        {"value_pct": 50, "method": "visual", "measured_at": "2026-04-01T09:00:00Z"},
    ]:
        response = api.as_(technician).post(
            f"/api/v1/courses/{course.id}/motor-thresholds", json=payload
        )
        assert response.status_code == 422, payload
        assert response.json["error"]["fields"]
    assert count(MotorThreshold) == 0


def test_motor_threshold_roles_and_404(api: Any, course: Any, front_desk: Any) -> None:
    path = f"/api/v1/courses/{course.id}/motor-thresholds"
    assert (
        api.as_(front_desk).post(path, json={"value_pct": 50, "method": "visual"}).status_code
        == 403
    )
    assert api.as_(front_desk).get(path).status_code == 200
    assert api.as_(front_desk).get("/api/v1/courses/99999/motor-thresholds").status_code == 404


def test_openapi_documents_the_treatment_endpoints(client: Any) -> None:
    paths = client.get("/api/v1/openapi.json").json["paths"]
    for path in (
        "/api/v1/appointments/{appointment_id}/check-in",
        "/api/v1/appointments/{appointment_id}/treatment",
        "/api/v1/treatments/{treatment_id}/amendments",
        "/api/v1/courses/{course_id}/motor-thresholds",
    ):
        assert path in paths


# --- fuzz -------------------------------------------------------------------------------------

JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
FIELD_VALUES = st.one_of(
    JSON_SCALARS,
    st.lists(
        st.one_of(st.sampled_from(["headache", "nausea", "itch"]), st.text(max_size=5)), max_size=4
    ),
    st.fixed_dictionaries(
        {},
        optional={
            "type": st.one_of(st.sampled_from(["seizure", "syncope", "x"]), JSON_SCALARS),
            "severity": st.one_of(st.sampled_from(["mild", "serious", "?"]), JSON_SCALARS),
            "description": JSON_SCALARS,
        },
    ),
)
FIELDS = [
    "intensity_pct_mt",
    "pulses_delivered",
    "completed",
    "motor_threshold_pct",
    "coil_location",
    "stop_reason",
    "side_effects",
    "comfort_score",
    "adverse_event",
    "notes",
    "unexpected",
]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(payload=st.dictionaries(st.sampled_from(FIELDS), FIELD_VALUES, max_size=8))
def test_fuzzed_logs_never_5xx_and_never_half_write(
    api: Any, session_now: Any, technician: Any, payload: dict[str, Any]
) -> None:
    before = (count(MotorThreshold), count(Alert))
    response = api.as_(technician).post(url(session_now), json=payload)
    assert response.status_code in (201, 422), response.get_data(as_text=True)[:300]
    error = (response.json or {}).get("error")
    if response.status_code == 201:
        db.session.execute(
            TreatmentLog.__table__.delete().where(TreatmentLog.id == response.json["id"])
        )
        db.session.execute(
            session_now.__table__.update()
            .where(session_now.__table__.c.id == session_now.id)
            .values(status="scheduled")
        )
        db.session.commit()
    else:
        assert error["message"]
        assert (count(MotorThreshold), count(Alert)) == before


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    payload=st.fixed_dictionaries(
        {},
        optional={
            "field": st.one_of(st.sampled_from(FIELDS), JSON_SCALARS),
            "value": FIELD_VALUES,
            "reason": JSON_SCALARS,
        },
    )
)
def test_fuzzed_amendments_never_5xx(
    api: Any, logged: dict[str, Any], technician: Any, payload: dict[str, Any]
) -> None:
    response = api.as_(technician).post(
        f"/api/v1/treatments/{logged['id']}/amendments", json=payload
    )
    assert response.status_code in (201, 422), response.get_data(as_text=True)[:300]
    if response.status_code == 422:
        assert response.json["error"]["message"]
