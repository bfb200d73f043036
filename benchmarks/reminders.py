"""Benchmark: dispatch 10,000 due email reminders to a local aiosmtpd server, against
the bare baseline of raw smtplib sending as many messages of the same size over one
connection to the same server. The app dispatches as configured: CLINIC_DISPATCH_WORKERS
workers (by default as many as its database gets).

    python -m benchmarks.reminders [--count 10000] [--batch-size 500]

Builds a fresh migrated database (SQLite in a temporary directory, or the database named
by CLINIC_BENCH_DATABASE_URL), inserts the appointments and their due reminder rows in
bulk, then times `dispatch_all` - claim, re-check, send over one SMTP connection per
batch, mark, in each worker - until every row is sent. The goal is at least 0.7x raw smtplib.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import smtplib
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

GOAL_RATIO = 0.7


class CountingHandler:
    def __init__(self, counter: Any) -> None:
        self.counter = counter

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.counter.get_lock():
            self.counter.value += 1
        return "250 OK"


def _serve_smtp(port: int, counter: Any, ready: Any, stop: Any) -> None:
    """The mail server in its own process, as in production: it does not share our GIL."""
    from aiosmtpd.controller import Controller

    controller = Controller(CountingHandler(counter), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def smtp_sink() -> Iterator[tuple[int, Any]]:
    """A counting aiosmtpd server in its own process: (port, received counter)."""
    port = _free_port()
    counter = multiprocessing.Value("i", 0)
    ready, stop = multiprocessing.Event(), multiprocessing.Event()
    server = multiprocessing.Process(target=_serve_smtp, args=(port, counter, ready, stop))
    server.start()
    ready.wait(timeout=30)
    try:
        yield port, counter
    finally:
        stop.set()
        server.join(timeout=30)


def raw_rate(count: int, message_bytes: int = 2500) -> float:
    """The baseline: `count` messages of about a reminder's size through raw smtplib over
    one connection (Nagle off, as the app's sender), messages per second."""
    line = b"x" * 76 + b"\r\n"
    body = (
        b"From: clinic@localhost\r\nTo: bench@example.org\r\nSubject: Reminder\r\n\r\n"
        + line * (message_bytes // len(line))
    )
    with smtp_sink() as (port, counter):
        connection = smtplib.SMTP("127.0.0.1", port, timeout=30)
        if connection.sock is not None:
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.perf_counter()
        for _ in range(count):
            connection.sendmail("clinic@localhost", ["bench@example.org"], body)
        elapsed = time.perf_counter() - started
        connection.quit()
    if counter.value != count:
        raise SystemExit(f"raw smtplib: {counter.value} of {count} messages arrived")
    return count / elapsed


def _seed(count: int) -> None:
    """`count` patients, each with one appointment tomorrow and its email reminder due now."""
    from flask import current_app
    from sqlalchemy import insert, select

    from clinic import clock
    from clinic.courses.models import Course, Protocol
    from clinic.extensions import db
    from clinic.patients.models import Patient
    from clinic.reminders import messages
    from clinic.reminders.message_templates import SAMPLE_VALUES, get_template
    from clinic.reminders.models import MessageKind, Reminder
    from clinic.reminders.planning import calendar_uid
    from clinic.scheduling.models import Appointment, Device

    now = clock.now()
    protocol = db.session.scalar(select(Protocol).order_by(Protocol.id).limit(1))
    assert protocol is not None, "protocol presets missing"
    device_ids = [
        db.session.execute(
            insert(Device).values(name=f"Bench chair {n}", active=True)
        ).inserted_primary_key[0]
        for n in range(count // 1000 + 1)
    ]
    db.session.execute(
        insert(Patient),
        [
            {
                "mrn": f"B{n:08d}",
                "first_name": "Bench",
                "last_name": f"Patient{n}",
                "date_of_birth": date(1980, 1, 1),
                "email": f"bench{n}@example.org",
                "email_consent": True,
                "sms_consent": False,
                "preferred_channel": "email",
                "created_at": now,
                "updated_at": now,
            }
            for n in range(count)
        ],
    )
    patient_ids = list(db.session.scalars(select(Patient.id).order_by(Patient.id)))
    db.session.execute(
        insert(Course),
        [
            {
                "patient_id": pid,
                "protocol_id": protocol.id,
                "status": "active",
                "planned_sessions": 36,
                "prescribed_pct_mt": 120,
                "created_at": now,
            }
            for pid in patient_ids
        ],
    )
    course_ids = list(db.session.scalars(select(Course.id).order_by(Course.id)))
    slot = timedelta(minutes=protocol.slot_minutes + 5)
    first = now + timedelta(days=1)
    db.session.execute(
        insert(Appointment),
        [
            {
                "course_id": cid,
                "patient_id": pid,
                "device_id": device_ids[n // 1000],
                "starts_at": first + slot * (n % 1000),
                "ends_at": first + slot * (n % 1000) + timedelta(minutes=protocol.slot_minutes),
                "kind": "treatment",
                "status": "scheduled",
                "sequence": 1,
                "is_makeup": False,
                "revision": 0,
                "created_at": now,
                "updated_at": now,
            }
            for n, (cid, pid) in enumerate(zip(course_ids, patient_ids, strict=True))
        ],
    )
    appointments = db.session.execute(
        select(Appointment.id, Appointment.patient_id, Appointment.starts_at).order_by(
            Appointment.id
        )
    ).all()
    template = get_template(MessageKind.APPOINTMENT_REMINDER, "email")
    sample = messages.render(
        template.subject,
        template.body,
        {**SAMPLE_VALUES, "clinic_name": current_app.config["CLINIC_NAME"]},
        "email",
    ).as_payload()
    db.session.execute(
        insert(Reminder),
        [
            {
                "kind": MessageKind.APPOINTMENT_REMINDER,
                "channel": "email",
                "status": "pending",
                "appointment_id": aid,
                "appointment_starts_at": starts_at,
                "patient_id": pid,
                "recipient": f"bench{n}@example.org",
                "due_at": now,
                "next_attempt_at": now,
                "attempts": 0,
                "payload": {
                    **sample,
                    "ics": messages.appointment_calendar(
                        uid=calendar_uid(aid),
                        sequence=0,
                        starts_at=starts_at,
                        ends_at=starts_at + timedelta(minutes=protocol.slot_minutes),
                        clinic_name=current_app.config["CLINIC_NAME"],
                        organizer_email=current_app.config["CLINIC_EMAIL_FROM"],
                        stamp=now,
                        summary=messages.calendar_summary(current_app.config["CLINIC_NAME"]),
                    ),
                },
                "created_at": now,
                "updated_at": now,
            }
            for n, (aid, pid, starts_at) in enumerate(appointments)
        ],
    )
    db.session.commit()


def run(count: int, batch_size: int, url: str | None = None) -> float:
    """Seed, dispatch, and return messages per second (raises if any message is missing).
    `url` names an empty database to migrate (default: CLINIC_BENCH_DATABASE_URL, else a
    temporary SQLite file)."""
    from flask_migrate import upgrade

    from clinic import clock, create_app
    from clinic.extensions import db
    from clinic.reminders.dispatch import dispatch_all, dispatch_workers

    with smtp_sink() as (port, counter), tempfile.TemporaryDirectory() as workdir:
        url = (
            url
            or os.environ.get("CLINIC_BENCH_DATABASE_URL")
            or f"sqlite:///{Path(workdir) / 'bench.db'}"
        )
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": url,
                "CLINIC_EMAIL_BACKEND": "smtp",
                "CLINIC_SMTP_URL": f"smtp://127.0.0.1:{port}",
                "CLINIC_NAME": "Benchmark Clinic",
            }
        )
        with app.app_context():
            upgrade()
            started = time.perf_counter()
            _seed(count)
            sys.stderr.write(
                f"seeded {count} due reminders in {time.perf_counter() - started:.1f} s\n"
            )
            workers = dispatch_workers()
            started, cpu_started = time.perf_counter(), time.process_time()
            counts = dispatch_all(clock.now().astimezone(UTC), batch_size)
            elapsed = time.perf_counter() - started
            cpu = time.process_time() - cpu_started
            db.session.remove()
            db.engine.dispose()
    if counts.sent != count or counter.value != count:
        raise SystemExit(f"expected {count} sent, got {counts.as_dict()}, {counter.value} received")
    rate = count / elapsed
    sys.stderr.write(
        f"reminders: dispatched {count} email reminders in {elapsed:.1f} s = {rate:.0f} per second "
        f"(batch size {batch_size}, {workers} workers; dispatcher CPU "
        f"{cpu * 1000 / count:.2f} ms a message)\n"
    )
    return rate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args(argv)
    os.environ.setdefault("CLINIC_ENV", "testing")
    before = raw_rate(args.count)
    rate = run(args.count, args.batch_size)
    after = raw_rate(args.count)
    ratio = rate / ((before + after) / 2)
    sys.stderr.write(f"raw smtplib {before:.0f}/s and {after:.0f}/s: ratio {ratio:.2f}\n")
    return 0 if ratio >= GOAL_RATIO else 1


if __name__ == "__main__":
    raise SystemExit(main())
