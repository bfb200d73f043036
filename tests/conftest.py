"""Fixtures shared by the whole suite.

Every test that uses `app` runs once per database backend: SQLite always, PostgreSQL
when CLINIC_TEST_DATABASE_URL is set. The schema is built once per backend by running
the real migrations into a template; each test then gets a database it may commit to and
use with real concurrent connections: a fresh copy of that template on SQLite (a file
copy), on PostgreSQL one copy per worker, emptied back to the template's rows after each
test (`tests.reused_database`; `@pytest.mark.fresh_database` asks for a new copy).
Either way the URL stays the same for a worker's tests, so they share its apps
(`AppShelf`).
"""

from __future__ import annotations

import copy
import functools
import os
import shutil
import uuid
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import time_machine

os.environ["CLINIC_ENV"] = "testing"
os.environ.setdefault("CLINIC_TIMEZONE", "America/New_York")

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from flask_migrate import upgrade
from sqlalchemy.engine import make_url
from werkzeug.security import generate_password_hash

from clinic import create_app
from clinic.auth import services as auth_services
from clinic.db import scratch_postgres_database, serialised_writes
from clinic.extensions import db
from tests.factories import ApiClient, make_course, make_patient, make_user
from tests.reused_database import ReusedDatabase

PG_URL = os.environ.get("CLINIC_TEST_DATABASE_URL")
REQUIRE_ALL = os.environ.get("CLINIC_TEST_REQUIRE_ALL") == "1"
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


def pytest_configure(config: pytest.Config) -> None:
    if REQUIRE_ALL and not PG_URL:
        raise pytest.UsageError("CLINIC_TEST_REQUIRE_ALL=1 but CLINIC_TEST_DATABASE_URL is not set")


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """With CLINIC_TEST_REQUIRE_ALL=1 a skipped test is a failure, not a footnote."""
    if REQUIRE_ALL and report.skipped and report.when in ("setup", "call"):
        report.outcome = "failed"
        report.longrepr = f"skipped, but CLINIC_TEST_REQUIRE_ALL=1: {report.longrepr}"


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    """scrypt at Werkzeug's cost (n=32768) takes about 0.09 s a hash and as much a check,
    and the suite creates and signs in users by the thousand. The same scheme at n=1024
    stores and checks the same kind of hash (`scrypt:...`, its cost read back from the
    hash) in about 3 ms. The app outside the tests keeps Werkzeug's default."""
    cheap = functools.partial(generate_password_hash, method="scrypt:1024:8:1")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(auth_services, "generate_password_hash", cheap)
        yield


def _test_config(url: str) -> dict[str, Any]:
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "SERVER_NAME": None,
    }


def _migrate(url: str) -> None:
    app = create_app(_test_config(url))
    with app.app_context():
        upgrade()
        db.engine.dispose()


class TemplateDatabase:
    """A migrated, empty database that each test clones."""

    def __init__(self, backend: str, workdir: Path) -> None:
        self.backend = backend
        self.workdir = workdir
        self.reused: ReusedDatabase | None = None
        if backend == "sqlite":
            self.template = workdir / "template.db"
            _migrate(f"sqlite:///{self.template}")
        else:
            assert PG_URL
            url, self.drop_template = scratch_postgres_database(PG_URL, "clinic_tpl")
            self.template_name = make_url(url).database
            _migrate(url)

    def _sqlite_copy(self, name: str) -> tuple[str, Any]:
        """The template's file copied to `name`: (url, remove). Removing unlinks the file
        rather than overwriting it: a connection a test left open keeps its own."""
        path = self.workdir / name
        shutil.copyfile(self.template, path)

        def remove() -> None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)

        return f"sqlite:///{path}", remove

    def clone(self) -> tuple[str, Any]:
        """A fresh database for one test: (url, cleanup)."""
        if self.backend == "sqlite":
            return self._sqlite_copy(f"test-{uuid.uuid4().hex[:10]}.db")
        assert PG_URL
        return scratch_postgres_database(PG_URL, "clinic_t", template=self.template_name)

    def lend(self) -> tuple[str, Any]:
        """A database for one test, as good as fresh, at the same URL for every test of
        this worker (so its app can be reused: `AppShelf`): (url, give back). On SQLite a
        new copy of the template's file; on PostgreSQL the worker's reused copy, which
        giving back empties."""
        if self.backend == "sqlite":
            return self._sqlite_copy("lent.db")
        assert PG_URL
        if self.reused is None:
            self.reused = ReusedDatabase(self.clone, PG_URL)
        reused = self.reused

        def give_back() -> None:
            try:
                reused.reset()
            except Exception:
                self.reused = None  # the next test gets a new copy
                reused.drop()
                raise

        return reused.url, give_back

    def drop(self) -> None:
        if self.backend == "postgresql":
            if self.reused is not None:
                self.reused.drop()
            self.drop_template()


