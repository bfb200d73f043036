"""Performance goals of the scheduling issue, measured on a large demo database.

`python -m benchmarks` (or `make bench`) builds a database per backend (SQLite always,
PostgreSQL when CLINIC_TEST_DATABASE_URL is set), loads `demo load --patients 5000
--years 5 --devices 10`, then measures booking a 36-session course, the day board and
the memory of a worker serving it, and prints a markdown table.
"""
