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
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from statistics import median
from typing import Any

from sqlalchemy.engine import make_url

GOALS = {"book_ms": 100.0, "board_ms": 50.0, "worker_mb": 250.0, "demo_s": 120.0, "demo_mb": 1024.0}
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


def _postgres(admin_url: str) -> tuple[str, Any]:
    import psycopg

    url = make_url(admin_url)
    name = f"clinic_bench_{uuid.uuid4().hex[:8]}"

    def admin(sql: str) -> None:
        with psycopg.connect(
            host=url.host or "127.0.0.1",
            port=url.port or 5432,
            user=url.username,
            password=url.password,
            dbname=url.database,
            autocommit=True,
        ) as connection:
            connection.execute(sql)

    admin(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False), lambda: admin(
        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    )


def _table(results: list[Result], args: argparse.Namespace) -> str:
    def mark(value: float, goal: float) -> str:
        return f"{value:.1f} {'ok' if value <= goal else 'OVER'}"

    lines = [
        f"Demo: --patients {args.patients} --years {args.years} --devices {args.devices}; "
        f"p50 over {args.rounds} bookings and {args.rounds * 2} board requests.",
        "",
        "| backend | appointments | demo load s (<= 120) | demo peak MB (< 1024) "
        "| book 36 sessions p50 ms (<= 100) | day board p50 ms (<= 50) "
        "| board statements | board worker RSS MB (< 250) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in results:
        lines.append(
            f"| {r.backend} | {r.appointments} | {mark(r.demo_s, GOALS['demo_s'])} "
            f"| {mark(r.demo_mb, GOALS['demo_mb'])} | {mark(r.book_ms, GOALS['book_ms'])} "
            f"| {mark(r.board_ms, GOALS['board_ms'])} | {r.board_statements} "
            f"| {mark(r.worker_mb, GOALS['worker_mb'])} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    args = parser.parse_args()
    results = []
    if args.backend in ("sqlite", "all"):
        with tempfile.TemporaryDirectory() as workdir:
            results.append(_run("sqlite", f"sqlite:///{workdir}/bench.db", args))
    pg = os.environ.get("CLINIC_TEST_DATABASE_URL")
    if args.backend in ("postgresql", "all") and pg:
        url, drop = _postgres(pg)
        try:
            results.append(_run("postgresql", url, args))
        finally:
            drop()
    sys.stdout.write(_table(results, args) + "\n")


if __name__ == "__main__":
    main()
