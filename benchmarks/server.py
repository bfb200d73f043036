"""What `make bench` serves with gunicorn: the app, plus the bare-stack baseline routes
(`benchmarks.bare`) in the same process, so both are measured under the same load."""

from __future__ import annotations

from benchmarks import bare
from clinic import create_app

app = create_app({"WTF_CSRF_ENABLED": False})
app.register_blueprint(bare.bp)
