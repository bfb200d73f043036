"""The superbill: what a self-paying patient hands their insurer, per patient and period
(the clinic, the patient, and each billable session with its date, CPT and ICD-10)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from flask import current_app

from clinic import clock
from clinic.billing.coding import billing_lines
from clinic.billing.models import Cpt
from clinic.billing.services import check_period
from clinic.patients import icd10
from clinic.patients.lookup import view_patient
from clinic.pdf import render_pdf

CPT_NAMES = {
    Cpt.FIRST_TREATMENT: "TMS, initial, including cortical mapping and motor threshold",
    Cpt.LATER_TREATMENT: "TMS, subsequent delivery and management, per session",
    Cpt.MT_REDETERMINATION: "TMS, subsequent motor threshold re-determination with delivery",
}


def superbill_pdf(patient_id: int, start: date, end: date, *, actor_id: int | None) -> bytes:
    check_period(start, end)
    patient = view_patient(patient_id, actor_id=actor_id, section="superbill")
    lines = [line for line in billing_lines(start, end, patient_id=patient.id) if line.billable]
    codes = dict.fromkeys(code for line in lines for code in line.icd10) or dict.fromkeys(
        diagnosis.code for diagnosis in patient.diagnoses
    )
    total = sum((line.charge or Decimal(0) for line in lines), Decimal(0))
    return render_pdf(
        "billing/superbill.html",
        clinic_name=current_app.config["CLINIC_NAME"],
        identity=current_app.config["CLINIC_BILLING"],
        patient=patient,
        start=start,
        end=end,
        lines=lines,
        cpt_names=CPT_NAMES,
        diagnoses=[(code, icd10.describe(code) or "") for code in codes],
        total=total,
        issued=clock.today(),
    )
