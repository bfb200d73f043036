"""Treatment logs per site: staff limited to sites neither log, edit, amend, sign nor
review a session at another site (403), through the services, the pages and the API; a
bulk review with one such log reviews none. Reading a log stays open, as the chart does."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from clinic.errors import NotAllowed
from clinic.extensions import db
from clinic.scheduling import sites
from clinic.scheduling.models import AppointmentStatus
from clinic.treatments.models import TreatmentLog
from clinic.treatments.review import review_treatment, review_treatments, sign_treatment
from clinic.treatments.treatment_log import amend_treatment, edit_treatment, log_treatment
from tests.factories import login, make_appointment, make_course, make_device, make_patient
from tests.scheduling.conftest import make_la_site
from tests.treatments.conftest import NOW, add_mt, body, days, log

OTHER_SITE = "You work at other sites than this one."


def _sessions(clinician: Any) -> dict[str, Any]:
    """A session now for Newyorker on the first site's chair, one for Angeleno in LA."""
    la = make_la_site()
    chairs = {"Newyorker": make_device("Chair A"), "Angeleno": make_device("LA 1", site_id=la.id)}
    found = {}
    for name, chair in chairs.items():
        course = make_course(make_patient(first_name=name), prescriber=clinician)
        add_mt(course, 50, at=NOW - days(1))
        found[name] = make_appointment(course, NOW, device=chair)
    return found


def _logged(clinician: Any, technician: Any, admin: Any) -> dict[str, Any]:
    """Both sessions logged (unsigned), then the technician and the clinician limited to
    the first site."""
    logs = {name: log(a, technician) for name, a in _sessions(clinician).items()}
    first = sites.get_site().id
    for user in (technician, clinician):
        sites.set_user_sites(user.id, [first], actor_id=admin.id)
    db.session.commit()
    return logs


def _log_count() -> int:
    return db.session.scalar(select(func.count(TreatmentLog.id))) or 0


def test_logging_a_session_at_another_site_is_refused(
    admin: Any, clinician: Any, technician: Any, frozen: Any
) -> None:
    sessions = _sessions(clinician)
    sites.set_user_sites(technician.id, [sites.get_site().id], actor_id=admin.id)
    db.session.commit()
    with pytest.raises(NotAllowed, match=OTHER_SITE):
        log_treatment(sessions["Angeleno"].id, technician.id, **body())
    db.session.rollback()
    assert _log_count() == 0
    assert db.session.get(type(sessions["Angeleno"]), sessions["Angeleno"].id).status == (
        AppointmentStatus.SCHEDULED
    )
    log(sessions["Newyorker"], technician)  # at their own site, as before
    assert _log_count() == 1


def test_changing_a_log_at_another_site_is_refused(
    admin: Any, clinician: Any, technician: Any, frozen: Any
) -> None:
    logs = _logged(clinician, technician, admin)
    there = logs["Angeleno"].id
    refused = [
        lambda: edit_treatment(there, technician.id, {"comfort_score": 3}),
        lambda: amend_treatment(
            there, technician.id, field="comfort_score", value=3, reason="asked again"
        ),
        lambda: sign_treatment(there, technician.id),
        lambda: sign_treatment(there, clinician.id),
        lambda: review_treatment(there, clinician.id),
    ]
    for change in refused:
        with pytest.raises(NotAllowed, match=OTHER_SITE):
            change()
        db.session.rollback()
    left = db.session.get(TreatmentLog, there)
    assert left.signed_at is None and left.reviewed_at is None and left.comfort_score is None
    assert not left.amendments
    # Their own site's log changes as before; an admin not limited changes any.
    here = logs["Newyorker"].id
    edit_treatment(here, technician.id, {"comfort_score": 3})
    assert review_treatment(here, clinician.id).reviewed_at is not None
    assert review_treatment(there, admin.id).reviewed_at is not None


def test_a_bulk_review_with_a_log_at_another_site_reviews_none(
    admin: Any, clinician: Any, technician: Any, frozen: Any
) -> None:
    logs = _logged(clinician, technician, admin)
    ids = [logs["Newyorker"].id, logs["Angeleno"].id]
    with pytest.raises(NotAllowed, match=OTHER_SITE):
        review_treatments(ids, clinician.id)
    db.session.rollback()
    assert all(db.session.get(TreatmentLog, i).reviewed_at is None for i in ids)
    assert [r.id for r in review_treatments(ids[:1], clinician.id)] == ids[:1]


