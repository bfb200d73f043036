"""Staff pages show a session at a site in another zone on that site's clock (issue 16):
the course page, the patient's chart and the treatment pages."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from clinic.extensions import db
from clinic.reminders import policy
from clinic.scheduling import booking_service, sites
from tests.factories import login, make_course, make_device, make_patient
from tests.scheduling.conftest import LA, make_la_site

NINE_IN_LA = datetime(2026, 3, 3, 9, 0, tzinfo=LA)  # 12:00 in New York
NEW_YORK = ZoneInfo("America/New_York")


def book_in_la(patient: Any) -> Any:
    site = make_la_site()
    appointment = booking_service.book_appointment(
        make_course(patient),
        device_id=make_device("LA 1", site_id=site.id).id,
        starts_at=NINE_IN_LA,
        actor_id=None,
    )
    db.session.commit()
    return appointment


def test_the_course_page_and_chart_show_the_sites_time(
    client: Any, frozen: Any, clinician: Any
) -> None:
    policy.update_policy({"remind_treatment": True}, actor_id=None)
    patient = make_patient(
        first_name="Angeleno",
        email="angeleno@example.org",
        email_consent=True,
        preferred_channel="email",
    )
    appointment = book_in_la(patient)
    login(client, clinician)
    course = client.get(f"/courses/{appointment.course_id}").get_data(as_text=True)
    assert "09:00 #1" in course and "12:00 #1" not in course
    chart = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Tue 03 Mar 09:00" in chart and "Tue 03 Mar 12:00" not in chart


def test_the_board_its_feed_and_a_drop_at_another_site_use_its_clock(
    app: Any, client: Any, frozen: Any, front_desk: Any
) -> None:
    app.config["WTF_CSRF_ENABLED"] = False
    appointment = book_in_la(make_patient(first_name="Angeleno"))
    site_id = appointment.device.site_id
    login(client, front_desk)
    feed = client.get(f"/schedule/calendar.json?date=2026-03-03&site_id={site_id}").get_json()
    [event] = feed["events"]
    assert event["start"] == "2026-03-03T09:00:00"
    board = client.get(f"/schedule?date=2026-03-03&site_id={site_id}").get_data(as_text=True)
    assert "09:00&ndash;" in board and "12:00&ndash;" not in board
    week = client.get(f"/schedule/week?date=2026-03-03&site_id={site_id}").get_data(as_text=True)
    assert "09:00 <abbr" in week
    # Dropped at 10:00 on that board: 10:00 in Los Angeles.
    moved = client.post(
        f"/schedule/appointments/{appointment.id}/move.json",
        json={"starts_at": "2026-03-03T10:00:00", "device_id": appointment.device_id},
    )
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["starts_at"] == "2026-03-03T10:00:00"
    db.session.expire_all()
    assert appointment.starts_at == datetime(2026, 3, 3, 10, 0, tzinfo=LA)


def test_the_move_page_lists_free_starts_on_the_sites_clock(
    client: Any, frozen: Any, front_desk: Any
) -> None:
    appointment = book_in_la(make_patient(first_name="Angeleno"))
    login(client, front_desk)
    page = client.get(f"/schedule/appointments/{appointment.id}/move").get_data(as_text=True)
    assert "Tue 03 Mar 2026 09:00 on LA 1" in page
    assert "07:00 on LA 1" in page and "20:00 on LA 1" in page  # the site's hours, 07-21
    assert "22:00 on LA 1" not in page


def test_a_limited_desk_finds_any_patient_and_the_chart_names_each_sessions_site(
    client: Any, frozen: Any, admin: Any, front_desk: Any
) -> None:
    """Issue 16: patients are not per site; a desk limited to one site still finds them
    (header search, list) and the chart's upcoming sessions name each session's site."""
    patient = make_patient(first_name="Angeleno", last_name="Twocoast")
    there = book_in_la(patient)
    here = booking_service.book_appointment(
        make_course(patient),
        device_id=make_device("Chair A").id,
        starts_at=datetime(2026, 3, 4, 10, 0, tzinfo=NEW_YORK),
        actor_id=None,
    )
    db.session.commit()
    sites.set_user_sites(front_desk.id, [here.device.site_id], actor_id=admin.id)
    db.session.commit()
    login(client, front_desk)
    found = client.get("/patients/?q=Twocoast&go=1")
    assert found.status_code == 302 and found.location.endswith(f"/patients/{patient.id}")
    assert "Twocoast" in client.get("/patients/?q=Angeleno").get_data(as_text=True)
    chart = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    upcoming = chart[chart.index('id="upcoming"') :]
    upcoming = upcoming[: upcoming.index("</section>")]
    assert "Tue 03 Mar 2026 09:00 · session 1 · LA 1 · <strong>Los Angeles</strong>" in upcoming
    assert "Wed 04 Mar 2026 10:00 · session 1 · Chair A · <strong>Clinic</strong>" in upcoming
    course = client.get(f"/courses/{there.course_id}").get_data(as_text=True)
    assert "LA 1 · Los Angeles" in course


def test_a_single_clinic_chart_lists_sessions_without_a_site(
    client: Any, frozen: Any, front_desk: Any
) -> None:
    patient = make_patient()
    appointment = booking_service.book_appointment(
        make_course(patient),
        device_id=make_device("Chair A").id,
        starts_at=datetime(2026, 3, 4, 10, 0, tzinfo=NEW_YORK),
        actor_id=None,
    )
    db.session.commit()
    login(client, front_desk)
    chart = client.get(f"/patients/{patient.id}").get_data(as_text=True)
    assert "Wed 04 Mar 2026 10:00 · session 1 · Chair A</li>" in chart
    assert "<strong>Clinic</strong>" not in chart
    course = client.get(f"/courses/{appointment.course_id}").get_data(as_text=True)
    assert "Chair A · Clinic" not in course
