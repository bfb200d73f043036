"""Calendar feeds: a secret URL per chair or technician, read by calendar clients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from icalendar import Calendar

from clinic.extensions import db
from tests.factories import make_appointment, make_course, make_device, make_patient

NOW = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
CLINICAL_WORDS = (
    "tms",
    "magnetic",
    "depress",
    "phq",
    "protocol",
    "itbs",
    "hz",
    "dlpfc",
    "treatment",
)


@pytest.fixture
def frozen_at() -> datetime:
    return NOW


@pytest.fixture
def chair_schedule(clinician: Any, technician: Any, frozen: Any) -> dict[str, Any]:
    device = make_device("Chair Blue", room="Room 4")
    patient = make_patient(first_name="Zebedee", last_name="Quartermaine")
    course = make_course(patient, prescriber=clinician)
    soon = make_appointment(
        course, NOW + timedelta(days=1), device=device, technician_id=technician.id
    )
    later = make_appointment(course, NOW + timedelta(days=20), device=device, sequence=2)
    cancelled = make_appointment(
        course, NOW + timedelta(days=2), device=device, sequence=3, status="cancelled"
    )
    beyond = make_appointment(course, NOW + timedelta(weeks=9), device=device, sequence=4)
    past = make_appointment(course, NOW - timedelta(days=3), device=device, sequence=5)
    db.session.commit()
    return {
        "device": device,
        "patient": patient,
        "live": {soon.id, later.id},
        "other": {cancelled.id, beyond.id, past.id},
        "technician_session": soon.id,
    }


def _events(body: bytes) -> list[Any]:
    calendar = Calendar.from_ical(body)
    assert str(calendar["VERSION"]) == "2.0" and calendar["PRODID"]
    return list(calendar.walk("VEVENT"))


def _ids(events: list[Any]) -> set[int]:
    return {int(str(event["UID"]).split("@")[0].rsplit("-", 1)[1]) for event in events}


def _path(url: str) -> str:
    return url.split("//", 1)[1].split("/", 1)[1].join(("/", ""))


def test_a_chair_feed_shows_eight_weeks_of_live_sessions_and_nothing_clinical(
    api: Any, admin: Any, client: Any, chair_schedule: dict[str, Any]
) -> None:
    response = api.as_(admin).post(
        "/api/v1/calendar-feeds", json={"device_id": chair_schedule["device"].id}
    )
    assert response.status_code == 201, response.json
    assert set(response.json) >= {"id", "url"}
    feed = client.get(_path(response.json["url"]))  # no login, no token
    assert feed.status_code == 200 and feed.mimetype == "text/calendar"
    events = _events(feed.data)
    assert _ids(events) == chair_schedule["live"]
    for event in events:
        assert event["DTSTART"].dt.tzinfo is not None
        assert event["DTSTART"].dt.utcoffset() == timedelta(0)
    text = feed.get_data(as_text=True).lower()
    patient = chair_schedule["patient"]
    for word in (patient.first_name.lower(), patient.last_name.lower(), patient.mrn.lower()):
        assert word not in text
    for word in CLINICAL_WORDS:
        assert word not in text, word
    assert "chair blue" in text


def test_a_technician_feed_shows_their_sessions(
    api: Any, technician: Any, client: Any, chair_schedule: dict[str, Any]
) -> None:
    response = api.as_(technician).post(
        "/api/v1/calendar-feeds", json={"technician_id": technician.id}
    )
    assert response.status_code == 201, response.json
    events = _events(client.get(_path(response.json["url"])).data)
    assert _ids(events) == {chair_schedule["technician_session"]}


def test_only_an_admin_hands_out_a_chair_or_someone_elses_feed(
    api: Any, technician: Any, clinician: Any, chair_schedule: dict[str, Any]
) -> None:
    client = api.as_(technician)
    device = chair_schedule["device"].id
    assert client.post("/api/v1/calendar-feeds", json={"device_id": device}).status_code == 403
    other = client.post("/api/v1/calendar-feeds", json={"technician_id": clinician.id})
    assert other.status_code == 403
    both = client.post(
        "/api/v1/calendar-feeds", json={"device_id": device, "technician_id": technician.id}
    )
    assert both.status_code == 422


def test_a_revoked_feed_answers_404(
    api: Any, admin: Any, client: Any, chair_schedule: dict[str, Any]
) -> None:
    created = (
        api.as_(admin)
        .post("/api/v1/calendar-feeds", json={"device_id": chair_schedule["device"].id})
        .json
    )
    assert client.get(_path(created["url"])).status_code == 200
    listed = api.as_(admin).get("/api/v1/calendar-feeds").json["items"]
    assert [feed["id"] for feed in listed] == [created["id"]] and "url" not in listed[0]
    assert api.as_(admin).delete(f"/api/v1/calendar-feeds/{created['id']}").status_code == 204
    assert client.get(_path(created["url"])).status_code == 404
    assert api.as_(admin).delete(f"/api/v1/calendar-feeds/{created['id']}").status_code == 404
    assert client.get("/feeds/not-a-token.ics").status_code == 404
