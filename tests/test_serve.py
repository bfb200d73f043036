"""`make run`'s last step, `flask serve`: the web app and the scheduler process together,
both stopped by one Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from config import PROJECT_ROOT


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _health(port: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/health", timeout=2) as answer:
            return json.loads(answer.read())
    except OSError:
        return None


def test_serve_runs_the_app_and_the_scheduler_and_ctrl_c_stops_both(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "CLINIC_ENV": "testing",
        "CLINIC_DATABASE_URL": f"sqlite:///{tmp_path / 'clinic.db'}",
    }
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run(
        [*flask, "db", "upgrade"], cwd=PROJECT_ROOT, env=env, check=True, capture_output=True
    )
    port = _free_port()
    server = subprocess.Popen(
        [*flask, "serve", "--port", str(port)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline:
            health = _health(port)
            if health and health.get("scheduler", {}).get("status") == "ok":
                break
            time.sleep(0.5)
        assert health is not None and health["status"] == "ok"
        assert health["scheduler"]["status"] == "ok", health  # the scheduler has ticked
        children = subprocess.run(
            ["pgrep", "-P", str(server.pid)], capture_output=True, text=True
        ).stdout.split()
        assert children, "serve started no scheduler process"
    finally:
        os.killpg(server.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's group
        output = server.communicate(timeout=30)[0].decode()
    assert server.returncode is not None, output
    time.sleep(0.5)
    for pid in children:
        assert not Path(f"/proc/{pid}").exists(), "the scheduler outlived Ctrl-C"
