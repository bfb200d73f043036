"""The WSGI entry point: `gunicorn wsgi:app` (settings in gunicorn.conf.py), `flask --app
wsgi ...`.

faulthandler is on from the first line: a worker that dies of a signal (SIGSEGV, SIGBUS,
SIGABRT) prints every thread's Python stack to stderr, i.e. gunicorn's log, instead of
vanishing with nothing but "was sent SIGSEGV".
"""

import faulthandler

faulthandler.enable()

from clinic import create_app  # noqa: E402  (after faulthandler, to cover the import too)

app = create_app()
