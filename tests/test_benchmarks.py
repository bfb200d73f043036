"""`make bench` runs outside the suite; its seeding code builds rows and messages through
the app's own functions, so it is run here small, lest a change of theirs leave the
benchmark broken until someone measures."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from benchmarks import bare, reminders
from clinic import clock
from clinic.scheduling import sites
from tests.factories import login, make_appointment, make_course, make_device, make_patient


def test_the_dispatch_benchmark_seeds_and_delivers_every_message() -> None:
    rate = reminders.run(count=20, batch_size=10)
    assert rate > 0


@pytest.mark.own_app  # it adds the bare-stack routes
def test_the_bare_board_reads_the_first_sites_sessions_and_the_bare_api_every_site(
    app: Flask, client: FlaskClient, front_desk: Any, frozen: Any
) -> None:
    """The baseline asks what the app's pages ask: the board and the week show the first
    site (at 20 sites the bare page read every site's sessions, and the ratio flattered the
    app), the appointments API answers every site to a user who covers them all."""
    app.register_blueprint(bare.bp)
    other = sites.create_site(
        name="Uptown", timezone="America/New_York", holidays="US", actor_id=None
    )
    first, elsewhere = make_device("Chair A"), make_device("Chair U", site_id=other.id)
    today = clock.today()
    for device, name in ((first, "Ada"), (elsewhere, "Una")):
        course = make_course(make_patient(first_name=name))
        make_appointment(course, clock.now() + timedelta(hours=1), device=device)
    for path in ("/bare/board", "/bare/week"):
        page = client.get(f"{path}?date={today.isoformat()}").get_data(as_text=True)
        assert "Ada" in page and "Una" not in page
    items = client.get(f"/bare/appointments?date={today.isoformat()}").get_json()["items"]
    assert {item["device_id"] for item in items} == {first.id, elsewhere.id}
    login(client, front_desk)
    board = client.get(f"/schedule?date={today.isoformat()}").get_data(as_text=True)
    assert "Chair A" in board and "Chair U" not in board
