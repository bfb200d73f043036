"""A lost database answers 503 with Retry-After (API, health, pages), never 500, and the
app serves again as soon as the database is back.

The outage is a database URL on a closed port (connection refused), and, for the
recovery, a loopback TCP relay in front of the test's PostgreSQL that the test cuts
(every open connection dropped, new ones refused) and restores.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy.engine import make_url

from clinic import create_app
from clinic.extensions import db
from tests.conftest import PG_URL, _test_config
from tests.factories import make_user


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def unreachable_app() -> Iterator[Flask]:
    url = f"postgresql+psycopg://clinic@127.0.0.1:{_closed_port()}/clinic"
    application = create_app(_test_config(url))
    with application.app_context():
        yield application


def test_the_api_answers_503_unavailable_with_retry_after(unreachable_app: Flask) -> None:
    client = unreachable_app.test_client()
    response = client.get("/api/v1/patients", headers={"Authorization": "Bearer tms_x" * 3})
    assert response.status_code == 503
    assert response.json["error"]["code"] == "unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_health_answers_503_while_the_database_is_down(unreachable_app: Flask) -> None:
    response = unreachable_app.test_client().get("/api/v1/health")
    assert response.status_code == 503
    assert response.json == {"status": "unavailable", "database": "unavailable"}
    assert int(response.headers["Retry-After"]) > 0


def test_a_page_answers_a_friendly_503_page(unreachable_app: Flask) -> None:
    response = unreachable_app.test_client().post(
        "/login", data={"email": "someone@tms-clinic.org", "password": "whatever-it-is"}
    )
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    page = response.get_data(as_text=True)
    assert "Temporarily unavailable" in page and "Traceback" not in page


class Relay:
    """127.0.0.1:<port> forwarded to the database; `cut()` drops every connection and
    refuses new ones, `restore()` accepts again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = _closed_port()
        self.sockets: list[socket.socket] = []
        self.listener: socket.socket | None = None
        self.lock = threading.Lock()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        assert self.listener is not None
        with contextlib.suppress(OSError):  # wakes the blocked accept() (Linux)
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self.sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target, timeout=5)
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)


@pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL (CLINIC_TEST_DATABASE_URL)")
def test_the_app_serves_again_within_a_second_of_the_database_coming_back(
    database_url: str, backend: str
) -> None:
    if backend != "postgresql":
        return  # the relay stands in front of PostgreSQL; SQLite has no server to lose
    url = make_url(database_url)
    relay = Relay((url.host or "127.0.0.1", url.port or 5432))
    relay.restore()
    app: Flask = create_app(
        _test_config(
            url.set(host="127.0.0.1", port=relay.port).render_as_string(hide_password=False)
        )
    )
    client = app.test_client()
    with app.app_context():
        user = make_user("front_desk")
        from clinic.auth import services as auth

        token = auth.create_token(user, "outage")
        db.session.commit()
        db.session.remove()
    headers = {"Authorization": f"Bearer {token}"}
    try:
        assert client.get("/api/v1/me", headers=headers).status_code == 200

        relay.cut()
        answers = [client.get("/api/v1/me", headers=headers) for _ in range(3)]
        assert [a.status_code for a in answers] == [503] * 3
        assert {a.json["error"]["code"] for a in answers} == {"unavailable"}
        assert client.get("/api/v1/health").status_code == 503

        relay.restore()
        back = time.monotonic()
        status = 0
        while time.monotonic() - back < 1 and status != 200:
            status = client.get("/api/v1/me", headers=headers).status_code
        assert status == 200, "still failing a second after the database came back"
    finally:
        relay.cut()
        with app.app_context():
            db.engine.dispose()


def test_a_forked_worker_starts_with_an_empty_pool(app: Flask) -> None:
    """Under `gunicorn --preload` workers are forked from a process that may hold pooled
    connections: a child must open its own, never share its parent's sockets."""
    from sqlalchemy import text

    with db.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    assert db.engine.pool.checkedin() == 1
    pid = os.fork()
    if pid == 0:  # the child: report through the exit code, never return into pytest
        os._exit(0 if db.engine.pool.checkedin() == 0 else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert db.engine.pool.checkedin() == 1  # the parent's connection is untouched
