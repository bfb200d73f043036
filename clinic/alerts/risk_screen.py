"""The ASQ (Ask Suicide-Screening Questions, NIMH, public domain): the brief screen a
clinician records before closing a suicidal-ideation alert (CONTRACT 8, DOMAIN).

Four yes/no questions; when any is yes, a fifth asks about thoughts of suicide right now.
All four no: negative. A yes and the fifth no: non-acute positive (a brief safety
assessment is needed). The fifth yes: acute positive (imminent risk: the course goes on
hold and the patient is flagged until a clinician clears it).
"""

from __future__ import annotations

from typing import Any

from clinic.alerts.models import RiskResult
from clinic.errors import Invalid

INSTRUMENT = "ASQ"
# The published wording (NIMH ASQ Suicide Risk Screening Toolkit).
QUESTIONS = (
    "In the past few weeks, have you wished you were dead?",
    "In the past few weeks, have you felt that you or your family would be better off "
    "if you were dead?",
    "In the past week, have you been having thoughts about killing yourself?",
    "Have you ever tried to kill yourself?",
)
ACUITY_QUESTION = "Are you having thoughts of killing yourself right now?"
SCREEN_QUESTIONS = len(QUESTIONS)


def _refuse(message: str) -> Invalid:
    return Invalid(f"Risk screen: {message}", fields={"risk_screen": [message]})


def score_asq(screen: Any) -> tuple[RiskResult, dict[str, Any]]:
    """The result and the screen as stored: `{"instrument": "ASQ", "answers": [...]}`,
    booleans, the fifth only when one of the first four is yes (a trailing null stands for
    a fifth question not asked). 422 on anything else."""
    if not isinstance(screen, dict) or set(screen) - {"instrument", "answers"}:
        raise _refuse('Give {"instrument": "ASQ", "answers": [q1, q2, q3, q4, q5]}.')
    if screen.get("instrument") != INSTRUMENT:
        raise _refuse("The instrument is ASQ.")
    answers = screen.get("answers")
    if not isinstance(answers, list):
        raise _refuse("Answers are a list of yes/no (true/false) answers.")
    if len(answers) == SCREEN_QUESTIONS + 1 and answers[-1] is None:
        answers = answers[:-1]
    if not SCREEN_QUESTIONS <= len(answers) <= SCREEN_QUESTIONS + 1 or not all(
        isinstance(answer, bool) for answer in answers
    ):
        raise _refuse("Answer questions 1 to 4 (and 5 when one is yes) with true or false.")
    positive = any(answers[:SCREEN_QUESTIONS])
    if positive and len(answers) == SCREEN_QUESTIONS:
        raise _refuse("A yes to questions 1-4 needs question 5: thoughts of killing yourself now?")
    if not positive and len(answers) > SCREEN_QUESTIONS:
        raise _refuse("Question 5 is asked only when one of questions 1-4 is yes.")
    if not positive:
        result = RiskResult.NEGATIVE
    elif answers[SCREEN_QUESTIONS]:
        result = RiskResult.ACUTE_POSITIVE
    else:
        result = RiskResult.NON_ACUTE_POSITIVE
    return result, {"instrument": INSTRUMENT, "answers": list(answers)}
