"""Sequential page requests against gunicorn on PostgreSQL: no worker may die.

Reported: three gunicorn workers died with SIGSEGV during plain sequential page requests
on PostgreSQL, and a restarted instance served the same requests cleanly. Not reproduced;
the fix removes what the investigation suspected (gunicorn.conf.py: no control socket,
whose asyncio thread in the master is stopped and restarted around every fork; PostgreSQL
connections without GSSAPI; pools dropped in a forked child; faulthandler in wsgi.py).

This soak signs in as an admin and walks the staff pages in turn through one gunicorn
with several workers forked from a preloaded app (the fork path the guards are for),
then reads gunicorn's log for any worker that was killed by a signal or exited
unexpectedly, and checks that gunicorn ran without its control socket.
CLINIC_SOAK_REQUESTS makes it longer (the investigation ran thousands).
"""

from __future__ import annotations

import os
import re
import sys
import time
from itertools import cycle

import pytest
import requests

from tests.faults.conftest import Clinic
from tests.faults.harness import ADMIN_EMAIL, ADMIN_PASSWORD, free_port, wait_until

pytestmark = pytest.mark.xdist_group("faults")

REQUESTS = int(os.environ.get("CLINIC_SOAK_REQUESTS", "150"))
WORKERS = 4
PAGES = (
    "/",
    "/schedule",
    "/schedule/week",
    "/patients/",
    "/today",
    "/review",
    "/alerts",
    "/outcomes",
    "/reminders",
    "/admin/users",
    "/admin/devices",
    "/admin/audit/",
    "/admin/scheduler",
    "/profile",
)
WORKER_DEATH = re.compile(
    r"was sent (SIG\w+)|exited with code|Worker \(pid:\d+\) was sent|WORKER TIMEOUT|"
    r"Segmentation fault|Fatal Python error"
)
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _signed_in(base: str) -> requests.Session:
    session = requests.Session()
    session.trust_env = False  # loopback only, never through a proxy
    page = session.get(f"{base}/login", timeout=30)
    token = CSRF.search(page.text)
    assert token, "no CSRF token on the sign-in page"
    answer = session.post(
        f"{base}/login",
        data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD, "csrf_token": token.group(1)},
        timeout=30,
        allow_redirects=False,
    )
    assert answer.status_code == 302, answer.text[:500]
    return session


def test_sequential_pages_on_postgresql_kill_no_worker(clinics: dict[str, Clinic]) -> None:
    clinic = clinics["postgresql"]
    port = free_port()
    # Development settings: the session cookie is not Secure, so it travels over http. With
    # faulthandler on, a worker that crashes prints its Python stack into gunicorn's log.
    env = clinic.env(CLINIC_ENV="development", PYTHONFAULTHANDLER="1")
    server = clinic.processes.start(
        "soak",
        [
            sys.executable,
            "-m",
            "gunicorn",
            "wsgi:app",
            f"--bind=127.0.0.1:{port}",
            f"--workers={WORKERS}",
            "--timeout=60",
            "--preload",  # one import in the master, not one per worker: quicker, too
            "--log-level=debug",  # says "Control socket disabled"
        ],
        env,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: "Booting worker" in server.output(), seconds=60, what="gunicorn")
    wait_until(lambda: _health(base) == 200, seconds=60, what="the soak server to answer", step=0.2)
    session = _signed_in(base)

    started = time.monotonic()
    failures: list[tuple[str, int]] = []
    for _, path in zip(range(REQUESTS), cycle(PAGES), strict=False):
        status = session.get(f"{base}{path}", timeout=60).status_code
        if status != 200:
            failures.append((path, status))
    elapsed = time.monotonic() - started

    deaths = [line for line in server.output().splitlines() if WORKER_DEATH.search(line)]
    assert server.alive(), server.output()[-3000:]
    assert "Control socket disabled" in server.output(), "gunicorn.conf.py was not read"
    assert deaths == [], f"{len(deaths)} worker deaths: {deaths[:5]}\n{server.output()[-5000:]}"
    assert failures == [], failures[:10]
    assert elapsed < 120


def _health(base: str) -> int | None:
    try:
        return requests.get(f"{base}/api/v1/health", timeout=5).status_code
    except requests.RequestException:
        return None