@pytest.fixture(scope="session", params=BACKENDS)
def template_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TemplateDatabase]:
    template = TemplateDatabase(request.param, tmp_path_factory.mktemp(request.param))
    yield template
    template.drop()


@pytest.fixture
def backend(template_database: TemplateDatabase) -> str:
    return template_database.backend


@pytest.fixture
def database_url(
    template_database: TemplateDatabase, request: pytest.FixtureRequest
) -> Iterator[str]:
    fresh = request.node.get_closest_marker("fresh_database") is not None
    url, cleanup = template_database.clone() if fresh else template_database.lend()
    yield url
    cleanup()


@pytest.fixture
def app_config(database_url: str) -> dict[str, Any]:
    """Override in a test module (or extend in a test) to change settings."""
    return _test_config(database_url)


class AppShelf:
    """The apps this worker has built, by configuration, for later tests to reuse.

    `create_app` costs about 0.2 s (flask-smorest writing the OpenAPI document, Werkzeug
    compiling some 230 URL rules), as long as a typical test. In production one app
    serves every request of a process; here a test whose configuration an earlier test
    used gets that app back, with its settings and extensions put back as they were
    built. A test that adds views or hooks to its app (`@pytest.mark.own_app`) gets one
    of its own; an app found changed anyway is not lent again."""

    SIZE = 4

    def __init__(self) -> None:
        self.apps: OrderedDict[str, tuple[Flask, dict[str, Any], dict[str, Any], Any]] = (
            OrderedDict()
        )

    def lend(self, config: dict[str, Any]) -> tuple[Flask, Any]:
        """(app, give back)."""
        key = repr(sorted(config.items()))
        if key not in self.apps:
            app = create_app(config)
            self.apps[key] = (
                app,
                copy.deepcopy(dict(app.config)),
                dict(app.extensions),
                _shape(app),
            )
            while len(self.apps) > self.SIZE:
                self.apps.popitem(last=False)
        self.apps.move_to_end(key)
        app, settings, extensions, shape = self.apps[key]

        def give_back() -> None:
            app.config.clear()
            app.config.update(copy.deepcopy(settings))
            app.extensions.clear()
            app.extensions.update(extensions)
            if _shape(app) != shape:
                del self.apps[key]

        return app, give_back


def _shape(app: Flask) -> Any:
    """What a test could add to an app besides settings: rules, views and hooks."""
    hooks = (
        app.before_request_funcs,
        app.after_request_funcs,
        app.teardown_request_funcs,
        app.url_value_preprocessors,
        app.url_default_functions,
        app.template_context_processors,
        _error_handlers(app),
    )
    return (
        tuple(rule.rule for rule in app.url_map.iter_rules()),
        tuple(app.view_functions),
        repr(hooks),
    )


def _error_handlers(app: Flask) -> dict[Any, Any]:
    """The app's error handlers without the empty entries Flask's lookups leave: its table
    is a defaultdict, so answering an error from a blueprint with no handlers of its own
    adds one, and the app looked changed after any test that saw an error."""
    return {
        blueprint: {code: dict(found) for code, found in codes.items() if found}
        for blueprint, codes in app.error_handler_spec.items()
        if any(codes.values())
    }


@pytest.fixture(scope="session")
def app_shelf() -> AppShelf:
    return AppShelf()


@pytest.fixture
def app(
    app_config: dict[str, Any], app_shelf: AppShelf, request: pytest.FixtureRequest
) -> Iterator[Flask]:
    if request.node.get_closest_marker("own_app") is not None:
        application, give_back = create_app(app_config), None
    else:
        application, give_back = app_shelf.lend(app_config)
    # The test's own thread reads without taking SQLite's write lock (see clinic.db).
    token = serialised_writes.set(False)
    with application.app_context():
        yield application
        db.session.remove()
        db.engine.dispose()
    serialised_writes.reset(token)
    if give_back is not None:
        give_back()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def admin(app: Flask) -> Any:
    return make_user("admin")


