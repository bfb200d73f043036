"""An app lent to one test after another comes back as it was built: the settings a test
changed are put back, what a test stored in its extensions is gone, and an app a test
added a view to is not lent again."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import AppShelf, _test_config


def test_a_lent_app_comes_back_as_built(tmp_path: Path) -> None:
    shelf = AppShelf()
    config = _test_config(f"sqlite:///{tmp_path / 'shelf.db'}")
    first, give_back = shelf.lend(config)
    first.config["CLINIC_NAME"] = "Changed by a test"
    first.config["CLINIC_TWILIO"] = {"sid": "changed"}
    first.extensions["left.behind"] = object()
    give_back()
    again, give_back = shelf.lend(dict(config))
    assert again is first
    assert again.config["CLINIC_NAME"] != "Changed by a test"
    assert again.config.get("CLINIC_TWILIO") != {"sid": "changed"}
    assert "left.behind" not in again.extensions
    give_back()
    other, give_back = shelf.lend({**config, "CLINIC_NAME": "Another clinic"})
    assert other is not first and other.config["CLINIC_NAME"] == "Another clinic"
    give_back()


def test_an_app_given_a_view_is_not_lent_again(tmp_path: Path) -> None:
    shelf = AppShelf()
    config = _test_config(f"sqlite:///{tmp_path / 'shelf.db'}")
    app, give_back = shelf.lend(config)
    app.add_url_rule("/test-only/extra", "test_extra", lambda: "extra")
    give_back()
    again, give_back = shelf.lend(config)
    assert again is not app
    assert "test_extra" not in again.view_functions
    give_back()


def test_an_app_that_answered_errors_is_lent_again(tmp_path: Path) -> None:
    """Flask's error handler table grows an empty entry for each blueprint that answered
    an error; that is not a change a test made."""
    shelf = AppShelf()
    config = _test_config(f"sqlite:///{tmp_path / 'shelf.db'}")
    app, give_back = shelf.lend(config)
    with app.app_context():
        client = app.test_client()
        assert client.get("/api/v1/patients/1").status_code == 401
        assert client.get("/no/such/page").status_code == 404
    give_back()
    again, give_back = shelf.lend(config)
    assert again is app
    give_back()
