"""The TMS safety screening questionnaire, as data, and the rule that scores it.

Items follow DOMAIN.md: any `absolute` yes makes TMS contraindicated; any `relative` yes
needs a clinician's review and sign-off. Codes are stable identifiers stored in each
screening's answers, so wording can improve without breaking stored screenings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

ItemClass = Literal["absolute", "relative"]
RESULTS = ("clear", "review", "contraindicated")


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


def score(answers: Mapping[str, bool]) -> tuple[str, list[str]]:
    """(result, positive item codes in questionnaire order) for a complete answer set."""
    positive = [item for item in SCREENING_ITEMS if answers.get(item.code) is True]
    if any(item.item_class == "absolute" for item in positive):
        result = "contraindicated"
    elif positive:
        result = "review"
    else:
        result = "clear"
    return result, [item.code for item in positive]
