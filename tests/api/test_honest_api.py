"""The API's answers to odd input, each a 500 or a silent surprise before (issue 15)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from icalendar import Calendar

from clinic.auth import services as auth
from clinic.reminders import planning
from tests.factories import make_appointment, make_course, make_device

WINDOW = {"starts_at": "2026-03-10T13:00:00Z", "ends_at": "2026-03-10T15:00:00Z"}


def test_maintenance_without_a_reason_is_booked(api: Any, admin: Any) -> None:
    device = make_device()
    response = api.as_(admin).post(f"/api/v1/devices/{device.id}/maintenance", json=WINDOW)
    assert response.status_code == 201, response.json
    assert response.json["reason"] is None


def test_maintenance_of_an_unknown_device_is_404(api: Any, admin: Any) -> None:
    response = api.as_(admin).post("/api/v1/devices/987654/maintenance", json=WINDOW)
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_json_nested_a_thousand_deep_is_a_clear_400(api: Any, admin: Any) -> None:
    body = "[" * 1000 + "]" * 1000
    for path in ("/api/v1/devices", "/api/v1/patients", "/api/v1/courses"):
        response = api.as_(admin).post(
            path, data=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, (path, response.status_code)
        assert response.json["error"]["code"] == "bad_request"
        assert "nested too deeply" in response.json["error"]["message"]


def test_renaming_a_device_to_a_taken_non_ascii_name_is_409_not_500(api: Any, admin: Any) -> None:
    """Found by generated input: SQLite's lower() keeps "É", Python's made it "é", so the
    uniqueness check missed the clash and the unique index answered with a 500."""
    make_device("Évora")
    other = make_device("Lisbon")
    response = api.as_(admin).patch(f"/api/v1/devices/{other.id}", json={"name": "Évora"})
    assert response.status_code == 409, response.json
    assert response.json["error"]["code"] == "device_exists"


def test_an_integer_field_refuses_a_fraction_instead_of_truncating(
    api: Any, front_desk: Any
) -> None:
    patient = make_course().patient_id
    path = f"/api/v1/patients/{patient}/medication-trials"
    trial = {"drug": "sertraline", "weeks_at_dose": 2.9}
    response = api.as_(front_desk).post(path, json=trial)
    assert response.status_code == 422, response.json
    assert "weeks_at_dose" in response.json["error"]["fields"]
    assert api.as_(front_desk).get(path).json["items"] == []


def test_an_integer_field_refuses_a_numeric_string_in_json(api: Any, admin: Any) -> None:
    course = make_course()
    response = api.as_(admin).patch(
        f"/api/v1/patients/{course.patient_id}", json={"pain_duration_months": "12"}
    )
    assert response.status_code == 422
    assert "pain_duration_months" in response.json["error"]["fields"]


def test_a_patch_with_nothing_to_change_is_422(api: Any, admin: Any) -> None:
    device = make_device()
    for kwargs in ({}, {"json": {}}):
        response = api.as_(admin).patch(f"/api/v1/devices/{device.id}", **kwargs)
        assert response.status_code == 422, kwargs
        assert response.json["error"]["code"] == "validation_error"


def test_an_empty_patch_still_answers_401_and_403_first(api: Any, technician: Any) -> None:
    device = make_device()
    assert api.patch(f"/api/v1/devices/{device.id}").status_code == 401
    assert api.as_(technician).patch(f"/api/v1/devices/{device.id}").status_code == 403


def test_ids_above_32_bits_answer_404_on_every_path(api: Any, admin: Any) -> None:
    huge = 2**31
    for method, path in (
        ("GET", f"/api/v1/devices/{huge}"),
        ("PATCH", f"/api/v1/devices/{huge}"),
        ("GET", f"/api/v1/patients/{huge}"),
        ("GET", f"/api/v1/courses/{huge}"),
        ("POST", f"/api/v1/appointments/{huge}/cancel"),
        ("GET", f"/api/v1/devices/{2**63}/maintenance"),
    ):
        response = api.as_(admin).request(method, path, json={"name": "x"})
        assert response.status_code == 404, (method, path, response.status_code)
        assert response.json["error"]["code"] == "not_found"


def test_401_names_the_bearer_scheme(api: Any) -> None:
    response = api.get("/api/v1/me")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_throttled_sign_in_says_when_to_retry(client: Any, clinician: Any) -> None:
    for _ in range(auth.MAX_FAILURES_PER_ACCOUNT):
        client.post("/login", data={"email": clinician.email, "password": "wrong"})
    response = client.post("/login", data={"email": clinician.email, "password": "wrong"})
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) == auth.THROTTLE_WINDOW.total_seconds()


def test_a_body_that_is_not_json_is_415(api: Any, admin: Any) -> None:
    response = api.as_(admin).post(
        "/api/v1/devices", data="name=Chair", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 415
    assert response.json["error"]["code"] == "unsupported_media_type"
    # A body-less action (a cancel without a reason) needs no content type at all.
    course = make_course()
    appointment = make_appointment(course, datetime(2026, 3, 10, 14, 0, tzinfo=UTC))
    response = api.as_(admin).post(f"/api/v1/appointments/{appointment.id}/cancel")
    assert response.status_code == 200, response.json


def test_the_calendar_file_is_not_clinical_and_a_cancel_updates_it(
    app: Any, api: Any, admin: Any
) -> None:
    course = make_course()
    start = datetime(2026, 3, 10, 14, 0, tzinfo=UTC)
    appointment = make_appointment(course, start)
    now = start - timedelta(days=2)
    before = Calendar.from_ical(planning.appointment_calendar(appointment, now=now))
    assert "TMS" not in str(before["PRODID"]) and "tms" not in str(before["PRODID"]).lower()
    event = before.walk("VEVENT")[0]
    assert str(event["ORGANIZER"]).startswith("mailto:")
    assert api.as_(admin).post(f"/api/v1/appointments/{appointment.id}/cancel").status_code == 200
    after = Calendar.from_ical(planning.appointment_calendar(appointment, now=now)).walk("VEVENT")
    assert str(after[0]["STATUS"]) == "CANCELLED"
    assert int(after[0]["SEQUENCE"]) > int(event["SEQUENCE"])
