"""Run the benchmarks: `python -m benchmarks [--patients N] [--years Y] [--devices D]`."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from statistics import median
from typing import Any

from benchmarks import reminders
from clinic.db import scratch_postgres_database

DEMO_USER = "desk@demo.clinic.org"
DEMO_PASSWORD = "demo-password-1"


@dataclass
class Result:
    backend: str
    appointments: int = 0
    demo_s: float = 0.0
    demo_mb: float = 0.0
    book_ms: float = 0.0
    board_ms: float = 0.0
    board_statements: int = 0
    worker_mb: float = 0.0
    emails_per_s: float = 0.0


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "CLINIC_DATABASE_URL": url, "CLINIC_ENV": "development"}


def _demo_load(url: str, args: argparse.Namespace, result: Result) -> None:
    sizes = ["--patients", str(args.patients), "--years", str(args.years)]
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "demo", "load", *sizes]
    command += ["--devices", str(args.devices)]
    if Path("/usr/bin/time").exists():
        command = ["/usr/bin/time", "-v", *command]
    started = time.perf_counter()
    done = subprocess.run(command, env=_env(url), capture_output=True, text=True, check=True)
    result.demo_s = time.perf_counter() - started
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    result.demo_mb = int(peak.group(1)) / 1024 if peak else float("nan")
    found = re.search(r"(\d+) appointments of history", done.stdout)
    result.appointments = int(found.group(1)) if found else 0


def _migrate(url: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        env=_env(url),
        capture_output=True,
        check=True,
    )


def _measure(url: str, rounds: int, result: Result) -> None:
    from sqlalchemy import event, select

    from clinic import clock, create_app
    from clinic.auth import services as auth
    from clinic.courses.models import Course, Protocol
    from clinic.extensions import db
    from clinic.patients.models import Patient

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False})
    with app.app_context():
        desk = auth.user_by_email(DEMO_USER)
        assert desk is not None, "the demo users are missing"
        token = auth.create_token(desk, "benchmark")
        protocol = db.session.scalar(select(Protocol).where(Protocol.code == "10hz-ldlpfc"))
        patients = db.session.scalars(select(Patient.id).order_by(Patient.id.desc()).limit(rounds))
        courses = []
        for patient_id in patients:
            course = Course(
                patient_id=patient_id,
                protocol_id=protocol.id,
                planned_sessions=36,
                prescribed_pct_mt=120,
                status="active",
            )
            db.session.add(course)
            courses.append(course)
        db.session.commit()
        course_ids = [course.id for course in courses]
        start = clock.today() + timedelta(days=7 - clock.today().weekday())
        today = clock.today().isoformat()

    client = app.test_client()
    timings = []
    for index, course_id in enumerate(course_ids):
        body = {"start_date": start.isoformat(), "time": f"{9 + index % 8:02d}:15"}
        began = time.perf_counter()
        response = client.post(
            f"/api/v1/courses/{course_id}/schedule",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        timings.append(time.perf_counter() - began)
        assert response.status_code == 201, response.get_data(as_text=True)[:300]
        assert len(response.get_json()["appointments"]) == 36
    result.book_ms = median(timings) * 1000

    page = app.test_client()
    page.post("/login", data={"email": DEMO_USER, "password": DEMO_PASSWORD})
    timings = []
    statements: list[int] = []
    with app.app_context():
        engine = db.engine
    counter = {"n": 0}

    def count(*_args: Any) -> None:
        counter["n"] += 1

    event.listen(engine, "before_cursor_execute", count)
    for _ in range(rounds * 2):
        counter["n"] = 0
        began = time.perf_counter()
        response = page.get(f"/schedule?date={today}")
        timings.append(time.perf_counter() - began)
        statements.append(counter["n"])
        assert response.status_code == 200 and "day-board" in response.get_data(as_text=True)
    event.remove(engine, "before_cursor_execute", count)
    result.board_ms = median(timings) * 1000
    result.board_statements = max(statements)


def _worker_rss(url: str) -> float:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.worker"],
        env=_env(url),
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def _run(backend: str, url: str, args: argparse.Namespace) -> Result:
    result = Result(backend)
    sys.stderr.write(f"[{backend}] migrating and loading the demo ...\n")
    _migrate(url)
    _demo_load(url, args, result)
    sys.stderr.write(f"[{backend}] measuring ...\n")
    _measure(url, args.rounds, result)
    result.worker_mb = _worker_rss(url)
    return result


def _scratch(backend: str, workdir: str) -> tuple[str, Callable[[], None]]:
    """An empty database for one benchmark: (url, drop)."""
    if backend == "sqlite":
        return f"sqlite:///{workdir}/{uuid.uuid4().hex[:8]}.db", lambda: None
    return scratch_postgres_database(os.environ["CLINIC_TEST_DATABASE_URL"], "clinic_bench")


def _bench_backend(backend: str, args: argparse.Namespace) -> Result:
    with tempfile.TemporaryDirectory() as workdir:
        url, drop = _scratch(backend, workdir)
        try:
            result = _run(backend, url, args)
        finally:
            drop()
        sys.stderr.write(f"[{backend}] dispatching {args.reminders} reminders ...\n")
        url, drop = _scratch(backend, workdir)
        try:
            result.emails_per_s = reminders.run(args.reminders, args.batch_size, url)
        finally:
            drop()
    return result


@dataclass(frozen=True)
class Goal:
    label: str
    field: str
    limit: float
    at_least: bool = False

    def met(self, value: float) -> bool:
        return value >= self.limit if self.at_least else value <= self.limit


GOALS = (
    Goal("demo load s", "demo_s", 120.0),
    Goal("demo load peak MB", "demo_mb", 1024.0),
    Goal("book a 36-session course, p50 ms", "book_ms", 100.0),
    Goal("day board, p50 ms", "board_ms", 50.0),
    Goal("board worker RSS MB", "worker_mb", 250.0),
    Goal("reminder emails per second", "emails_per_s", 300.0, at_least=True),
)


def _table(results: list[Result], args: argparse.Namespace) -> str:
    """One markdown table: a row per goal and backend, with the figure and pass/fail."""
    lines = [
        f"Demo: --patients {args.patients} --years {args.years} --devices {args.devices}; "
        f"p50 over {args.rounds} bookings and {args.rounds * 2} board requests; "
        f"{args.reminders} reminder emails to a local aiosmtpd.",
        "",
        "| backend | goal | target | measured | result |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in results:
        for goal in GOALS:
            value = getattr(r, goal.field)
            target = f"{'>=' if goal.at_least else '<='} {goal.limit:g}"
            verdict = "pass" if goal.met(value) else "FAIL"
            lines.append(f"| {r.backend} | {goal.label} | {target} | {value:.1f} | {verdict} |")
        lines.append(
            f"| {r.backend} | (info) appointments of history / board statements "
            f"| | {r.appointments} / {r.board_statements} | |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--reminders", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    args = parser.parse_args()
    backends = [args.backend] if args.backend != "all" else ["sqlite", "postgresql"]
    if not os.environ.get("CLINIC_TEST_DATABASE_URL") and "postgresql" in backends:
        backends.remove("postgresql")
    results = [_bench_backend(backend, args) for backend in backends]
    sys.stdout.write(_table(results, args) + "\n")


if __name__ == "__main__":
    main()
