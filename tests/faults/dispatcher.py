"""A reminder dispatcher for the fault suite: `reminders dispatch` in a loop, in one process.

The same command an operator runs (`flask reminders dispatch`), invoked again and again
inside one process so that four dispatchers do not spend the suite's time importing the
app. A pass that fails (the database is down) is printed and the loop goes on, as the
scheduler's tick does. Bounded by `--seconds`; held while `--pause-file` exists, so a
test can plan a whole batch of reminders before any is claimed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from clinic import create_app

PAUSE_SECONDS = 0.2


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--pause-file", type=Path, help="while this file exists, wait")
    args = parser.parse_args()
    app = create_app()
    runner = app.test_cli_runner()
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        if args.pause_file is not None and args.pause_file.exists():
            time.sleep(PAUSE_SECONDS / 4)
            continue
        # A fresh app context per pass, as `flask` gives each run: its teardown returns the
        # session's connection, whatever the pass did.
        with app.app_context():
            result = runner.invoke(
                args=["reminders", "dispatch", f"--batch-size={args.batch_size}"]
            )
        outcome = result.output.strip() or repr(result.exception)
        sys.stdout.write(f"{time.time():.3f} pid={os.getpid()} {outcome}\n")
        sys.stdout.flush()
        time.sleep(PAUSE_SECONDS)


if __name__ == "__main__":
    main()
