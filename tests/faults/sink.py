"""The fault suite's SMTP sink: `python -m tests.faults.sink --port P --record FILE`.

A process of its own so a test can kill it ("the mail server is down") and start it again.
Each accepted message becomes one JSON line, written before the 250 answer: what the
dispatcher was told was delivered is on disk. The appointment a reminder concerns comes
from its calendar attachment (UID `appointment-<id>@host`, DTSTART in UTC).
"""

from __future__ import annotations

import argparse
import asyncio
import email
import email.policy
import json
import re
import threading
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

APPOINTMENT_UID = re.compile(r"^UID:appointment-(\d+)@", re.MULTILINE)
DTSTART = re.compile(r"^DTSTART[^:]*:(\d{8}T\d{6}Z?)", re.MULTILINE)


def describe(raw: bytes) -> dict[str, Any]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    calendar = ""
    for part in message.walk():
        if part.get_content_type() == "text/calendar":
            calendar = part.get_content()
    uid = APPOINTMENT_UID.search(calendar)
    start = DTSTART.search(calendar)
    return {
        "message_id": message["Message-ID"],
        "to": message["To"],
        "subject": message["Subject"],
        "reference": message["X-Clinic-Message"],
        "appointment_id": int(uid.group(1)) if uid else None,
        "starts_at": start.group(1) if start else None,
    }


class Recorder:
    def __init__(self, path: str, delay_ms: int) -> None:
        self.path = Path(path)
        self.delay = delay_ms / 1000
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)  # a slow server: batches take a while to send
        entry = {**describe(envelope.content), "received_at": time.time()}
        with self.lock, self.path.open("a") as record:
            record.write(json.dumps(entry) + "\n")
            record.flush()
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--record", required=True)
    parser.add_argument("--delay-ms", type=int, default=0)
    parser.add_argument("--seconds", type=float, default=600, help="exit after this long")
    args = parser.parse_args()
    controller = Controller(
        Recorder(args.record, args.delay_ms), hostname="127.0.0.1", port=args.port
    )
    controller.start()
    try:
        time.sleep(args.seconds)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
