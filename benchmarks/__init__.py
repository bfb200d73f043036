"""Performance goals, each a ratio against a bare-stack baseline measured in the same run.

`python -m benchmarks` (or `make bench`) builds a database per backend (SQLite always,
PostgreSQL when CLINIC_TEST_DATABASE_URL is set), loads demo data of the asked size, and
prints a markdown table: the app against the bare stack (`benchmarks.bare`) for the day
board, the week view and the appointments API; booking against the bare insert; reminder
dispatch against raw smtplib; list and report pages in absolute milliseconds.
"""
