"""The API against its own OpenAPI document, by schemathesis (every check it has):
generated valid and invalid requests to every operation, as an admin, must never answer
5xx, always answer what the document declares (status, body, headers, content type), and
refuse what the document says is invalid.

Runs on SQLite only (the document and the validation are the same on both databases),
against one app and database for the whole module: state accumulates as it would in a
clinic. `xdist_group` keeps the module on one worker (`--dist loadgroup`). The budget
(`MAX_EXAMPLES` per operation and generation mode) keeps it to about two minutes here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from clinic import create_app
from clinic.auth import services as auth
from clinic.db import serialised_writes
from clinic.extensions import db
from tests.conftest import TemplateDatabase, _test_config
from tests.factories import make_user

MAX_EXAMPLES = 30
# Every check but one: `positive_data_acceptance` wants a 2xx for every request the
# document allows, and a clinic's rules are more than types (a course needs a clear
# screening, a chair is taken): those answers are 404/409/422 with their codes, declared
# per operation. Server errors, undeclared statuses, bodies that break the document and
# accepted invalid input all fail.
EXCLUDED_CHECKS = [positive_data_acceptance]

pytestmark = pytest.mark.xdist_group("schemathesis")


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    template = TemplateDatabase("sqlite", Path(tmp_path_factory.mktemp("schemathesis")))
    url, cleanup = template.clone()
    app = create_app(_test_config(url))
    reset = serialised_writes.set(False)
    with app.app_context():
        token = auth.create_token(make_user("admin"), "schemathesis")
        db.session.commit()
        db.session.remove()
    serialised_writes.reset(reset)
    LIVE_APP.app = app
    yield app, token
    LIVE_APP.app = None
    with app.app_context():
        db.engine.dispose()
    cleanup()


def _document() -> dict[str, Any]:
    """The document as the app serves it; building it needs no database."""
    app = create_app(_test_config("sqlite://"))
    document: dict[str, Any] = app.test_client().get("/api/v1/openapi.json").json
    return document


class LiveApp:
    """The WSGI app schemathesis calls: the module's app once `live` has built it (the
    schema is made at collection, before any fixture runs)."""

    app: Flask | None = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        assert self.app is not None, "the `live` fixture builds the app"
        return self.app(environ, start_response)


LIVE_APP = LiveApp()
schema = schemathesis.openapi.from_dict(_document())
schema.app = LIVE_APP


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_keeps_the_document(case: Any, live: tuple[Flask, str]) -> None:
    _, token = live
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"},
        excluded_checks=EXCLUDED_CHECKS,
    )
