"""`make bench`: every performance goal as a ratio against a bare-stack baseline measured
in the same run, interleaved, plus absolute times and the machine they came from.

    python -m benchmarks [--patients N] [--years Y] [--devices D] [--sites S]
                         [--backend sqlite|postgresql|all] [--seconds T] [--rounds R]

Per database: a scratch database, migrated and loaded with `demo load` of that size; the
app and the bare baseline (`benchmarks.bare`) served by one gunicorn with two workers and
loaded by wrk, app and baseline alternating round by round; booking and reminder
dispatch measured in process against their lower bounds (`benchmarks.booking`,
`benchmarks.reminders`). A shared, noisy machine slows app and baseline alike, so the
ratios hold where absolute times do not.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from statistics import median

from benchmarks import booking, reminders
from benchmarks.load import Load, gunicorn, session_cookie, wrk
from clinic.db import scratch_postgres_database

DEMO_PASSWORD = "demo-password-1"
DESK = "desk@demo.clinic.org"
ADMIN = "admin@demo.clinic.org"


@dataclass
class Row:
    """One line of the table: a goal, what was measured, and whether it was met."""

    backend: str
    goal: str
    target: str
    app: str
    baseline: str
    figure: float
    met: bool


@dataclass
class Run:
    backend: str
    rows: list[Row] = field(default_factory=list)
    info: list[str] = field(default_factory=list)

    def ratio(self, goal: str, limit: float, app: float, bare: float, unit: str = "ms") -> None:
        figure = app / bare
        self.rows.append(
            Row(
                self.backend,
                goal,
                f"<= {limit:g}x",
                f"{app:.1f} {unit}",
                f"{bare:.1f} {unit}",
                figure,
                figure <= limit,
            )
        )

    def at_least(self, goal: str, limit: float, app: float, bare: float, unit: str) -> None:
        figure = app / bare
        self.rows.append(
            Row(
                self.backend,
                goal,
                f">= {limit:g}x",
                f"{app:.0f} {unit}",
                f"{bare:.0f} {unit}",
                figure,
                figure >= limit,
            )
        )

    def absolute(self, goal: str, limit_ms: float, value_ms: float) -> None:
        self.rows.append(
            Row(
                self.backend,
                goal,
                f"<= {limit_ms:g} ms",
                f"{value_ms:.1f} ms",
                "",
                value_ms,
                value_ms <= limit_ms,
            )
        )


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "CLINIC_DATABASE_URL": url, "CLINIC_ENV": "development"}


def _flask(url: str, *args: str) -> str:
    command = [sys.executable, "-m", "flask", "--app", "wsgi", *args]
    return subprocess.run(command, env=_env(url), capture_output=True, text=True, check=True).stdout


def _load_demo(url: str, args: argparse.Namespace, run: Run) -> None:
    _flask(url, "db", "upgrade")
    sizes = ["--patients", str(args.patients), "--years", str(args.years)]
    sizes += ["--devices", str(args.devices)]
    if args.sites > 1:
        sizes += ["--sites", str(args.sites)]
    started = time.perf_counter()
    output = _flask(url, "demo", "load", *sizes)
    found = re.search(r"(\d+) appointments of history", output)
    run.info.append(
        f"demo load {' '.join(sizes)}: {found.group(1) if found else '?'} appointments "
        f"in {time.perf_counter() - started:.0f} s"
    )


def _alternate(
    rounds: int, app: Callable[[], Load], bare: Callable[[], Load]
) -> tuple[float, float]:
    """Median p50 of the app and of the baseline, measured in turn, round after round."""
    apps, bares = [], []
    for _ in range(rounds):
        apps.append(app().p50_ms)
        bares.append(bare().p50_ms)
    return median(apps), median(bares)


def _forget_planner_statistics(url: str) -> None:
    """A freshly loaded database before anything analysed it (PostgreSQL: the statistics
    and size estimates a superuser can clear; SQLite: its stat table)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(
                "DELETE FROM pg_statistic WHERE starelid IN (SELECT oid FROM pg_class "
                "WHERE relnamespace = 'public'::regnamespace)"
            ))  # fmt: skip
            connection.execute(text(
                "UPDATE pg_class SET reltuples = -1, relpages = 0 "
                "WHERE relnamespace = 'public'::regnamespace"
            ))  # fmt: skip
        else:
            connection.execute(text("DELETE FROM sqlite_stat1"))
    engine.dispose()


