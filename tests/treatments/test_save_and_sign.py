"""Log and sign in one step from the log form, and "Sign log" offered only to whom the
service lets sign (the author, a clinician or an admin)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from clinic.extensions import db
from clinic.treatments.models import TreatmentLog
from tests.factories import login, make_user
from tests.treatments.conftest import log

FORM = {
    "motor_threshold_method": "visual",
    "intensity_pct_mt": "120",
    "pulses_delivered": "3000",
    "completed": "y",
    "coil_location": "5 cm anterior",
    "side_effects": ["headache"],
}


def test_save_and_sign_logs_and_signs_then_returns_to_today(
    client: Any, ready: Any, technician: Any
) -> None:
    login(client, technician)
    response = client.post(f"/appointments/{ready.id}/log", data={**FORM, "save_and_sign": "y"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/today")
    saved = db.session.scalar(select(TreatmentLog))
    assert saved is not None and saved.signed_at is not None
    assert saved.signed_by_id == technician.id == saved.logged_by_id
    today = client.get("/today").get_data(as_text=True)
    assert "Session logged and signed for" in today
    assert "Signed" in today


def test_save_alone_leaves_the_log_to_sign_later(client: Any, ready: Any, technician: Any) -> None:
    login(client, technician)
    response = client.post(f"/appointments/{ready.id}/log", data={**FORM, "save": "y"})
    assert response.status_code == 302
    saved = db.session.scalar(select(TreatmentLog))
    assert saved is not None and saved.signed_at is None
    assert response.headers["Location"].endswith(f"/treatments/{saved.id}")


def test_the_log_form_offers_save_and_sign_first(client: Any, ready: Any, technician: Any) -> None:
    login(client, technician)
    page = client.get(f"/appointments/{ready.id}/log").get_data(as_text=True)
    # The first submit button is the one Enter presses.
    assert page.index('name="save_and_sign"') < page.index('name="save"')
    assert 'value="120"' in page and 'value="3000"' in page


def test_sign_is_offered_only_to_who_may_sign(
    app: Any, ready: Any, technician: Any, clinician: Any
) -> None:
    entry = log(ready, technician)
    for user, offered in ((make_user("technician"), False), (technician, True), (clinician, True)):
        client = app.test_client()
        login(client, user)
        page = client.get(f"/treatments/{entry.id}").get_data(as_text=True)
        # Another technician would be refused by the service: no button for them.
        assert ("Sign log" in page) is offered, user.role


HTMX = {"HX-Request": "true", "HX-Current-URL": "http://localhost/today"}


def test_in_place_on_today_saving_answers_the_updated_list(
    client: Any, ready: Any, technician: Any
) -> None:
    login(client, technician)
    panel = client.get(f"/appointments/{ready.id}/log", headers=HTMX).get_data(as_text=True)
    assert 'id="log-panel"' in panel and 'hx-target="#today"' in panel
    response = client.post(
        f"/appointments/{ready.id}/log", data={**FORM, "save_and_sign": "y"}, headers=HTMX
    )
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert 'id="today"' in page and "Session logged and signed for" in page
    assert "Log session<" not in page  # the row now shows the signed log
    saved = db.session.scalar(select(TreatmentLog))
    assert saved is not None and saved.signed_at is not None


def test_in_place_a_refusal_answers_the_form_into_its_panel(
    client: Any, ready: Any, technician: Any
) -> None:
    ready.course.status = "on_hold"
    db.session.commit()
    login(client, technician)
    response = client.post(
        f"/appointments/{ready.id}/log",
        data={**FORM, "notes": "kept", "save_and_sign": "y"},
        headers=HTMX,
    )
    assert response.status_code == 409
    assert response.headers["HX-Retarget"] == "#log-panel"
    assert response.headers["HX-Reselect"] == "#log-panel"
    page = response.get_data(as_text=True)
    assert "The course is on hold" in page, page[page.find("flash") :][:600]
    assert "kept</textarea>" in page
    assert db.session.scalar(select(TreatmentLog)) is None


def test_in_place_saving_to_sign_later_loads_the_log_page(
    client: Any, ready: Any, technician: Any
) -> None:
    login(client, technician)
    response = client.post(
        f"/appointments/{ready.id}/log", data={**FORM, "save": "y"}, headers=HTMX
    )
    saved = db.session.scalar(select(TreatmentLog))
    assert saved is not None
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == f"/treatments/{saved.id}"
