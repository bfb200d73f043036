"""Sites of a clinic group (CONTRACT 6): each with its own zone, public holidays, hours,
closures and chairs; staff limited to sites."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from clinic.extensions import db
from clinic.scheduling import calendar, sites
from tests.factories import login, make_appointment, make_course, make_device, make_patient
from tests.scheduling.conftest import local

PARIS = ZoneInfo("Europe/Paris")
SITE_KEYS = {"id", "name", "timezone", "holidays"}


def make_paris() -> Any:
    """A second site in Paris with French public holidays, open 08:00-18:00 on weekdays."""
    site = sites.create_site(name="Paris", timezone="Europe/Paris", holidays="FR", actor_id=None)
    for weekday in range(5):
        calendar.set_opening_hours(
            weekday, opens_at=time(8), closes_at=time(18), site_id=site.id, actor_id=None
        )
    db.session.commit()
    return site


def starts(response: Any) -> list[str]:
    return [a["starts_at"] for a in response.get_json()["appointments"]]


# -- sites -----------------------------------------------------------------------------


def test_a_new_database_has_one_site_from_the_settings(api: Any, front_desk: Any) -> None:
    listed = api.as_(front_desk).get("/api/v1/sites")
    assert listed.status_code == 200
    assert listed.get_json()["items"] == [
        {"id": 1, "name": "Clinic", "timezone": "America/New_York", "holidays": "US"}
    ]


def test_sites_are_created_and_changed_by_admins(api: Any, admin: Any, front_desk: Any) -> None:
    body = {"name": "San Diego", "timezone": "America/Los_Angeles", "holidays": "US-CA"}
    assert api.as_(front_desk).post("/api/v1/sites", json=body).status_code == 403
    created = api.as_(admin).post("/api/v1/sites", json=body)
    assert created.status_code == 201, created.get_json()
    site = created.get_json()
    assert site.keys() == SITE_KEYS and site["holidays"] == "US-CA"
    patched = api.as_(admin).patch(f"/api/v1/sites/{site['id']}", json={"holidays": "none"})
    assert patched.status_code == 200 and patched.get_json()["holidays"] == "none"
    assert api.as_(admin).post("/api/v1/sites", json=body).get_json()["error"]["code"] == (
        "site_exists"
    )


def test_bad_zones_and_holiday_codes_are_422(api: Any, admin: Any) -> None:
    for field, value in (("timezone", "Mars/Olympus"), ("holidays", "XX"), ("holidays", "US-ZZ")):
        body = {"name": "Bad", "timezone": "UTC", "holidays": "none", field: value}
        response = api.as_(admin).post("/api/v1/sites", json=body)
        assert response.status_code == 422, (field, value)
        assert field in response.get_json()["error"]["fields"]
    assert api.as_(admin).patch("/api/v1/sites/1", json={"timezone": "Nowhere"}).status_code == 422
    assert api.as_(admin).patch("/api/v1/sites/999", json={"name": "x"}).status_code == 404


def test_devices_belong_to_a_site_the_first_by_default(api: Any, admin: Any) -> None:
    paris = make_paris()
    plain = api.as_(admin).post("/api/v1/devices", json={"name": "Chair 1"}).get_json()
    assert plain["site_id"] == 1
    there = api.as_(admin).post("/api/v1/devices", json={"name": "P1", "site_id": paris.id})
    assert there.status_code == 201 and there.get_json()["site_id"] == paris.id
    missing = api.as_(admin).post("/api/v1/devices", json={"name": "P2", "site_id": 999})
    assert missing.status_code == 404
    only_paris = api.as_(admin).get(f"/api/v1/devices?site_id={paris.id}").get_json()["items"]
    assert [d["name"] for d in only_paris] == ["P1"]


# -- hours and closures per site -------------------------------------------------------


def test_hours_belong_to_a_site(api: Any, admin: Any) -> None:
    paris = make_paris()
    saturday = api.as_(admin).request(
        "PUT",
        "/api/v1/clinic/hours/5",
        json={"opens_at": "09:00", "closes_at": "12:30", "site_id": paris.id},
    )
    assert saturday.status_code == 200
    assert saturday.get_json() == {"weekday": 5, "opens_at": "09:00", "closes_at": "12:30"}
    sunday = api.as_(admin).request(
        "PUT",
        f"/api/v1/clinic/hours/6?site_id={paris.id}",
        json={"opens_at": "10:00", "closes_at": "12:00"},
    )
    assert sunday.status_code == 200
    api.as_(admin).delete(f"/api/v1/clinic/hours/6?site_id={paris.id}")
    closed = api.as_(admin).delete(f"/api/v1/clinic/hours/0?site_id={paris.id}")
    assert closed.status_code == 204
    hours = api.as_(admin).get(f"/api/v1/clinic/hours?site_id={paris.id}").get_json()["items"]
    assert [h["weekday"] for h in hours] == [1, 2, 3, 4, 5]
    first = api.as_(admin).get("/api/v1/clinic/hours").get_json()["items"]
    assert [h["weekday"] for h in first] == [0, 1, 2, 3, 4]


def test_closures_belong_to_a_site(api: Any, admin: Any) -> None:
    paris = make_paris()
    in_body = api.as_(admin).post(
        "/api/v1/clinic/closures", json={"date": "2026-03-03", "site_id": paris.id}
    )
    in_query = api.as_(admin).post(
        f"/api/v1/clinic/closures?site_id={paris.id}", json={"date": "2026-03-04"}
    )
    assert in_body.status_code == in_query.status_code == 201
    listed = api.as_(admin).get(
        f"/api/v1/clinic/closures?site_id={paris.id}&from=2026-03-01&to=2026-03-31"
    )
    assert [c["date"] for c in listed.get_json()["items"]] == ["2026-03-03", "2026-03-04"]
    first = api.as_(admin).get("/api/v1/clinic/closures?from=2026-03-01&to=2026-03-31")
    assert first.get_json()["items"] == []


def test_public_holidays_are_closures_observed_days_included(api: Any, front_desk: Any) -> None:
    listed = api.as_(front_desk).get("/api/v1/clinic/closures?from=2027-07-01&to=2027-07-31")
    assert listed.get_json()["items"] == [
        {"id": None, "site_id": 1, "date": "2027-07-04", "reason": "Independence Day",
         "source": "holiday"},
        {"id": None, "site_id": 1, "date": "2027-07-05",
         "reason": "Independence Day (observed)", "source": "holiday"},
    ]  # fmt: skip


def test_christmas_and_new_year_are_not_booked(api: Any, front_desk: Any) -> None:
    """Issue 11: a course begun before Christmas was booked on 25 Dec and 1 Jan."""
    chair = make_device("Chair A")
    course = make_course()
    response = api.as_(front_desk).post(
        f"/api/v1/courses/{course.id}/schedule",
        json={"start_date": "2026-12-21", "time": "09:00", "device_id": chair.id},
    )
    assert response.status_code == 201, response.get_json()
    days = {instant[:10] for instant in starts(response)}
    assert len(days) == 36
    assert "2026-12-25" not in days and "2027-01-01" not in days
    assert {"2026-12-24", "2026-12-28", "2026-12-31", "2027-01-04"} <= days


def test_one_appointment_on_an_observed_holiday_is_refused(api: Any, front_desk: Any) -> None:
    chair = make_device("Chair A")
    course = make_course()
    response = api.as_(front_desk).post(
        "/api/v1/appointments",
        json={
            "course_id": course.id,
            "device_id": chair.id,
            "starts_at": "2027-07-05T10:00:00-04:00",
        },
    )
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert [clash["code"] for clash in error["clashes"]] == ["closed"]
    assert "Independence Day (observed)" in error["message"]


def test_an_admin_can_open_on_a_holiday(api: Any, admin: Any, front_desk: Any) -> None:
    chair = make_device("Chair A")
    course = make_course()
    assert api.as_(front_desk).delete("/api/v1/clinic/closures/2026-12-25").status_code == 403
    assert api.as_(admin).delete("/api/v1/clinic/closures/2026-12-25").status_code == 204
    assert api.as_(admin).delete("/api/v1/clinic/closures/2026-12-23").status_code == 404
    assert api.as_(admin).delete("/api/v1/clinic/closures/2026-02-30").status_code == 422
    listed = api.as_(admin).get("/api/v1/clinic/closures?from=2026-12-20&to=2026-12-31")
    assert listed.get_json()["items"] == []
    booked = api.as_(front_desk).post(
        "/api/v1/appointments",
        json={
            "course_id": course.id,
            "device_id": chair.id,
            "starts_at": "2026-12-25T10:00:00-05:00",
        },
    )
    assert booked.status_code == 201, booked.get_json()
    # Closing it again by hand replaces the opening.
    again = api.as_(admin).post("/api/v1/clinic/closures", json={"date": "2026-12-25"})
    assert again.status_code == 201 and again.get_json()["source"] == "manual"


def test_a_site_without_holidays_books_them(api: Any, admin: Any, front_desk: Any) -> None:
    api.as_(admin).patch("/api/v1/sites/1", json={"holidays": "none"})
    chair = make_device("Chair A")
    response = api.as_(front_desk).post(
        f"/api/v1/courses/{make_course().id}/schedule",
        json={"start_date": "2026-12-21", "time": "09:00", "device_id": chair.id},
    )
    assert "2026-12-25" in {instant[:10] for instant in starts(response)}


# -- a site in another time zone -------------------------------------------------------


def test_a_site_in_another_zone_has_its_own_clock_and_holidays(api: Any, front_desk: Any) -> None:
    paris = make_paris()
    chair = make_device("Paris 1", site_id=paris.id)
    patient = make_patient(first_name="Camille", timezone="Europe/Paris")
    course = make_course(patient)
    # No chair named: the site decides where.
    response = api.as_(front_desk).post(
        f"/api/v1/courses/{course.id}/schedule",
        json={"start_date": "2026-07-13", "time": "09:00", "site_id": paris.id},
    )
    assert response.status_code == 201, response.get_json()
    appointments = response.get_json()["appointments"]
    assert {a["device_id"] for a in appointments} == {chair.id}
    # 09:00 in Paris (CEST) is 07:00 UTC; Bastille Day (14 July) is skipped there.
    assert appointments[0]["starts_at"] == "2026-07-13T07:00:00+00:00"
    days = [a["starts_at"][:10] for a in appointments]
    assert "2026-07-14" not in days and days[1] == "2026-07-15"


def test_sessions_must_fit_the_hours_of_the_devices_site(api: Any, front_desk: Any) -> None:
    paris = make_paris()
    chair = make_device("Paris 1", site_id=paris.id)
    course = make_course()  # a New York patient
    ny_afternoon = local(date(2026, 3, 3), 13)  # 19:00 in Paris: closed there
    refused = api.as_(front_desk).post(
        "/api/v1/appointments",
        json={"course_id": course.id, "device_id": chair.id, "starts_at": ny_afternoon.isoformat()},
    )
    assert refused.status_code == 409
    assert [c["code"] for c in refused.get_json()["error"]["clashes"]] == ["outside_hours"]
    ny_morning = local(date(2026, 3, 3), 9)  # 15:00 in Paris
    booked = api.as_(front_desk).post(
        "/api/v1/appointments",
        json={"course_id": course.id, "device_id": chair.id, "starts_at": ny_morning.isoformat()},
    )
    assert booked.status_code == 201
    # And the New York patient's schedule stays at 09:00 New York time at the Paris chair.
    scheduled = api.as_(front_desk).post(
        f"/api/v1/courses/{course.id}/schedule",
        json={"start_date": "2026-03-04", "time": "09:00"},
    )
    assert scheduled.status_code == 201, scheduled.get_json()
    first = datetime.fromisoformat(starts(scheduled)[0])
    assert first.astimezone(PARIS).hour == 15
    assert {a["device_id"] for a in scheduled.get_json()["appointments"]} == {chair.id}


# -- staff limited to sites ------------------------------------------------------------


def test_a_user_limited_to_a_site_sees_and_books_only_there(
    api: Any, admin: Any, front_desk: Any
) -> None:
    paris = make_paris()
    home = make_device("Chair A")
    away = make_device("Paris 1", site_id=paris.id)
    at_home = make_appointment(make_course(), local(date(2026, 3, 3), 9), device=home)
    in_paris = make_appointment(make_course(), local(date(2026, 3, 3), 10), device=away)
    sites.set_user_sites(front_desk.id, [paris.id], actor_id=admin.id)
    db.session.commit()
    desk = api.as_(front_desk)
    seen = desk.get("/api/v1/appointments?date=2026-03-03").get_json()["items"]
    assert [a["id"] for a in seen] == [in_paris.id]
    assert desk.get(f"/api/v1/appointments?date=2026-03-03&site_id={paris.id}").status_code == 200
    assert desk.get("/api/v1/appointments?date=2026-03-03&site_id=1").status_code == 403
    everyone = api.as_(admin).get("/api/v1/appointments?date=2026-03-03").get_json()["items"]
    assert {a["id"] for a in everyone} == {at_home.id, in_paris.id}
    only_home = api.as_(admin).get("/api/v1/appointments?date=2026-03-03&site_id=1")
    assert [a["id"] for a in only_home.get_json()["items"]] == [at_home.id]
    refused = desk.post(
        "/api/v1/appointments",
        json={
            "course_id": make_course().id,
            "device_id": home.id,
            "starts_at": local(date(2026, 3, 4), 9).isoformat(),
        },
    )
    assert refused.status_code == 403


def test_the_admin_limits_a_user_on_the_users_page(
    client: Any, admin: Any, front_desk: Any
) -> None:
    paris = make_paris()
    login(client, admin)
    assert "Choose the sites" in client.get(f"/admin/users/{front_desk.id}").get_data(as_text=True)
    page = client.get(f"/admin/users/{front_desk.id}/sites")
    assert page.status_code == 200 and "Paris" in page.get_data(as_text=True)
    saved = client.post(f"/admin/users/{front_desk.id}/sites", data={"site_ids": [paris.id]})
    assert saved.status_code == 302
    assert sites.user_site_ids(front_desk.id) == {paris.id}
    client.post(f"/admin/users/{front_desk.id}/sites", data={})
    assert sites.user_site_ids(front_desk.id) is None


def test_the_board_shows_one_site_with_a_picker(client: Any, admin: Any) -> None:
    paris = make_paris()
    make_device("Chair A")
    make_device("Paris 1", site_id=paris.id)
    login(client, admin)
    first = client.get("/schedule?date=2026-03-03").get_data(as_text=True)
    assert "Chair A" in first and "Paris 1" not in first
    assert 'name="site_id"' in first  # the picker, since there are two sites
    there = client.get(f"/schedule?date=2026-03-03&site_id={paris.id}").get_data(as_text=True)
    assert "Paris 1" in there and "Chair A" not in there
    week = client.get(f"/schedule/week?date=2026-03-03&site_id={paris.id}")
    assert week.status_code == 200 and "Paris 1" in week.get_data(as_text=True)


def test_a_limited_user_gets_their_site_on_the_board(
    client: Any, admin: Any, front_desk: Any
) -> None:
    paris = make_paris()
    make_device("Chair A")
    make_device("Paris 1", site_id=paris.id)
    sites.set_user_sites(front_desk.id, [paris.id], actor_id=admin.id)
    db.session.commit()
    login(client, front_desk)
    board = client.get("/schedule?date=2026-03-03").get_data(as_text=True)
    assert "Paris 1" in board and "Chair A" not in board
    assert client.get("/schedule?date=2026-03-03&site_id=1").status_code == 403


def test_admin_pages_for_sites_and_their_holidays(client: Any, admin: Any) -> None:
    login(client, admin)
    added = client.post(
        "/admin/sites", data={"name": "Paris", "timezone": "Europe/Paris", "holidays": "FR"}
    )
    assert added.status_code == 302
    site = sites.list_sites()[-1]
    bad = client.post("/admin/sites", data={"name": "X", "timezone": "Nope", "holidays": "FR"})
    assert bad.status_code == 422 and "IANA" in bad.get_data(as_text=True)
    page = client.get(f"/admin/calendar?site_id={site.id}").get_data(as_text=True)
    assert "Europe/Paris" in page
    with_holidays = client.get("/admin/calendar").get_data(as_text=True)
    assert "Open anyway" in with_holidays
    opened = client.post(f"/admin/calendar/open?site_id={site.id}&date=2026-07-14")
    assert opened.status_code == 302
    assert (
        calendar.list_closures(since=date(2026, 7, 14), until=date(2026, 7, 14), site_id=site.id)
        == []
    )
