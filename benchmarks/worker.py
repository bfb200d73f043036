"""A web worker serving the day board: prints its peak RSS in MB (the database is
CLINIC_DATABASE_URL, already loaded with demo data)."""

from __future__ import annotations

import resource
import sys
from datetime import date

from clinic import clock, create_app

REQUESTS = 50


def main() -> None:
    app = create_app({"WTF_CSRF_ENABLED": False})
    client = app.test_client()
    client.post("/login", data={"email": "desk@demo.clinic.org", "password": "demo-password-1"})
    for offset in range(REQUESTS):
        day = clock.today().toordinal() - REQUESTS // 2 + offset

        response = client.get(f"/schedule?date={date.fromordinal(day).isoformat()}")
        assert response.status_code == 200
        response = client.get(f"/schedule/week?date={date.fromordinal(day).isoformat()}")
        assert response.status_code == 200
    sys.stdout.write(f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}\n")


if __name__ == "__main__":
    main()
