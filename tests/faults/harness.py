"""The pieces of a small clinic in real processes, each of which a test may break.

A private PostgreSQL cluster (initdb/pg_ctl in a temporary directory, so a test may stop
and restart it), app servers (gunicorn, `gunicorn wsgi:app`), reminder dispatchers (the
`reminders dispatch` command in a loop), and an SMTP sink (aiosmtpd in its own process,
so it can be stopped and started again) that records every message it accepts. Every
process listens on loopback only, every wait is bounded, and `Processes.stop_all` kills
whatever a test started.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import PROJECT_ROOT


def _postgres_programs() -> Path:
    """Debian's server programs, newest version first (CI installs whichever is current)."""
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: int(p.parent.name), reverse=True
    )
    return versions[0] if versions else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _postgres_programs()
PG_USER = "postgres"
ADMIN_EMAIL = "fault-admin@tms-clinic.org"
ADMIN_PASSWORD = "fault-suite-password-1"
SECRET_KEY = "fault-suite-secret-key-0123456789abcdef"
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(check: Callable[[], bool], *, seconds: float, what: str, step: float = 0.1) -> None:
    """Poll `check` until it is true; fail the test naming `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


# ------------------------------------------------------------------------------ processes


@dataclass
class Process:
    """One child process in its own session (so its whole group can be signalled)."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signum)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Processes:
    """Starts children with logs in `workdir`; `stop_all` is every fixture's finalizer."""

    workdir: Path
    started: list[Process] = field(default_factory=list)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> Process:
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                argv,
                cwd=PROJECT_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        process = Process(name, popen, log)
        self.started.append(process)
        return process

    def stop_all(self) -> None:
        """SIGKILL to every process group: nothing of a test's clinic needs a clean exit."""
        for process in self.started:
            process.signal(signal.SIGKILL)
        for process in self.started:
            process.popen.wait(timeout=10)
        self.started.clear()


def app_environment(database_url: str, timezone: str, **extra: str) -> dict[str, str]:
    """What every app, dispatcher and command process of the clinic gets."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CLINIC_", "PYTEST_", "COV_"))
    }
    env.update(
        {
            "PYTHONPATH": str(PROJECT_ROOT),
            "CLINIC_ENV": "production",
            "CLINIC_SECRET_KEY": SECRET_KEY,
            "CLINIC_DATABASE_URL": database_url,
            "CLINIC_TIMEZONE": timezone,
            "CLINIC_BASE_URL": "http://127.0.0.1",
        }
    )
    env.update(extra)
    return env


# Several `flask` commands in one process: each import of the app costs seconds.
_RUN_COMMANDS = """
import json, sys
from wsgi import app
outputs = []
for args in json.loads(sys.argv[1]):
    with app.app_context():
        result = app.test_cli_runner().invoke(args=args)
    if result.exit_code != 0:
        sys.exit(f"flask {' '.join(args)} failed: {result.output} {result.exception!r}")
    outputs.append(result.stdout)
