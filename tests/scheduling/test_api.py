"""The scheduling JSON API: contract shapes, role checks, validation fuzz."""

from __future__ import annotations

from datetime import date, time, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from clinic.extensions import db
from clinic.reminders.models import Reminder
from clinic.scheduling import booking_service, schedule
from clinic.scheduling.models import Appointment
from tests.factories import make_appointment, make_course, make_device, make_patient
from tests.scheduling.conftest import MONDAY, local

FUZZ = settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
APPOINTMENT_KEYS = {
    "id",
    "course_id",
    "patient_id",
    "device_id",
    "technician_id",
    "starts_at",
    "ends_at",
    "kind",
    "status",
    "sequence",
    "is_makeup",
}


def test_devices_are_created_listed_and_deactivated_by_admins(api: Any, admin: Any) -> None:
    response = api.as_(admin).post(
        "/api/v1/devices", json={"name": "Chair 1", "model": "MagVita R30", "room": "2B"}
    )
    assert response.status_code == 201
    device = response.get_json()
    assert device["name"] == "Chair 1" and device["room"] == "2B" and device["active"] is True
    again = api.as_(admin).post("/api/v1/devices", json={"name": "chair 1"})
    assert again.status_code == 409
    listed = api.as_(admin).get("/api/v1/devices").get_json()["items"]
    assert [d["id"] for d in listed] == [device["id"]]
    patched = api.as_(admin).patch(f"/api/v1/devices/{device['id']}", json={"active": False})
    assert patched.get_json()["active"] is False


def test_closures_and_hours(api: Any, admin: Any, front_desk: Any) -> None:
    created = api.as_(admin).post(
        "/api/v1/clinic/closures", json={"date": "2026-12-24", "reason": "Christmas Eve"}
    )
    assert created.status_code == 201
    assert created.get_json()["date"] == "2026-12-24"
    assert created.get_json()["source"] == "manual"
    assert (
        api.as_(admin).post("/api/v1/clinic/closures", json={"date": "2026-12-24"}).status_code
        == 409
    )
    listed = api.as_(front_desk).get("/api/v1/clinic/closures?from=2026-12-20&to=2026-12-31")
    assert [(c["date"], c["source"]) for c in listed.get_json()["items"]] == [
        ("2026-12-24", "manual"),
        ("2026-12-25", "holiday"),
    ]
    closure_id = created.get_json()["id"]
    assert api.as_(admin).delete(f"/api/v1/clinic/closures/{closure_id}").status_code == 204
    hours = api.as_(front_desk).get("/api/v1/clinic/hours").get_json()["items"]
    assert hours[0] == {"weekday": 0, "opens_at": "08:00", "closes_at": "18:00"}
    assert len(hours) == 5
    saturday = api.as_(admin).request(
        "PUT", "/api/v1/clinic/hours/5", json={"opens_at": "09:00", "closes_at": "13:00"}
    )
    assert saturday.status_code == 200
    bad = api.as_(admin).request(
        "PUT", "/api/v1/clinic/hours/5", json={"opens_at": "13:00", "closes_at": "09:00"}
    )
    assert bad.status_code == 422


def test_maintenance_windows(api: Any, admin: Any, chairs: Any) -> None:
    path = f"/api/v1/devices/{chairs[0].id}/maintenance"
    body = {
        "starts_at": "2026-03-02T13:00:00Z",
        "ends_at": "2026-03-02T15:00:00Z",
        "reason": "Coil",
    }
    created = api.as_(admin).post(path, json=body)
    assert created.status_code == 201
    assert api.as_(admin).get(path).get_json()["items"][0]["reason"] == "Coil"
    naive = api.as_(admin).post(path, json={**body, "starts_at": "2026-03-02T13:00:00"})
    assert naive.status_code == 422
    window_id = created.get_json()["id"]
    assert api.as_(admin).delete(f"{path}/{window_id}").status_code == 204


