"""The inbox, the alerts page, the alerts API and the navigation's count for staff limited
to sites: their sites' patients' alerts and courses, but never so that a safety alert is
hidden from every clinician (a patient with no appointment yet, or booked only at sites
no clinician works at, stays on everyone's list)."""

from __future__ import annotations

import itertools
import re
from datetime import timedelta
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import update

from clinic import clock
from clinic.alerts.models import AlertStatus
from clinic.alerts.services import count_open_urgent, list_alerts
from clinic.extensions import db
from clinic.outcomes.checkpoints import not_improving
from clinic.outcomes.services import record_response
from clinic.scheduling import sites
from clinic.scheduling.models import Appointment
from tests.factories import (
    login,
    make_appointment,
    make_course,
    make_device,
    make_patient,
    make_user,
)
from tests.scheduling.conftest import make_la_site
from tests.web.test_inbox import PHQ9_ITEM9_YES, _course_with_phq9

NAMES = ("Newyorker", "Angeleno", "Newcomer")
_days = itertools.count(1)  # each booking on its own day: a chair holds one at a time


def _badge(page: str) -> int:
    found = re.search(r'class="nav-badge" data-count="(\d+)"', page)
    return int(found.group(1)) if found else 0


def _alert_for(name: str, chair: Any, prescriber: Any) -> None:
    """An item-9 (urgent) alert for a new patient booked on `chair` (None: not booked)."""
    patient = make_patient(first_name=name)
    if chair is not None:
        course = make_course(patient, prescriber=prescriber)
        make_appointment(course, clock.now() + timedelta(days=next(_days)), device=chair)
    record_response(patient.id, "PHQ-9", PHQ9_ITEM9_YES, None, "staff", None)
    db.session.commit()


def _chairs() -> tuple[Any, Any, Any]:
    la = make_la_site()
    return la, make_device("Chair A"), make_device("LA 1", site_id=la.id)


def _three_alerts(clinician: Any) -> Any:
    """Newyorker booked at the first site, Angeleno in LA, Newcomer booked nowhere."""
    la, here, there = _chairs()
    for name, chair in zip(NAMES, (here, there, None), strict=True):
        _alert_for(name, chair, clinician)
    return la


def _seen(user: Any) -> set[str]:
    patients = sites.alert_patients(user.id)
    found = list_alerts(status=AlertStatus.OPEN, patients=patients)
    assert count_open_urgent(user.id) == len(found)  # the badge counts the list
    return {alert.patient.first_name for alert in found}


def test_a_limited_user_sees_their_sites_alerts_and_every_unbooked_patients(
    admin: Any, clinician: Any
) -> None:
    la = _three_alerts(clinician)
    first = sites.get_site().id
    colleague = make_user("clinician")
    sites.set_user_sites(clinician.id, [la.id], actor_id=admin.id)
    sites.set_user_sites(colleague.id, [first], actor_id=admin.id)
    db.session.commit()
    assert _seen(clinician) == {"Angeleno", "Newcomer"}
    assert _seen(colleague) == {"Newyorker", "Newcomer"}
    assert _seen(admin) == set(NAMES)
    # Once no clinician works at the first site, its patient's alert is everyone's again.
    sites.set_user_sites(colleague.id, [la.id], actor_id=admin.id)
    db.session.commit()
    assert _seen(clinician) == set(NAMES)
    # An unlimited clinician sees it anywhere: the limited ones see their sites' again.
    make_user("clinician")
    assert _seen(clinician) == {"Angeleno", "Newcomer"}


def test_the_inbox_alerts_page_api_and_badge_follow_the_users_sites(
    client: FlaskClient, api: Any, admin: Any, clinician: Any
) -> None:
    la = _three_alerts(clinician)
    make_user("clinician")  # works everywhere: every alert has a clinician who sees it
    sites.set_user_sites(clinician.id, [la.id], actor_id=admin.id)
    db.session.commit()
    login(client, clinician)
    for path in ("/inbox", "/alerts"):
        page = client.get(path).get_data(as_text=True)
        assert "Angeleno" in page and "Newcomer" in page, path
        assert "Newyorker" not in page, path
        assert _badge(page) == 2, path
    listed = api.as_(clinician).get("/api/v1/alerts?status=open").json["items"]
    assert len(listed) == 2
    everyone = api.as_(admin).get("/api/v1/alerts?status=open").json["items"]
    assert len(everyone) == 3
    # The badge's statement is kept per user: it still follows the user's sites.
    sites.set_user_sites(clinician.id, [], actor_id=admin.id)
    db.session.commit()
    assert _badge(client.get("/alerts").get_data(as_text=True)) == 3
    client.post("/logout")
    login(client, admin)
    page = client.get("/inbox").get_data(as_text=True)
    assert all(name in page for name in NAMES) and _badge(page) == 3


def test_courses_not_improving_are_those_of_the_clinicians_sites(
    client: FlaskClient, admin: Any, clinician: Any, frozen: Any
) -> None:
    la, _, there = _chairs()
    stay = _course_with_phq9("Stuckhere", [3, 3, 3, 3, 2, 2, 1, 0, 0], frozen)
    frozen.move_to("2026-03-02T17:00:00Z")
    away = _course_with_phq9("Stuckaway", [3, 3, 3, 3, 2, 2, 1, 0, 0], frozen)
    db.session.execute(
        update(Appointment).where(Appointment.course_id == away.id).values(device_id=there.id)
    )
    db.session.commit()
    assert {row.course.id for row in not_improving()} == {stay.id, away.id}
    assert [row.course.id for row in not_improving(site_ids={la.id})] == [away.id]
    sites.set_user_sites(clinician.id, [la.id], actor_id=admin.id)
    db.session.commit()
    login(client, clinician)
    page = client.get("/inbox").get_data(as_text=True)
    section = page[page.index("Courses not improving") :]
    assert f"/courses/{away.id}" in section and f"/courses/{stay.id}" not in section


def test_a_limited_clinicians_inbox_statement_count_does_not_grow(
    client: FlaskClient, admin: Any, clinician: Any, count_queries: Any
) -> None:
    la, here, there = _chairs()
    make_user("clinician")
    sites.set_user_sites(clinician.id, [la.id], actor_id=admin.id)
    db.session.commit()
    login(client, clinician)

    def statements(alerts_per_site: int) -> int:
        for n in range(alerts_per_site):
            for chair in (here, there, None):
                _alert_for(f"Pat{n}", chair, clinician)
        with count_queries() as counter:
            assert client.get("/inbox").status_code == 200
        return counter.count

    assert statements(1) == statements(6)