print(json.dumps(outputs))
"""


def run_flask(env: dict[str, str], *commands: list[str], timeout: float = 120) -> list[str]:
    """Run `flask` commands to completion, in order, in one process; each one's output."""
    result = subprocess.run(
        [sys.executable, "-c", _RUN_COMMANDS, json.dumps(commands)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"flask commands failed:\n{result.stderr[-3000:]}")
    outputs: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return outputs


# ----------------------------------------------------------------------------- PostgreSQL


class PrivatePostgres:
    """A PostgreSQL cluster of our own (trust authentication, loopback, its socket in its
    own directory), owned by the `postgres` system user when we are root."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.data = workdir / "data"
        self.log = workdir / "postgres.log"
        self.port = free_port()
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(workdir, user=PG_USER)
        self._as_postgres(
            PG_BIN / "initdb",
            f"--pgdata={self.data}",
            "--auth=trust",
            f"--username={PG_USER}",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
        )

    def _as_postgres(self, program: Path, *args: str, timeout: float = 60) -> None:
        # initdb refuses to run as root: as root, run the cluster as the `postgres` user.
        prefix = ["runuser", "-u", PG_USER, "--"] if self.as_root else []
        result = subprocess.run(
            [*prefix, str(program), *args],
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"{program.name} failed: {result.stderr[-2000:]}")

    def start(self) -> None:
        # fsync off: a test cluster needs no durability across a power cut, only speed.
        options = (
            f"-p {self.port} -k {self.workdir} -c listen_addresses=127.0.0.1 "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=200"
        )
        self._as_postgres(
            PG_BIN / "pg_ctl",
            f"--pgdata={self.data}",
            f"--log={self.log}",
            "--wait",
            "--timeout=60",
            f"--options={options}",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """`fast` disconnects every client at once, as an outage or a failover would."""
        self._as_postgres(
            PG_BIN / "pg_ctl", f"--pgdata={self.data}", f"--mode={mode}", "--wait", "stop"
        )

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{PG_USER}@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user=PG_USER, dbname=database, autocommit=True
        ) as connection:
            cursor = connection.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def clone(self, template: str, name: str) -> str:
        self.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)

    def destroy(self) -> None:
        if self.running():
            self.stop("immediate")


# --------------------------------------------------------------------------- SMTP sink


class SmtpSink:
    """`python -m tests.faults.sink` on a fixed port: stop() is "the mail server is down",
    start() brings it back on the same port. Each accepted message is one JSON line."""

    def __init__(self, processes: Processes, delay_ms: int = 0) -> None:
        self.processes = processes
        self.port = free_port()
        self.record = processes.workdir / "sink.jsonl"
        self.delay_ms = delay_ms
        self.process: Process | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        argv = [
            sys.executable,
            "-m",
            "tests.faults.sink",
            f"--port={self.port}",
            f"--record={self.record}",
            f"--delay-ms={self.delay_ms}",
        ]
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        self.process = self.processes.start("sink", argv, env)
        wait_until(self._answers, seconds=20, what="the SMTP sink")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                return sock.recv(64).startswith(b"220")
        except OSError:
            return False

    def stop(self) -> None:
        """Killed, not shut down: clients see their connection drop mid-conversation."""
        if self.process is not None:
            self.process.signal(signal.SIGKILL)
            self.process.popen.wait(timeout=10)
            self.process = None

    def restart(self, delay_ms: int) -> None:
        self.stop()
        self.delay_ms = delay_ms
        self.start()

    def messages(self) -> list[dict[str, Any]]:
        if not self.record.exists():
            return []
        lines = self.record.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]


# ---------------------------------------------------------------------------- the clinic


def start_app_server(processes: Processes, env: dict[str, str], name: str) -> str:
    """gunicorn with two workers; its base URL once /api/v1/health answers."""
    port = free_port()
    processes.start(
        name,
        [
            sys.executable,
            "-m",
            "gunicorn",
            "wsgi:app",
            f"--bind=127.0.0.1:{port}",
            "--workers=2",
            "--timeout=60",
            "--graceful-timeout=5",
            "--preload",  # the app imported once, then forked: the servers start sooner
            f"--access-logfile={processes.workdir / (name + '.access.log')}",
        ],
        env,
    )
    base = f"http://127.0.0.1:{port}"
    wait_until(lambda: _status(f"{base}/api/v1/health") == 200, seconds=60, what=name)
    return base


def start_dispatcher(
    processes: Processes,
    env: dict[str, str],
    name: str,
    *,
    batch_size: int,
    seconds: float,
    pause_file: Path,
) -> Process:
    argv = [
        sys.executable,
        "-m",
        "tests.faults.dispatcher",
        f"--batch-size={batch_size}",
        f"--seconds={seconds}",
        f"--pause-file={pause_file}",
    ]
    return processes.start(name, argv, env)


def _status(url: str) -> int | None:
    try:
        with OPENER.open(url, timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


@dataclass
class Answer:
    status: int  # 0: no answer at all (connection refused or reset)
    body: dict[str, Any]
    at: float


class LiveApi:
    """The JSON API over real HTTP with a bearer token, round-robin over app servers;
    it remembers every status it saw, for the "no 5xx" assertions."""

    def __init__(self, bases: list[str], token: str) -> None:
        self.bases = bases
        self.token = token
        self.answers: list[Answer] = []
        self._next = 0

    def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Answer:
        base = self.bases[self._next % len(self.bases)]
        self._next += 1
        request = urllib.request.Request(
            f"{base}/api/v1{path}",
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            method=method,
        )
        try:
            with OPENER.open(request, timeout=30) as response:
                answer = Answer(int(response.status), json.loads(response.read() or b"{}"), 0)
        except urllib.error.HTTPError as error:
            raw = error.read()
            try:
                parsed = json.loads(raw or b"{}")
            except ValueError:
                parsed = {"raw": raw[:500].decode(errors="replace")}
            answer = Answer(error.code, parsed, 0)
        except OSError as error:
            answer = Answer(0, {"error": str(error)}, 0)
        answer.at = time.time()
        self.answers.append(answer)
        return answer

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        answer = self.call(method, path, body)
        assert 200 <= answer.status < 300, (method, path, answer.status, answer.body)
        return answer.body

    def statuses(self) -> Iterator[int]:
        return (answer.status for answer in self.answers)
