"""Fixtures of the fault suite: a private PostgreSQL and a SQLite file, each migrated once
into a template with an admin and an API token; per test, a fresh database and a `Clinic`
that starts app servers, dispatchers and an SMTP sink on demand and kills them all at the
end.

The clinic runs on real time in a zone where it is late morning now and every weekday is
open all day, so appointments booked a few hours ahead are bookable and their email
reminder (24 h before) is already late, hence due at once, and outside quiet hours.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    PG_BIN,
    LiveApi,
    PrivatePostgres,
    Process,
    Processes,
    SmtpSink,
    app_environment,
    run_flask,
    start_app_server,
    start_dispatcher,
)

LOCAL_HOUR_NOW = 10
# Every hour of every day, public holidays included.
OPEN_ALL_DAY = "DELETE FROM opening_hours; UPDATE sites SET holidays = 'none'; " + " ".join(
    "INSERT INTO opening_hours (site_id, weekday, opens_at, closes_at) "
    f"VALUES ((SELECT min(id) FROM sites), {day}, '00:00', '23:59');"
    for day in range(7)
)


def clinic_timezone(now: datetime | None = None) -> str:
    """An `Etc/GMT` zone in which it is about LOCAL_HOUR_NOW o'clock now (sign inverted by
    POSIX convention: Etc/GMT-3 is three hours ahead of UTC)."""
    now = now or datetime.now(UTC)
    offset = (LOCAL_HOUR_NOW - now.hour + 12) % 24 - 12
    return "Etc/GMT" if offset == 0 else f"Etc/GMT{-offset:+d}"


@dataclass
class Template:
    """A migrated database with an admin and its API token, cloned per test."""

    backend: str
    url: str
    token: str
    clone: Any  # () -> url of a fresh copy


def _prepare(url: str, timezone: str, run_sql: Any) -> str:
    env = app_environment(url, timezone)
    *_, token = run_flask(
        env,
        ["db", "upgrade"],
        [
            "users",
            "create",
            ADMIN_EMAIL,
            "--name=Fault Admin",
            "--role=admin",
            f"--password={ADMIN_PASSWORD}",
        ],
        ["users", "token", ADMIN_EMAIL, "--label=fault suite"],
    )
    run_sql(OPEN_ALL_DAY)
    return token.split()[-1]


@pytest.fixture(scope="session")
def fault_dir() -> Iterator[Path]:
    """Under /tmp itself: pytest's own temporary directories are closed to the `postgres`
    user that runs the private cluster."""
    path = Path(tempfile.mkdtemp(prefix="clinic-faults-"))
    path.chmod(0o755)
    yield path
    if os.environ.get("CLINIC_FAULTS_KEEP") == "1":  # to read the processes' logs
        logging.getLogger(__name__).warning("fault suite logs kept in %s", path)
    else:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def timezone() -> str:
    return clinic_timezone()


@pytest.fixture(scope="session")
def private_postgres(fault_dir: Path) -> Iterator[PrivatePostgres]:
    if not (PG_BIN / "initdb").exists():
        pytest.skip(f"the fault suite needs PostgreSQL's server programs (initdb) in {PG_BIN}")
    workdir = fault_dir / "postgres"
    workdir.mkdir()
    cluster = PrivatePostgres(workdir)
    cluster.start()
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def postgresql_template(private_postgres: PrivatePostgres, timezone: str) -> Template:
    private_postgres.execute('CREATE DATABASE "clinic_template"')
    url = private_postgres.url("clinic_template")
    token = _prepare(
        url, timezone, lambda sql: private_postgres.execute(sql, database="clinic_template")
    )

    def clone() -> str:
        if not private_postgres.running():  # a test left it stopped: bring it back
            private_postgres.start()
        return private_postgres.clone("clinic_template", f"clinic_{uuid.uuid4().hex[:10]}")

    return Template("postgresql", url, token, clone)


@pytest.fixture(scope="session")
def sqlite_template(fault_dir: Path, timezone: str) -> Template:
    path = fault_dir / "template.db"

    def run_sql(sql: str) -> None:
        with sqlite3.connect(path) as connection:
            connection.executescript(sql)

    token = _prepare(f"sqlite:///{path}", timezone, run_sql)

    def clone() -> str:
        # Through SQLite itself: part of the template may still sit in its -wal file.
        copy = fault_dir / f"clinic-{uuid.uuid4().hex[:10]}.db"
        with sqlite3.connect(path) as source, sqlite3.connect(copy) as target:
            source.backup(target)
        return f"sqlite:///{copy}"

    return Template("sqlite", f"sqlite:///{path}", token, clone)


@dataclass
class Clinic:
    """One clinic: a fresh database and whatever processes its tests start. Tests of one
    module share it (starting processes is most of the suite's time); each scenario
    works on its own new chairs and patients and checks only those."""

    backend: str
    database_url: str
    timezone: str
    token: str
    processes: Processes
    postgres: PrivatePostgres | None
    apps: list[str] = field(default_factory=list)
    dispatchers: list[Process] = field(default_factory=list)
    sink: SmtpSink | None = None
    api: LiveApi | None = None

    @property
    def pause_file(self) -> Path:
        return self.processes.workdir / "dispatchers.paused"

    def env(self, **extra: str) -> dict[str, str]:
        if self.sink is not None:
            extra = {"CLINIC_EMAIL_BACKEND": "smtp", "CLINIC_SMTP_URL": self.sink.url, **extra}
        return app_environment(self.database_url, self.timezone, **extra)

    def start_sink(self, delay_ms: int = 0) -> SmtpSink:
        self.sink = SmtpSink(self.processes, delay_ms)
        self.sink.start()
        return self.sink

    def start_apps(self, count: int = 2) -> LiveApi:
        env = self.env()
        with ThreadPoolExecutor(max_workers=count) as pool:
            self.apps = list(
                pool.map(lambda n: start_app_server(self.processes, env, f"app{n}"), range(count))
            )
        self.api = LiveApi(self.apps, self.token)
        return self.api

    def pause_dispatchers(self) -> None:
        self.pause_file.touch()

    def resume_dispatchers(self) -> None:
        self.pause_file.unlink(missing_ok=True)

    def keep_dispatchers(
        self, count: int, *, batch_size: int, workers: int, seconds: float = 170
    ) -> None:
        """`count` dispatcher processes alive (a killed one is replaced by a new process),
        each with `workers` dispatch workers (CLINIC_DISPATCH_WORKERS)."""
        self.dispatchers = [d for d in self.dispatchers if d.alive()]
        env = self.env(CLINIC_DISPATCH_WORKERS=str(workers))
        while len(self.dispatchers) < count:
            name = f"dispatcher{len(self.processes.started)}"
            self.dispatchers.append(
                start_dispatcher(
                    self.processes,
                    env,
                    name,
                    batch_size=batch_size,
                    seconds=seconds,
                    pause_file=self.pause_file,
                )
            )

    def sql(self, query: str) -> list[tuple[Any, ...]]:
        """Read (or, for a fault, write) the clinic's database directly."""
        if self.postgres is not None:
            database = self.database_url.rsplit("/", 1)[1]
            return self.postgres.execute(query, database=database)
        path = self.database_url.removeprefix("sqlite:///")
        with sqlite3.connect(path, timeout=30) as connection:
            return connection.execute(query).fetchall()


@pytest.fixture(scope="session")
def clinic_factory(request: pytest.FixtureRequest, fault_dir: Path, timezone: str) -> Iterator[Any]:
    """`clinic_factory("postgresql" | "sqlite")`; every process it started is killed at the
    end of the session."""
    made: list[Clinic] = []

    def make(backend: str) -> Clinic:
        template: Template = request.getfixturevalue(f"{backend}_template")
        postgres = request.getfixturevalue("private_postgres") if backend == "postgresql" else None
        prefix = f"{request.node.name.removesuffix('.py')}-{backend}-"
        workdir = Path(tempfile.mkdtemp(prefix=prefix, dir=fault_dir))
        clinic = Clinic(
            backend=backend,
            database_url=template.clone(),
            timezone=timezone,
            token=template.token,
            processes=Processes(workdir),
            postgres=postgres,
        )
        made.append(clinic)
        return clinic

    yield make
    for clinic in made:
        clinic.processes.stop_all()
        if clinic.postgres is not None and not clinic.postgres.running():
            clinic.postgres.start()  # a test that stopped it failed before restarting it


class _Clinics(dict[str, Clinic]):
    """One running clinic (two app servers) per backend, started on first use."""

    def __init__(self, factory: Any) -> None:
        super().__init__()
        self.factory = factory

    def __missing__(self, backend: str) -> Clinic:
        clinic: Clinic = self.factory(backend)
        clinic.start_apps(2)
        self[backend] = clinic
        return clinic


@pytest.fixture(scope="session")
def clinics(clinic_factory: Any) -> dict[str, Clinic]:
    """Shared by every fault test: starting app servers is most of the suite's time, so
    each test works on its own new chairs and patients instead of its own database."""
    return _Clinics(clinic_factory)
