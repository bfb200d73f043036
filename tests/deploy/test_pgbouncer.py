"""The suite's concurrency tests, again, through PgBouncer in transaction mode (as
docs/deploy.md recommends in front of PostgreSQL): each transaction may run on another
server connection, so nothing may rely on session state (prepared statements, session
advisory locks, SET): the same races must still end with one winner.

The tests below are imported from their own modules and collected here a second time,
with the app's database URL pointing at a PgBouncer started for each test.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import make_url

from tests.auth.test_throttle_concurrency import (  # noqa: F401
    test_24_simultaneous_wrong_passwords_check_at_most_five,
)
from tests.browser.conftest import live_server  # noqa: F401  (the app, served)
from tests.conftest import PG_URL, TemplateDatabase, _test_config
from tests.courses.conftest import frozen_at  # noqa: F401  (the courses' races' clock)
from tests.courses.test_concurrency import (  # noqa: F401
    test_bookings_drawing_on_one_authorization_at_once_count_each_other,
    test_two_status_changes_at_once_one_wins_the_other_is_refused,
)
from tests.scheduling.test_lifecycle_concurrency import (  # noqa: F401
    test_cancel_against_move_leaves_one_consistent_outcome,
    test_eight_cancels_of_one_appointment_one_wins_one_makeup,
)

pytestmark = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (CLINIC_TEST_DATABASE_URL)")

PGBOUNCER = Path(shutil.which("pgbouncer") or "/usr/sbin/pgbouncer")
RUN_AS = "postgres"  # PgBouncer refuses to run as root


@pytest.fixture(scope="module")
def template_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TemplateDatabase]:
    """PostgreSQL only: PgBouncer has nothing to say about SQLite."""
    template = TemplateDatabase("postgresql", tmp_path_factory.mktemp("pgbouncer"))
    yield template
    template.drop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def pgbouncer(database_url: str) -> Iterator[int]:
    """A PgBouncer in transaction mode in front of the test's database; stopped before
    the database is dropped (it keeps server connections open)."""
    if not PGBOUNCER.exists():
        pytest.fail(f"PgBouncer is not installed ({PGBOUNCER}); .ci/run installs it")
    upstream = make_url(database_url)
    workdir = Path(tempfile.mkdtemp(prefix="clinic-pgbouncer-"))
    workdir.chmod(0o755)
    port = _free_port()
    (workdir / "users.txt").write_text(f'"{upstream.username}" ""\n')
    (workdir / "pgbouncer.ini").write_text(
        "[databases]\n"
        f"* = host={upstream.host or '127.0.0.1'} port={upstream.port or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {workdir / 'users.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 8\nmax_client_conn = 200\n"
        f"logfile = {workdir / 'pgbouncer.log'}\npidfile = {workdir / 'pgbouncer.pid'}\n"
    )
    as_root = os.geteuid() == 0
    if as_root:  # its log and pid file are written as that user
        shutil.chown(workdir, user=RUN_AS)
    command = [str(PGBOUNCER), *(["-u", RUN_AS] if as_root else []), "pgbouncer.ini"]
    process = subprocess.Popen(command, cwd=workdir, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                _, stderr = process.communicate(timeout=5)
                pytest.fail(f"PgBouncer did not start: {stderr.decode(errors='replace')}")
            time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(timeout=10)
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture
def app_config(database_url: str, pgbouncer: int) -> dict[str, Any]:
    through = make_url(database_url).set(host="127.0.0.1", port=pgbouncer)
    return {
        **_test_config(through.render_as_string(hide_password=False)),
        "CLINIC_PGBOUNCER": True,
    }


def test_two_connections_swap_server_connections_without_losing_statements(
    app: Any, pgbouncer: int
) -> None:
    """Interleaved transactions let PgBouncer hand a client another server connection
    between transactions; the same statement, run past psycopg's prepare threshold, keeps
    working (CLINIC_PGBOUNCER=1 turns preparing off, as psycopg's documentation asks for
    PgBouncer before 1.21)."""
    from sqlalchemy import text

    from clinic.extensions import db

    assert db.engine.url.port == pgbouncer
    query = text("SELECT count(*) FROM users WHERE id > :n")
    with db.engine.connect() as first, db.engine.connect() as second:
        for n in range(12):
            first.begin()
            second.begin()
            assert first.execute(query, {"n": n}).scalar() is not None
            assert second.execute(query, {"n": n}).scalar() is not None
            first.commit()
            second.commit()