@pytest.fixture
def front_desk(app: Flask) -> Any:
    return make_user("front_desk")


@pytest.fixture
def technician(app: Flask) -> Any:
    return make_user("technician")


@pytest.fixture
def clinician(app: Flask) -> Any:
    return make_user("clinician")


@pytest.fixture
def frozen_at() -> datetime:
    """Where `frozen` stops the clock: Monday 2 March 2026, noon in the clinic's zone
    (America/New_York, EST). A test package whose scenarios need another instant overrides
    this fixture, not `frozen`."""
    return datetime(2026, 3, 2, 17, 0, tzinfo=UTC)


@pytest.fixture
def frozen(frozen_at: datetime) -> Iterator[Any]:
    """The clock stands still at `frozen_at` (move it with `frozen.move_to(...)`)."""
    with time_machine.travel(frozen_at, tick=False) as traveller:
        yield traveller


@pytest.fixture
def course(clinician: Any) -> Any:
    """An active course of the default protocol, prescribed by `clinician`, for Robin."""
    return make_course(make_patient(first_name="Robin"), prescriber=clinician)


@pytest.fixture
def api(app: Flask) -> ApiClient:
    """A JSON API client; `api.as_(user)` picks whose token it sends."""
    return ApiClient(app.test_client())


class QueryCounter:
    """Counts SQL statements sent while active: `with count_queries() as q: ...; q.count`."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.statements: list[str] = []
        self._single: list[tuple[str, Any]] = []  # with their parameters, executemany aside

    def _on_execute(
        self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool
    ) -> None:
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            self.statements.append(statement)
            if not many:
                self._single.append((statement, parameters))

    @property
    def count(self) -> int:
        return len(self.statements)

    def plans(self, table: str) -> list[str]:
        """How the statements sent read `table`: one line of the query plan each read.

        SQLite picks its indexes by rule, so its plan is the same with a test's few rows
        as with years of them: "SCAN t" reads every row, "SEARCH t USING INDEX i (a=?)"
        a range. PostgreSQL picks by cost, and with a test's few rows reads every table
        whole; told to avoid that wherever it can (`enable_seqscan` off), it still must
        where no index serves the query: "Seq Scan on t"."""
        if db.session.connection().dialect.name != "postgresql":
            return [
                line
                for line in self.explain(table)
                if line.split()[:2] in (["SCAN", table], ["SEARCH", table])
            ]
        return [line for line in self.explain(table) if f" on {table} " in f"{line} "]

    def explain(self, table: str) -> list[str]:
        """Every line of the query plans of the statements that name `table` (PostgreSQL's
        with `enable_seqscan` off, as `plans`)."""
        connection = db.session.connection()
        if connection.dialect.name != "postgresql":
            return [
                line
                for statement, parameters in self._single
                if f" {table}" in statement
                for *_, line in connection.exec_driver_sql(
                    f"EXPLAIN QUERY PLAN {statement}", parameters
                )
            ]
        connection.exec_driver_sql("SET enable_seqscan = off")
        try:
            return [
                line.strip(" ->")
                for statement, parameters in self._single
                if f" {table}" in statement
                for (line,) in connection.exec_driver_sql(f"EXPLAIN {statement}", parameters)
            ]
        finally:
            connection.exec_driver_sql("RESET enable_seqscan")

    def whole_table_reads(self, table: str, *, but: str | None = None) -> list[str]:
        """The reads (`plans`) that go through every row of `table`, other than through
        the index `but` (a partial index holds only its own rows)."""
        return [
            line
            for line in self.plans(table)
            if line.startswith((f"SCAN {table}", f"Seq Scan on {table}"))
            and (but is None or but not in line)
        ]

    def __enter__(self) -> QueryCounter:
        from sqlalchemy import event

        event.listen(self.engine, "before_cursor_execute", self._on_execute)
        return self

    def __exit__(self, *exc: object) -> None:
        from sqlalchemy import event

        event.remove(self.engine, "before_cursor_execute", self._on_execute)


@pytest.fixture
def count_queries(app: Flask) -> Any:
    return lambda: QueryCounter(db.engine)