def _measure_pages(url: str, args: argparse.Namespace, run: Run, today: str) -> None:
    seconds, rounds = args.seconds, args.rounds
    with gunicorn(url, workers=2) as base:
        desk = {"Cookie": session_cookie(base, DESK, DEMO_PASSWORD)}
        admin = {"Cookie": session_cookie(base, ADMIN, DEMO_PASSWORD)}
        token = _flask(url, "users", "token", DESK, "--label", "bench").strip().splitlines()[-1]
        bearer = {"Authorization": f"Bearer {token}"}

        def pair(
            app_path: str, bare_path: str, headers: dict[str, str], conns: int
        ) -> tuple[float, float]:
            return _alternate(
                rounds,
                lambda: wrk(base + app_path, connections=conns, seconds=seconds, headers=headers),
                lambda: wrk(base + bare_path, connections=conns, seconds=seconds, headers={}),
            )

        for conns in (4, 16):
            app, bare = pair(f"/schedule?date={today}", f"/bare/board?date={today}", desk, conns)
            run.ratio(f"day board p50, {conns} connections", 1.5, app, bare)
        app, bare = pair(f"/schedule/week?date={today}", f"/bare/week?date={today}", desk, 4)
        run.ratio("week view p50, 4 connections", 1.5, app, bare)
        app, bare = pair(
            f"/api/v1/appointments?date={today}", f"/bare/appointments?date={today}", bearer, 4
        )
        run.ratio("GET /appointments?date= p50", 1.5, app, bare)
        pages = {
            "outcomes report": ("/outcomes", desk),
            "audit list": ("/admin/audit/", admin),
            "audit list, filtered by action": ("/admin/audit/?action=view", admin),
            "alerts list": ("/alerts", desk),
            "patient search": ("/patients/?q=ri", desk),
            "reminders list": ("/reminders", desk),
        }
        for label, (path, headers) in pages.items():
            load = wrk(base + path, connections=4, seconds=seconds, headers=headers)
            run.absolute(f"{label} p50", 100, load.p50_ms)

    _forget_planner_statistics(url)
    with gunicorn(url, workers=2) as base:
        desk = {"Cookie": session_cookie(base, DESK, DEMO_PASSWORD)}
        app, bare = _alternate(
            rounds,
            lambda: wrk(
                f"{base}/schedule?date={today}", connections=4, seconds=seconds, headers=desk
            ),
            lambda: wrk(
                f"{base}/bare/board?date={today}", connections=4, seconds=seconds, headers={}
            ),
        )
        run.ratio("day board p50, no planner statistics", 1.5, app, bare)
    _flask(url, "db", "upgrade")  # ends with ANALYZE: statistics back for what follows


def _measure_sqlite_workers(url: str, args: argparse.Namespace, run: Run, today: str) -> None:
    """Reads never take SQLite's write lock, so a second worker serves more."""
    rates: dict[int, list[float]] = {1: [], 2: []}
    for _ in range(args.rounds):
        for workers in (1, 2):
            with gunicorn(url, workers=workers) as base:
                desk = {"Cookie": session_cookie(base, DESK, DEMO_PASSWORD)}
                load = wrk(f"{base}/schedule?date={today}", connections=4, seconds=args.seconds,
                           headers=desk)  # fmt: skip
                rates[workers].append(load.per_second)
    run.at_least("day board throughput, 2 workers vs 1", 1.6, median(rates[2]), median(rates[1]),
                 "req/s")  # fmt: skip