def test_the_pages_refuse_another_sites_log_and_still_show_it(
    client: Any, admin: Any, clinician: Any, technician: Any, frozen: Any
) -> None:
    sessions = _sessions(clinician)
    here = log(sessions["Newyorker"], technician)
    sites.set_user_sites(technician.id, [sites.get_site().id], actor_id=admin.id)
    db.session.commit()
    login(client, technician)
    form = f"/appointments/{sessions['Angeleno'].id}/log"
    assert client.get(form).status_code == 403
    posted = client.post(
        form, data={"intensity_pct_mt": 120, "pulses_delivered": 3000, "completed": "y"}
    )
    assert posted.status_code == 403 and _log_count() == 1
    # A log of another site (logged before the limit) reads, with nothing offered.
    there = log(sessions["Angeleno"], None)
    page = client.get(f"/treatments/{there.id}")
    assert page.status_code == 200 and "Angeleno" in page.get_data(as_text=True)
    assert "Sign log" not in page.get_data(as_text=True)
    assert "Correct this log" not in page.get_data(as_text=True)
    own = client.get(f"/treatments/{here.id}").get_data(as_text=True)
    assert "Sign log" in own and "Correct this log" in own
    assert client.post(f"/treatments/{there.id}/sign").status_code == 403
    amended = client.post(
        f"/treatments/{there.id}/amendments",
        data={"field": "comfort_score", "value": "3", "reason": "asked again"},
    )
    assert amended.status_code == 403
    assert db.session.get(TreatmentLog, there.id).signed_at is None


def test_the_review_pages_refuse_another_sites_log(
    client: Any, admin: Any, clinician: Any, technician: Any, frozen: Any
) -> None:
    logs = _logged(clinician, technician, admin)
    here, there = logs["Newyorker"].id, logs["Angeleno"].id
    login(client, clinician)
    assert "Mark reviewed" not in client.get(f"/treatments/{there}").get_data(as_text=True)
    assert "Mark reviewed" in client.get(f"/treatments/{here}").get_data(as_text=True)
    assert client.post(f"/treatments/{there}/review").status_code == 403
    assert client.post("/review", data={"single": there}).status_code == 403
    assert client.post("/review", data={"selected": [here, there]}).status_code == 403
    db.session.expire_all()
    assert db.session.get(TreatmentLog, here).reviewed_at is None
    assert db.session.get(TreatmentLog, there).reviewed_at is None
    assert client.post("/review", data={"selected": [here]}).status_code == 302
    db.session.expire_all()
    assert db.session.get(TreatmentLog, here).reviewed_at is not None


def test_the_api_refuses_another_sites_log_with_403(
    api: Any, admin: Any, clinician: Any, technician: Any, frozen: Any
) -> None:
    sessions = _sessions(clinician)
    there = log(sessions["Angeleno"], technician)
    for user in (technician, clinician):
        sites.set_user_sites(user.id, [sites.get_site().id], actor_id=admin.id)
    db.session.commit()
    tech, doctor = api.as_(technician), api.as_(clinician)
    base = f"/api/v1/treatments/{there.id}"
    refused = [
        tech.post(f"/api/v1/appointments/{sessions['Newyorker'].id}/treatment", json=body()),
        tech.request("PATCH", base, json={"comfort_score": 3}),
        tech.post(f"{base}/sign"),
        tech.post(
            f"{base}/amendments",
            json={"field": "comfort_score", "value": 3, "reason": "asked again"},
        ),
        doctor.post(f"{base}/review"),
    ]
    # The first was at their own site: logged. The rest are another site's: 403.
    assert refused[0].status_code == 201
    for response in refused[1:]:
        assert response.status_code == 403, response.json
        assert response.json["error"]["code"] == "forbidden"
    other = make_appointment(there.course, NOW + days(1), device=sessions["Angeleno"].device)
    logged = tech.post(f"/api/v1/appointments/{other.id}/treatment", json=body())
    assert logged.status_code == 403
    read = tech.get(base)
    assert read.status_code == 200 and read.json["signed_at"] is None
    paths = api.get("/api/v1/openapi.json").json["paths"]
    for path, method in (
        ("/api/v1/appointments/{appointment_id}/treatment", "post"),
        ("/api/v1/treatments/{treatment_id}", "patch"),
        ("/api/v1/treatments/{treatment_id}/sign", "post"),
        ("/api/v1/treatments/{treatment_id}/review", "post"),
        ("/api/v1/treatments/{treatment_id}/amendments", "post"),
    ):
        assert "other sites" in paths[path][method]["responses"]["403"]["description"]
