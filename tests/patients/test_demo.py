"""The demo step: a varied small clinic, or many patients fast by bulk insert."""

from __future__ import annotations

import random
import time
from typing import Any

from sqlalchemy import func, select

from clinic.demo import DemoContext, load
from clinic.demo.patients import load_patients
from clinic.extensions import db
from clinic.patients.models import Diagnosis, Patient, Screening


def results() -> dict[str, int]:
    rows = db.session.execute(select(Screening.result, func.count()).group_by(Screening.result))
    return dict(rows.all())


def test_small_demo_is_varied(app: Any) -> None:
    lines = load()
    db.session.commit()
    assert "Patients: 30" in lines
    assert db.session.scalar(select(func.count()).select_from(Patient)) == 30
    counts = results()
    assert counts["review"] == 1 and counts["contraindicated"] == 1 and counts["clear"] >= 20
    codes = set(db.session.scalars(select(Diagnosis.code)))
    assert any(c.startswith(("F32", "F33")) for c in codes)
    assert any(c.startswith(("G89", "M79", "M54")) for c in codes)


def test_large_demo_bulk_inserts_fast_and_keeps_ids(app: Any) -> None:
    ctx = DemoContext(rng=random.Random(3), patients=1500, years=5, devices=3, large=True)
    started = time.perf_counter()
    load_patients(ctx)
    db.session.commit()
    elapsed = time.perf_counter() - started
    assert len(ctx.patient_ids) == 1500 == len(set(ctx.patient_ids))
    assert db.session.scalar(select(func.count(func.distinct(Patient.mrn)))) == 1500
    assert db.session.scalar(select(func.count()).select_from(Screening)) == 1500
    assert elapsed < 10
