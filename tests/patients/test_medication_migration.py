"""Migration 0009 keeps what the clinic had: running trials become current medications,
old answers were administered when they were entered."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from clinic.extensions import db

BEFORE = "0009_ops_indexes"


def test_running_trials_become_current_medications(app: Any) -> None:
    db.session.remove()
    downgrade(revision=BEFORE)
    today = date.today()
    with db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO patients (id, mrn, first_name, last_name, date_of_birth, "
                "preferred_channel, sms_consent, email_consent, created_at, updated_at) "
                "VALUES (1, '10000001', 'Ana', 'Ruiz', '1970-01-02', 'none', false, false, "
                "'2025-01-01 09:00:00', '2025-01-01 09:00:00')"
            )
        )
        trials = [
            ("sertraline", "SSRI", "150 mg daily", None),  # running: copied
            ("oxycodone", None, "5 mg tid", (today + timedelta(days=30)).isoformat()),  # too
            ("Clonazepam", "benzo", "twice a day", None),  # dose unreadable: left empty
            ("fluoxetine", "SSRI", "40 mg", "2019-03-01"),  # ended: history only
        ]
        for drug, drug_class, dose, stop in trials:
            connection.execute(
                text(
                    "INSERT INTO medication_trials (patient_id, drug, drug_class, dose, "
                    "start_date, stop_date, created_at) VALUES (1, :drug, :class, :dose, "
                    "'2018-06-01', :stop, '2025-01-01 09:00:00')"
                ),
                {"drug": drug, "class": drug_class, "dose": dose, "stop": stop},
            )
        connection.execute(
            text(
                "INSERT INTO questionnaire_responses (patient_id, instrument, answers, score, "
                "flags, source, answered_at) VALUES (1, 'PHQ-9', '[1,1,1,1,1,1,1,1,0]', 8, "
                "'[]', 'staff', '2025-02-03 14:00:00')"
            )
        )
    upgrade()
    with db.engine.connect() as connection:
        copied = connection.execute(
            text(
                "SELECT drug, category, dose_mg, doses_per_day, started_on FROM medications "
                "ORDER BY id"
            )
        ).all()
        administered = connection.execute(
            text("SELECT administered_at = answered_at FROM questionnaire_responses")
        ).scalar()
    assert [(d, c, mg, n) for d, c, mg, n, _start in copied] == [
        ("sertraline", "antidepressant", 150.0, 1.0),
        ("oxycodone", "opioid", 5.0, 3.0),
        ("Clonazepam", "benzodiazepine", None, 2.0),
    ]
    assert str(copied[0][4]) == "2018-06-01"
    assert administered
