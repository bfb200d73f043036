"""`make bench` runs outside the suite; its seeding code builds rows and messages through
the app's own functions, so it is run here small, lest a change of theirs leave the
benchmark broken until someone measures."""

from __future__ import annotations

from benchmarks import reminders


def test_the_dispatch_benchmark_seeds_and_delivers_every_message() -> None:
    rate = reminders.run(count=20, batch_size=10)
    assert rate > 0