@pytest.mark.parametrize("role", ["front_desk", "technician", "clinician"])
def test_only_admins_manage_devices_and_closures(api: Any, role: str, request: Any) -> None:
    user = request.getfixturevalue(role)
    assert api.as_(user).post("/api/v1/devices", json={"name": "X"}).status_code == 403
    assert (
        api.as_(user).post("/api/v1/clinic/closures", json={"date": "2026-12-25"}).status_code
        == 403
    )
    assert api.as_(user).get("/api/v1/devices").status_code == 200


def test_technicians_cannot_book_move_or_cancel(api: Any, technician: Any, chairs: Any) -> None:
    appointment = make_appointment(make_course(), local(MONDAY, 9), device=chairs[0])
    tech = api.as_(technician)
    assert (
        tech.post(f"/api/v1/courses/{appointment.course_id}/schedule", json={}).status_code == 403
    )
    assert tech.post("/api/v1/appointments", json={}).status_code == 403
    assert tech.patch(f"/api/v1/appointments/{appointment.id}", json={}).status_code == 403
    assert tech.post(f"/api/v1/appointments/{appointment.id}/cancel", json={}).status_code == 403
    assert tech.get(f"/api/v1/appointments?date={MONDAY.isoformat()}").status_code == 200


def test_anonymous_gets_401(api: Any) -> None:
    assert api.get("/api/v1/appointments?date=2026-03-02").status_code == 401


def test_schedule_a_course(api: Any, front_desk: Any, chairs: Any) -> None:
    course = make_course()
    response = api.as_(front_desk).post(
        f"/api/v1/courses/{course.id}/schedule",
        json={"start_date": "2026-03-02", "time": "09:00", "device_id": chairs[0].id},
    )
    assert response.status_code == 201, response.get_json()
    appointments = response.get_json()["appointments"]
    assert len(appointments) == 36
    assert appointments[0].keys() >= APPOINTMENT_KEYS
    assert appointments[0]["starts_at"] == "2026-03-02T14:00:00+00:00"
    assert appointments[-1]["sequence"] == 36
    again = api.as_(front_desk).post(
        f"/api/v1/courses/{course.id}/schedule", json={"start_date": "2026-03-02", "time": "09:00"}
    )
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "nothing_to_schedule"


def test_booking_a_course_takes_a_fixed_number_of_statements(
    api: Any, front_desk: Any, chairs: Any, frozen: Any, count_queries: Any
) -> None:
    """Placing, writing, reminding (both channels, every session, on the zone of each
    chair's site), auditing and answering: the same statements for 12 sessions on two
    chairs as for 36 on three, never one a session or one a chair."""
    chairs.append(make_device("Chair C", room="3"))
    # Chair A is taken at nine on one day; at eleven on two days, once with chair B.
    for day, hour, chair in ((1, 9, 0), (4, 11, 0), (9, 11, 0), (9, 11, 1)):
        at = local(MONDAY + timedelta(days=day), hour)
        make_appointment(make_course(), at, device=chairs[chair])
    assert api.as_(front_desk).get("/api/v1/devices").status_code == 200  # its token made

    def book(sessions: int, hour: int) -> tuple[int, set[int]]:
        patient = make_patient(
            email=f"p{hour}@example.org",
            phone=f"+16175550{hour:03d}",
            email_consent=True,
            sms_consent=True,
        )
        course = make_course(patient, planned_sessions=sessions)
        with count_queries() as counter:
            answer = api.as_(front_desk).post(
                f"/api/v1/courses/{course.id}/schedule",
                json={
                    "start_date": "2026-03-03",
                    "time": f"{hour:02d}:00",
                    "device_id": chairs[0].id,
                },
            )
        assert answer.status_code == 201, answer.get_json()
        return counter.count, {a["device_id"] for a in answer.get_json()["appointments"]}

    few, two_chairs = book(12, 9)
    many, three_chairs = book(36, 11)
    assert len(two_chairs) == 2 and len(three_chairs) == 3
    assert db.session.scalar(select(func.count()).select_from(Reminder)) == 2 * (12 + 36)
    assert many == few
    assert many <= 25  # 26 before: a statement a chair for its site's zone


