"""The clinic outcomes report as CSV for a registry: one line per group, cohort and
measure, each with its definition written beside it.

Groups: each protocol, the total (`all`), each quarter, baseline-pain band and site.
Rates fill `count` and `pct` (of `n`); means (sleep T-scores) fill `value`.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from clinic.outcomes.report import ALL_PROTOCOLS, SLEEP_MID

CSV_COLUMNS = (
    "group", "label", "cohort", "measure", "n", "count", "pct", "value", "definition"
)  # fmt: skip
COHORTS = {
    "intent_to_treat": "every course first treated in the period (discontinued included)",
    "completers": "the courses of the period completed",
    "pain": "the courses of the period with a PEG-3 baseline above 0",
    "sleep": "the courses of the period with a PROMIS-SD-8a baseline and end T-score",
}
END_RULE = (
    "; baseline: last answer on or before the first treatment's day, before it was logged; "
    "end: last answer up to 7 days after the last treatment; follow-ups excluded"
)
NOT_RESPONDING = "; a course without both counts as not responding; pct of n"
MID = (
    f"; improved: T-score fell >= {SLEEP_MID} points, the minimal important difference "
    "commonly used for PROMIS T-scores (half a standard deviation); pct of n"
)
RATES = (  # (cohort, measure, count key, percent key, definition)
    ("intent_to_treat", "response", "responders", "response", "PHQ-9 end >= 50% below baseline"),
    ("intent_to_treat", "remission", "remitters", "remission", "PHQ-9 end score below 5"),
    ("completers", "response", "responders", "response", "PHQ-9 end >= 50% below baseline"),
    ("completers", "remission", "remitters", "remission", "PHQ-9 end score below 5"),
    ("pain", "response_30", "responders_30", "response_30", "PEG-3 end >= 30% below baseline"),
    ("pain", "response_50", "responders_50", "response_50", "PEG-3 end >= 50% below baseline"),
    (
        "sleep",
        f"improved_{SLEEP_MID}",
        "improved",
        "improved_pct",
        f"PROMIS-SD-8a T-score end >= {SLEEP_MID} points below baseline",
    ),
)
MEANS = (  # (cohort, measure, key, definition)
    ("sleep", "mean_baseline", "mean_baseline", "mean PROMIS-SD-8a baseline T-score"),
    ("sleep", "mean_end", "mean_end", "mean PROMIS-SD-8a end-of-course T-score"),
    ("sleep", "mean_change", "mean_change", "mean T-score change, end minus baseline (<0: better)"),
)


def _rule(cohort: str) -> str:
    return END_RULE + (MID if cohort == "sleep" else NOT_RESPONDING)


def _blank(value: Any) -> Any:
    return "" if value is None else value


def report_csv(report: dict[str, Any]) -> str:
    """The report (`report.outcome_report`) as a registry reads it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    groups = [("protocol", item["protocol"], item) for item in report["items"]]
    groups.append(("protocol", ALL_PROTOCOLS, report["total"]))
    for key in ("quarter", "baseline_pain", "site"):
        groups += [(key, stratum["label"], stratum) for stratum in report["strata"][key]]
    for group, label, figures in groups:
        for cohort, measure, count, pct, definition in RATES:
            values = figures[cohort]
            writer.writerow(
                [group, label, cohort, measure, values["n"], values[count], _blank(values[pct]),
                 "", f"{COHORTS[cohort]}: {definition}{_rule(cohort)}"]
            )  # fmt: skip
        for cohort, measure, key, definition in MEANS:
            values = figures[cohort]
            writer.writerow(
                [group, label, cohort, measure, values["n"], "", "", _blank(values[key]),
                 f"{COHORTS[cohort]}: {definition}{_rule(cohort)}"]
            )  # fmt: skip
    return buffer.getvalue()
