"""Serving the app with gunicorn and loading it with wrk: the two processes a ratio is
measured in. wrk (Debian's package, installed by `make bench`) is a C load generator, so
the client costs the two-core machine little next to the server it measures."""

from __future__ import annotations

import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
WRK = "/usr/bin/wrk"
_LATENCY = re.compile(r"^\s+50%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_ERRORS = re.compile(r"Non-2xx or 3xx responses: (\d+)")
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def gunicorn(database_url: str, workers: int) -> Iterator[str]:
    """The app and the bare baseline served by `workers` sync workers; yields the base URL."""
    port = free_port()
    env = {**os.environ, "CLINIC_DATABASE_URL": database_url, "CLINIC_ENV": "development"}
    command = [
        sys.executable, "-m", "gunicorn", "benchmarks.server:app",
        "--workers", str(workers), "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/v1/health", timeout=5):
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("gunicorn did not start") from None
                time.sleep(0.3)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def session_cookie(base: str, email: str, password: str) -> str:
    """Sign in as a demo user; the Cookie header a browser would then send."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    body = urllib.parse.urlencode({"email": email, "password": password}).encode()
    opener.open(f"{base}/login", data=body, timeout=30).read()
    cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in jar)
    if "session=" not in cookies:
        raise SystemExit(f"could not sign in as {email}")
    return cookies


@dataclass(frozen=True)
class Load:
    p50_ms: float
    per_second: float


def wrk(url: str, *, connections: int, seconds: float, headers: dict[str, str]) -> Load:
    """wrk's median latency and throughput; any non-2xx/3xx answer stops the benchmark
    (a fast error page must never pass for a fast page)."""
    command = [WRK, "--latency", "-t", str(min(connections, 2)), "-c", str(connections),
               "-d", f"{seconds:g}s"]  # fmt: skip
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run(
        [*command, url], capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout
    errors = _ERRORS.search(output)
    if errors:
        raise SystemExit(f"{url} answered {errors.group(1)} errors under load:\n{output}")
    latency, rate = _LATENCY.search(output), _RATE.search(output)
    if latency is None or rate is None:
        raise SystemExit(f"cannot read wrk's output:\n{output}")
    return Load(float(latency.group(1)) * _UNIT_MS[latency.group(2)], float(rate.group(1)))
