"""The Today list per site (issue 16): the day at the user's site on its own clock, a
picker among the user's sites, and nothing from a site the user does not work at."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from clinic.extensions import db
from clinic.scheduling import sites
from tests.factories import login, make_appointment, make_course, make_device, make_patient
from tests.scheduling.conftest import LA, make_la_site
from tests.treatments.conftest import NOW


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def two_sites() -> Any:
    """A session now in New York, one at 09:00 and one at 22:00 in Los Angeles (the
    latter already tomorrow on New York's clock)."""
    la = make_la_site()
    here, there = make_device("Chair A"), make_device("LA 1", site_id=la.id)
    make_appointment(make_course(make_patient(first_name="Newyorker")), NOW, device=here)
    morning = datetime(2026, 3, 10, 9, 0, tzinfo=LA)
    make_appointment(make_course(make_patient(first_name="Angeleno")), morning, device=there)
    late = datetime(2026, 3, 10, 22, 0, tzinfo=LA)
    make_appointment(make_course(make_patient(first_name="Nightowl")), late, device=there)
    return la


def test_today_shows_one_site_with_a_picker(client: Any, frozen: Any, technician: Any) -> None:
    la = two_sites()
    login(client, technician)
    first = text(client.get("/today?scope=clinic"))
    assert "Newyorker" in first and "Angeleno" not in first
    assert 'name="site_id"' in first and "Los Angeles" in first
    there = text(client.get(f"/today?scope=clinic&site_id={la.id}"))
    assert "Angeleno" in there and "Newyorker" not in there
    # 22:00 in Los Angeles is 01:00 tomorrow in New York, but today at that site,
    # and the page shows the site's own times.
    assert "Nightowl" in there and "22:00" in there and "09:00" in there
    assert client.get("/today?site_id=999").status_code == 404


def test_a_user_limited_to_a_site_sees_only_its_today(
    client: Any, admin: Any, frozen: Any, technician: Any
) -> None:
    la = two_sites()
    sites.set_user_sites(technician.id, [la.id], actor_id=admin.id)
    db.session.commit()
    login(client, technician)
    page = text(client.get("/today?scope=clinic"))
    assert "Angeleno" in page and "Newyorker" not in page
    assert 'name="site_id"' not in page  # one site: nothing to pick
    assert client.get("/today?scope=clinic&site_id=1").status_code == 403


def test_a_clinician_limited_to_a_site_reviews_only_its_logs(
    client: Any, admin: Any, frozen: Any, technician: Any, clinician: Any
) -> None:
    """The review queue and the inbox list the logs of the clinician's sites only."""
    from tests.treatments.conftest import add_mt, days, log

    la = make_la_site()
    here, there = make_device("Chair A"), make_device("LA 1", site_id=la.id)
    for name, chair in (("Newyorker", here), ("Angeleno", there)):
        course = make_course(make_patient(first_name=name), prescriber=clinician)
        add_mt(course, 50)
        log(make_appointment(course, NOW - days(1), device=chair), technician)
    db.session.commit()
    login(client, clinician)
    for path in ("/review", "/inbox"):
        page = text(client.get(path))
        assert "Newyorker" in page and "Angeleno" in page, path
    sites.set_user_sites(clinician.id, [la.id], actor_id=admin.id)
    db.session.commit()
    for path in ("/review", "/inbox"):
        page = text(client.get(path))
        assert "Angeleno" in page and "Newyorker" not in page, path
