"""The resource calendar's JSON: the feed of chairs and sessions, and moves by drag and
drop through the booking service (a clash is 409 with its reason, bad input 422)."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from clinic import clock
from clinic.extensions import db
from clinic.scheduling.models import Appointment
from tests.factories import login, make_appointment, make_course, make_device, make_patient
from tests.scheduling.conftest import MONDAY


def _at(hour: int) -> datetime:
    return datetime.combine(MONDAY, time(hour), tzinfo=clock.clinic_tz())


def _csrf_off(app: Any) -> None:
    app.config["WTF_CSRF_ENABLED"] = False


def test_the_feed_lists_chairs_and_sessions_by_wall_clock(
    client: Any, front_desk: Any, frozen: Any
) -> None:
    chair = make_device("Chair A")
    course = make_course(make_patient(first_name="Robin", last_name="Quill"), planned_sessions=30)
    make_appointment(course, _at(9), device=chair)
    login(client, front_desk)
    feed = client.get(f"/schedule/calendar.json?date={MONDAY.isoformat()}").get_json()
    assert feed["resources"] == [{"id": str(chair.id), "title": "Chair A"}]
    [event] = feed["events"]
    assert event["start"] == f"{MONDAY.isoformat()}T09:00:00"
    assert event["title"] == "Robin Quill" and event["extendedProps"]["initials"] == "RQ"
    assert event["extendedProps"]["session"] == "Session 1 of 30"
    assert event["editable"] is True and event["classNames"] == ["status-scheduled"]


def test_a_drop_moves_through_the_booking_service(
    app: Any, client: Any, front_desk: Any, frozen: Any
) -> None:
    _csrf_off(app)
    chair_a, chair_b = make_device("Chair A"), make_device("Chair B")
    session = make_appointment(make_course(), _at(9), device=chair_a)
    make_appointment(make_course(make_patient(first_name="Sam")), _at(11), device=chair_b)
    login(client, front_desk)
    url = f"/schedule/appointments/{session.id}/move.json"
    clash = client.post(url, json={"starts_at": f"{MONDAY}T11:00:00", "device_id": chair_b.id})
    assert clash.status_code == 409
    assert "already booked" in clash.get_json()["error"]["message"]
    bad = client.post(url, json={"starts_at": "soon", "device_id": chair_b.id})
    assert bad.status_code == 422
    moved = client.post(url, json={"starts_at": f"{MONDAY}T10:00:00", "device_id": chair_b.id})
    assert moved.status_code == 200, moved.get_json()
    answer = moved.get_json()
    assert answer["previous"] == {"starts_at": f"{MONDAY}T09:00:00", "device_id": chair_a.id}
    db.session.expire_all()
    assert db.session.get(Appointment, session.id).device_id == chair_b.id


def test_technicians_cannot_move_by_drag(client: Any, technician: Any, frozen: Any) -> None:
    session = make_appointment(make_course(), _at(9), device=make_device())
    login(client, technician)
    url = f"/schedule/appointments/{session.id}/move.json"
    assert client.post(url, json={"starts_at": f"{MONDAY}T10:00:00"}).status_code == 403


def test_the_board_lists_todays_exceptions(client: Any, front_desk: Any, frozen: Any) -> None:
    """Frozen at Monday noon: a session at three is not confirmed; the panel says so."""
    chair = make_device("Chair A")
    patient = make_patient(first_name="Una", phone="+12125550199")
    make_appointment(make_course(patient), _at(15), device=chair)
    login(client, front_desk)
    page = client.get(f"/schedule?date={MONDAY.isoformat()}").get_data(as_text=True)
    assert "To act on" in page and "Not confirmed (1)" in page
    assert "(212) 555-0199" in page