def _measure_booking(url: str, args: argparse.Namespace, run: Run) -> None:
    from clinic import create_app
    from clinic.auth import services as auth
    from clinic.extensions import db

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "WTF_CSRF_ENABLED": False})
    with app.app_context():
        desk = auth.user_by_email(DESK)
        assert desk is not None, "the demo users are missing"
        token = auth.create_token(desk, "benchmark booking")
        db.session.commit()
    api_ms, bare_ms = booking.measure(app, token, args.rounds * 5)
    run.ratio("book a 36-session course vs bare insert", 3.0, api_ms, bare_ms)
    with app.app_context():
        db.engine.dispose()


def _measure_reminders(url_factory: Callable[[], tuple[str, Callable[[], None]]],
                       args: argparse.Namespace, run: Run) -> None:  # fmt: skip
    raw = [reminders.raw_rate(args.reminders)]
    url, drop = url_factory()
    try:
        app = reminders.run(args.reminders, args.batch_size, url)
    finally:
        drop()
    raw.append(reminders.raw_rate(args.reminders))
    run.at_least("reminder emails/s vs raw smtplib", 0.7, app, sum(raw) / len(raw), "/s")


def _scratch(backend: str, workdir: str) -> tuple[str, Callable[[], None]]:
    """An empty database for one benchmark: (url, drop)."""
    if backend == "sqlite":
        return f"sqlite:///{workdir}/{uuid.uuid4().hex[:8]}.db", lambda: None
    return scratch_postgres_database(os.environ["CLINIC_TEST_DATABASE_URL"], "clinic_bench")


def _bench(backend: str, args: argparse.Namespace) -> Run:
    from clinic import clock

    run = Run(backend)
    today = clock.today().isoformat()
    with tempfile.TemporaryDirectory() as workdir:
        url, drop = _scratch(backend, workdir)
        try:
            sys.stderr.write(f"[{backend}] loading the demo ...\n")
            _load_demo(url, args, run)
            sys.stderr.write(f"[{backend}] pages against the bare stack ...\n")
            _measure_pages(url, args, run, today)
            if backend == "sqlite":
                sys.stderr.write(f"[{backend}] one worker against two ...\n")
                _measure_sqlite_workers(url, args, run, today)
            sys.stderr.write(f"[{backend}] booking against the bare insert ...\n")
            _measure_booking(url, args, run)
        finally:
            drop()
        sys.stderr.write(f"[{backend}] reminder dispatch against raw smtplib ...\n")
        _measure_reminders(lambda: _scratch(backend, workdir), args, run)
    return run


def _machine() -> str:
    load = os.getloadavg()
    return (
        f"{platform.node()}: {os.cpu_count()} cores, {platform.machine()}, "
        f"Python {platform.python_version()}, load average {load[0]:.1f} at the end"
    )


def _table(runs: list[Run], args: argparse.Namespace) -> str:
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M %Z')} on {_machine()}.",
        f"wrk: {args.rounds} alternating rounds of {args.seconds:g} s per figure; "
        "gunicorn with 2 sync workers serving the app and the baseline.",
        *(f"- {run.backend}: {line}" for run in runs for line in run.info),
        "",
        "| backend | goal | target | app | bare stack | figure | result |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        for row in run.rows:
            figure = f"{row.figure:.2f}x" if row.baseline else row.app
            verdict = "pass" if row.met else "FAIL"
            lines.append(f"| {row.backend} | {row.goal} | {row.target} | {row.app} | "
                         f"{row.baseline} | {figure} | {verdict} |")  # fmt: skip
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument("--sites", type=int, default=1)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reminders", type=int, default=5000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "all"), default="all")
    args = parser.parse_args()
    backends = [args.backend] if args.backend != "all" else ["sqlite", "postgresql"]
    if not os.environ.get("CLINIC_TEST_DATABASE_URL") and "postgresql" in backends:
        sys.stderr.write("CLINIC_TEST_DATABASE_URL is not set: PostgreSQL is not measured\n")
        backends.remove("postgresql")
    runs = [_bench(backend, args) for backend in backends]
    sys.stdout.write(_table(runs, args) + "\n")
    return 0 if all(row.met for run in runs for row in run.rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