def test_schedule_refusals(api: Any, front_desk: Any, chairs: Any) -> None:
    held = make_course(status="on_hold")
    body = {"start_date": "2026-03-02", "time": "09:00"}
    response = api.as_(front_desk).post(f"/api/v1/courses/{held.id}/schedule", json=body)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "course_not_active"
    assert api.as_(front_desk).post("/api/v1/courses/999999/schedule", json=body).status_code == 404
    bad_time = api.as_(front_desk).post(
        f"/api/v1/courses/{held.id}/schedule", json={**body, "time": "25:00"}
    )
    assert bad_time.status_code == 422 and "time" in bad_time.get_json()["error"]["fields"]


def test_preview_writes_nothing(api: Any, front_desk: Any, chairs: Any) -> None:
    course = make_course(planned_sessions=12)
    response = api.as_(front_desk).post(
        f"/api/v1/courses/{course.id}/schedule/preview",
        json={"start_date": "2026-03-02", "time": "09:00"},
    )
    body = response.get_json()
    assert response.status_code == 200 and body["complete"] and len(body["appointments"]) == 12
    assert db.session.query(Appointment).count() == 0


def test_book_list_move_cancel_no_show(api: Any, front_desk: Any, chairs: Any) -> None:
    course = make_course(planned_sessions=3)
    desk = api.as_(front_desk)
    booked = desk.post(
        "/api/v1/appointments",
        json={
            "course_id": course.id,
            "device_id": chairs[0].id,
            "starts_at": "2026-03-02T14:00:00Z",
        },
    )
    assert booked.status_code == 201
    appointment = booked.get_json()
    assert appointment["kind"] == "treatment" and appointment["sequence"] == 1
    clash = desk.post(
        "/api/v1/appointments",
        json={
            "course_id": make_course().id,
            "device_id": chairs[0].id,
            "starts_at": "2026-03-02T14:30:00Z",
        },
    )
    assert clash.status_code == 409
    error = clash.get_json()["error"]
    assert error["code"] == "conflict" and error["clashes"][0]["code"] == "device"
    assert "Chair A" in error["message"]

    listed = desk.get("/api/v1/appointments?date=2026-03-02").get_json()["items"]
    assert [a["id"] for a in listed] == [appointment["id"]]
    assert listed[0].keys() >= APPOINTMENT_KEYS
    by_range = desk.get(
        f"/api/v1/appointments?from=2026-03-01&to=2026-03-07&device_id={chairs[0].id}"
    ).get_json()["items"]
    assert len(by_range) == 1
    assert desk.get("/api/v1/appointments?device_id=1").status_code == 422

    moved = desk.patch(
        f"/api/v1/appointments/{appointment['id']}",
        json={"starts_at": "2026-03-02T16:00:00Z", "device_id": chairs[1].id},
    )
    assert moved.status_code == 200 and moved.get_json()["revision"] == 1
    cancelled = desk.post(
        f"/api/v1/appointments/{appointment['id']}/cancel", json={"reason": "Ill"}
    )
    body = cancelled.get_json()
    assert cancelled.status_code == 200 and body["status"] == "cancelled"
    assert body["makeup"]["is_makeup"] is True and body["makeup"]["starts_at"].startswith(
        "2026-03-03"
    )
    again = desk.post(f"/api/v1/appointments/{appointment['id']}/cancel", json={})
    assert again.status_code == 409
    no_show = desk.post(f"/api/v1/appointments/{body['makeup']['id']}/no-show", json={})
    assert no_show.get_json()["status"] == "no_show" and no_show.get_json()["makeup"]


def test_listing_a_patients_schedule_is_audited(api: Any, front_desk: Any, admin: Any) -> None:
    course = make_course()
    api.as_(front_desk).get(f"/api/v1/appointments?patient_id={course.patient_id}")
    trail = api.as_(admin).get(f"/api/v1/audit?entity_type=patient&entity_id={course.patient_id}")
    assert trail.status_code == 200, trail.get_json()
    assert [e["action"] for e in trail.get_json()["items"]] == ["view"]


