"""The TMS safety screening: the questionnaire as data, the rule that scores it, and the
versioned screenings recorded per patient with a clinician's sign-off.

Items follow DOMAIN.md: any `absolute` yes makes TMS contraindicated; any `relative` yes
needs a clinician's review and sign-off. Codes are stable identifiers stored in each
screening's answers, so wording can improve without breaking stored screenings. A new
answer set is a new version; earlier versions are never changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from clinic import clock
from clinic.audit.models import AuditAction
from clinic.audit.services import record
from clinic.auth.models import User
from clinic.errors import Conflict, Invalid, NotAllowed
from clinic.extensions import db
from clinic.patients.lookup import get_patient, load, view_patient
from clinic.patients.models import Patient, Screening, ScreeningResult
from clinic.patients.validation import FieldErrors, text
from clinic.permissions import Permission

ItemClass = Literal["absolute", "relative"]
VERSION_ATTEMPTS = 5


@dataclass(frozen=True)
class ScreeningItem:
    code: str
    question: str
    item_class: ItemClass


SCREENING_ITEMS: tuple[ScreeningItem, ...] = (
    ScreeningItem(
        "metal_in_head",
        "Is there any non-removable metal in or near the head (clips, shrapnel, plates, "
        "stents, electrodes)? Dental fillings and braces do not count.",
        "absolute",
    ),
    ScreeningItem("cochlear_implant", "Does the patient have a cochlear implant?", "absolute"),
    ScreeningItem(
        "implanted_stimulator",
        "Does the patient have an implanted brain or nerve stimulator (deep brain, cortical "
        "or vagus nerve stimulator)?",
        "absolute",
    ),
    ScreeningItem(
        "shunt_or_skull_defect",
        "Does the patient have a ventriculo-peritoneal shunt or a skull defect?",
        "absolute",
    ),
    ScreeningItem(
        "prior_tms_serious_event",
        "Did the patient have a serious adverse event during an earlier TMS course?",
        "absolute",
    ),
    ScreeningItem(
        "pacemaker_or_defibrillator",
        "Does the patient have a cardiac pacemaker or implanted defibrillator?",
        "relative",
    ),
    ScreeningItem("seizure_history", "Has the patient ever had a seizure or epilepsy?", "relative"),
    ScreeningItem(
        "family_epilepsy", "Does anyone in the patient's family have epilepsy?", "relative"
    ),
    ScreeningItem(
        "head_injury_loc",
        "Has the patient had a head injury with loss of consciousness?",
        "relative",
    ),
    ScreeningItem(
        "brain_surgery_or_lesion",
        "Has the patient had brain surgery, or is there a known brain lesion (tumour, "
        "stroke, aneurysm)?",
        "relative",
    ),
    ScreeningItem("pregnancy", "Is the patient pregnant or possibly pregnant?", "relative"),
    ScreeningItem(
        "seizure_threshold_medication",
        "Does the patient take medication that lowers the seizure threshold (e.g. bupropion, "
        "clozapine, tramadol, stimulants)?",
        "relative",
    ),
    ScreeningItem(
        "recent_withdrawal",
        "Is the patient in, or recently through, alcohol or drug withdrawal "
        "(including benzodiazepines)?",
        "relative",
    ),
    ScreeningItem(
        "sleep_deprivation", "Is the patient currently severely sleep deprived?", "relative"
    ),
    ScreeningItem(
        "hearing_problems",
        "Does the patient have hearing loss, tinnitus or other hearing problems?",
        "relative",
    ),
)

ITEMS_BY_CODE: dict[str, ScreeningItem] = {item.code: item for item in SCREENING_ITEMS}


def items_of_class(item_class: ItemClass) -> list[ScreeningItem]:
    return [item for item in SCREENING_ITEMS if item.item_class == item_class]


def score(answers: Mapping[str, bool]) -> tuple[ScreeningResult, list[str]]:
    """(result, positive item codes in questionnaire order) for a complete answer set."""
    positive = [item for item in SCREENING_ITEMS if answers.get(item.code) is True]
    if any(item.item_class == "absolute" for item in positive):
        result = ScreeningResult.CONTRAINDICATED
    elif positive:
        result = ScreeningResult.REVIEW
    else:
        result = ScreeningResult.CLEAR
    return result, [item.code for item in positive]


def _check_answers(answers: Any) -> dict[str, bool]:
    """Every item answered yes/no, no unknown codes; 422 names the ones that are not."""
    if not isinstance(answers, Mapping):
        raise Invalid(
            "Send answers as {code: true/false}.", fields={"answers": ["Must be an object."]}
        )
    errors = FieldErrors()
    unknown = [str(code) for code in answers if code not in ITEMS_BY_CODE]
    missing = [item.code for item in SCREENING_ITEMS if item.code not in answers]
    for code in unknown:
        errors.add(f"answers.{code}", "Unknown screening item.")
    for code in missing:
        errors.add(f"answers.{code}", "Answer yes or no.")
    for item in SCREENING_ITEMS:
        if item.code in answers and not isinstance(answers[item.code], bool):
            errors.add(f"answers.{item.code}", "Must be true or false.")
    if errors:
        parts = []
        if missing:
            parts.append(f"missing: {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown: {', '.join(code[:40] for code in unknown[:10])}")
        detail = "; ".join(parts) or "every answer must be true or false"
        errors.raise_if_any(f"Answer every screening item ({detail}).")
    return {item.code: bool(answers[item.code]) for item in SCREENING_ITEMS}


def record_screening(
    patient: Patient | int,
    answers: Mapping[str, Any],
    notes: str | None = None,
    actor_id: int | None = None,
) -> Screening:
    """Score a complete answer set and store it as the patient's next screening version.

    Result: `contraindicated` if any absolute item is yes, else `review` if any relative
    item is yes, else `clear`. Earlier versions are never changed.
    """
    patient = get_patient(patient)
    checked = _check_answers(answers)
    note_errors = FieldErrors()
    notes = text(5000, multiline=True)(note_errors, "notes", notes)
    note_errors.raise_if_any()
    result, positive = score(checked)
    for _ in range(VERSION_ATTEMPTS):
        version = (
            db.session.scalar(
                select(func.max(Screening.version)).where(Screening.patient_id == patient.id)
            )
            or 0
        ) + 1
        screening = Screening(
            patient_id=patient.id,
            version=version,
            answers=checked,
            result=result,
            positive_items=positive,
            notes=notes,
            created_at=clock.now(),
            created_by_id=actor_id,
        )
        try:
            with db.session.begin_nested():
                db.session.add(screening)
                db.session.flush()
        except IntegrityError:
            continue  # another screening took this version number at the same moment
        record(
            actor_id,
            AuditAction.CREATE,
            "screening",
            screening.id,
            patient_id=patient.id,
            detail={"result": result, "version": version},
        )
        return screening
    raise Conflict("Another screening is being saved; try again.", code="screening_busy")


def get_screening(screening_id: int) -> Screening:
    return load(Screening, screening_id, "screening")


def sign_off_screening(screening_id: int, note: str | None, *, actor_id: int) -> Screening:
    """A clinician accepts a `review` result (relative contraindications) with a note."""
    screening = get_screening(screening_id)
    actor = db.session.get(User, actor_id) if isinstance(actor_id, int) else None
    if actor is None or not actor.can(Permission.REVIEW):
        raise NotAllowed("Only a clinician may sign off a screening.")
    if screening.result != ScreeningResult.REVIEW:
        raise Conflict(
            f"A {screening.result} screening needs no sign-off.", code="screening_not_reviewable"
        )
    if screening.signed_off_at is not None:
        raise Conflict("This screening is already signed off.", code="already_signed_off")
    errors = FieldErrors()
    note = text(2000, required=True, multiline=True)(errors, "note", note)
    errors.raise_if_any("Write a note explaining the decision.")
    screening.signed_off_at = clock.now()
    screening.signed_off_by_id = actor_id
    screening.sign_off_note = note
    db.session.flush()
    record(
        actor_id, AuditAction.SIGN_OFF, "screening", screening.id, patient_id=screening.patient_id
    )
    return screening


def list_screenings(patient_id: int, *, actor_id: int | None) -> list[Screening]:
    """Every screening version, newest first (a read of the record, audited)."""
    patient = view_patient(patient_id, actor_id=actor_id, section="screenings")
    return sorted(patient.screenings, key=lambda screening: -screening.version)


def latest_screening(patient_id: int) -> Screening | None:
    """The newest screening version, or None when the patient was never screened."""
    return db.session.scalar(
        select(Screening)
        .options(joinedload(Screening.signed_off_by))
        .where(Screening.patient_id == patient_id)
        .order_by(Screening.version.desc())
        .limit(1)
    )


def awaiting_sign_off(limit: int = 50) -> list[Screening]:
    """Screenings with relative contraindications no clinician has accepted yet, oldest
    first: a patient cannot start a course until one does."""
    return list(
        db.session.scalars(
            select(Screening)
            .where(Screening.result == ScreeningResult.REVIEW, Screening.signed_off_at.is_(None))
            .options(joinedload(Screening.patient))
            .order_by(Screening.created_at, Screening.id)
            .limit(limit)
        )
    )
