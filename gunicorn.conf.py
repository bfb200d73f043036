"""gunicorn's settings for the clinic, read from the working directory by `gunicorn
wsgi:app` (flags on the command line override them).

No control socket: gunicorn 25.1+ runs it by default as an asyncio thread in the master,
stopped before and restarted after every fork of a worker, at one path shared by every
gunicorn of the same user. Workers forked around that thread are where the reported
SIGSEGVs point; the clinic never uses `gunicornc`, so it is off.
"""

control_socket_disable = True


def child_exit(server: object, worker: object) -> None:
    """With PROMETHEUS_MULTIPROC_DIR set (docs/deploy.md), a dead worker's live gauges
    must stop counting; its counters and histograms stay summed, as they should."""
    import os

    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]