def _json_values() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(allow_nan=False),
        st.text(max_size=30),
        st.sampled_from(
            ["2026-03-02", "09:00", "2026-03-02T14:00:00Z", "9999-12-31T23:59:59+14:00"]
        ),
        st.lists(st.integers(), max_size=2),
    )


FIELDS = st.sampled_from(
    [
        "course_id",
        "device_id",
        "starts_at",
        "kind",
        "start_date",
        "time",
        "name",
        "date",
        "reason",
        "extra",
    ]
)


@FUZZ
@given(body=st.dictionaries(FIELDS, _json_values(), max_size=5))
def test_fuzzed_bodies_never_500_or_half_write(
    api: Any, admin: Any, chairs: Any, body: dict[str, Any]
) -> None:
    target = make_course(planned_sessions=3)
    desk = api.as_(admin)
    for path in (
        "/api/v1/appointments",
        f"/api/v1/courses/{target.id}/schedule",
        "/api/v1/devices",
        "/api/v1/clinic/closures",
        f"/api/v1/appointments/{2**40}/cancel",
    ):
        response = desk.post(path, json=body)
        assert response.status_code < 500, (path, body, response.get_data(as_text=True))
        if response.status_code >= 400:
            assert response.get_json()["error"]["message"]
            if "schedule" in path:
                assert db.session.query(Appointment).filter_by(course_id=target.id).count() == 0


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(
            ["date", "from", "to", "device_id", "patient_id", "course_id", "limit", "x"]
        ),
        st.one_of(st.text(max_size=12), st.integers(min_value=-(2**70), max_value=2**70).map(str)),
        max_size=4,
    )
)
def test_fuzzed_queries_never_500(api: Any, front_desk: Any, query: dict[str, str]) -> None:
    response = api.as_(front_desk).get("/api/v1/appointments", query_string=query)
    assert response.status_code in (200, 422), response.get_data(as_text=True)


def test_huge_ids_answer_404(api: Any, front_desk: Any) -> None:
    for path in (f"/api/v1/appointments/{2**63}", f"/api/v1/devices/{2**40}"):
        assert api.as_(front_desk).get(path).status_code == 404


def test_listing_by_dates_covers_whole_clinic_days(chairs: Any) -> None:
    course = make_course(planned_sessions=2)
    booking_service.schedule_course(course, start_date=MONDAY, local_time=time(9), actor_id=None)
    db.session.commit()
    rows = schedule.list_appointments(
        first=MONDAY, last=MONDAY + timedelta(days=1), columns=("starts_at",)
    )
    assert [a.starts_at for a in rows] == [local(MONDAY, 9), local(date(2026, 3, 3), 9)]


def test_reading_a_patients_schedule_is_audited_by_the_service(
    api: Any, front_desk: Any, chairs: Any
) -> None:
    from sqlalchemy import select

    from clinic.audit.models import AuditAction, AuditEvent

    course = make_course()
    make_appointment(course, local(MONDAY, 9), device=chairs[0])
    answer = api.as_(front_desk).get(f"/api/v1/appointments?patient_id={course.patient_id}")
    assert answer.status_code == 200 and len(answer.json["items"]) == 1
    schedule.list_appointments(patient_id=course.patient_id, actor_id=None, columns=("id",))
    views = db.session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == AuditAction.VIEW, AuditEvent.entity_id == course.patient_id
        )
    ).all()
    assert [(view.actor_id, view.detail) for view in views] == [
        (front_desk.id, {"what": "schedule"}),
        (None, {"what": "schedule"}),
    ]
    # The clinic's day: no one patient.
    schedule.list_appointments(first=MONDAY, last=MONDAY, columns=("id",))
    assert len(db.session.scalars(select(AuditEvent).where(AuditEvent.action == "view")).all()) == 2
