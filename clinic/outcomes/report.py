"""The clinic outcomes report: completed courses' response, remission and mean change.

Three bounded queries whatever the number of courses (the courses ending in the range,
their progress, and all their PHQ-9 / PEG-3 responses), then the pure
`analysis` functions per course and per group.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from clinic import clock
from clinic.courses.models import Course, CourseStatus, Protocol
from clinic.db import UTCDateTime
from clinic.extensions import db
from clinic.outcomes.analysis import aggregate, summarize
from clinic.outcomes.catalog import get_instrument
from clinic.outcomes.models import QuestionnaireResponse
from clinic.scheduling.progress import course_progress

REPORT_CODES = ("PHQ-9", "PEG-3")
DEFAULT_QUARTERS = 8
CSV_COLUMNS = (
    "group",
    "label",
    "instrument",
    "courses",
    "judged",
    "responders",
    "response_rate_pct",
    "remitters",
    "remission_rate_pct",
    "mean_change_pct",
)


@dataclass(frozen=True)
class ReportRow:
    group: str  # "all", "protocol" or "quarter"
    label: str
    instrument: str
    figures: dict[str, Any]  # analysis.aggregate(): n, n_total, responders, rates ...


def quarter_of(day: date) -> str:
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def default_range(today: date | None = None) -> tuple[date, date]:
    """The last DEFAULT_QUARTERS calendar quarters up to today."""
    day = today or clock.today()
    first_month = (day.month - 1) // 3 * 3 + 1
    start = date(day.year, first_month, 1)
    for _ in range(DEFAULT_QUARTERS - 1):
        start = (
            date(start.year - 1, 10, 1)
            if start.month == 1
            else start.replace(month=start.month - 3)
        )
    return start, day


def _course_end() -> Any:
    """When a completed course ended: its status change (creation for old imports)."""
    return func.coalesce(Course.status_changed_at, Course.created_at, type_=UTCDateTime())


def outcome_report(start: date, end: date) -> list[ReportRow]:
    """Rows for all courses, then per protocol, then per quarter of the course's end."""
    tz = clock.clinic_tz()
    since = datetime.combine(start, time(0), tzinfo=tz)
    until = datetime.combine(end + timedelta(days=1), time(0), tzinfo=tz)
    ended = _course_end()
    in_range = (
        select(Course.id)
        .where(Course.status == CourseStatus.COMPLETED, ended >= since, ended < until)
        .scalar_subquery()
    )
    courses = db.session.execute(
        select(Course.id, Protocol.name, ended)
        .join(Protocol, Protocol.id == Course.protocol_id)
        .where(Course.id.in_(in_range))
    ).all()
    progress = course_progress(course_id for course_id, _name, _ended in courses)
    points: dict[tuple[int | None, str], list[tuple[datetime, float]]] = defaultdict(list)
    for course_id, code, answered_at, score in db.session.execute(
        select(
            QuestionnaireResponse.course_id,
            QuestionnaireResponse.instrument,
            QuestionnaireResponse.answered_at,
            QuestionnaireResponse.score,
        ).where(
            QuestionnaireResponse.course_id.in_(in_range),
            QuestionnaireResponse.instrument.in_(REPORT_CODES),
        )
    ):
        points[(course_id, code)].append((answered_at, score))

    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for course_id, protocol_name, ended_at in courses:
        quarter = quarter_of(clock.to_local(ended_at).date())
        for code in REPORT_CODES:
            summary = summarize(
                get_instrument(code),
                points.get((course_id, code), []),
                progress[course_id].first_delivered_at,
            )
            for group, label in (("all", "All courses"), ("protocol", protocol_name),
                                 ("quarter", quarter)):  # fmt: skip
                groups[(group, label, code)].append(summary)
    order = {"all": 0, "protocol": 1, "quarter": 2}
    return [
        ReportRow(group, label, code, aggregate(summaries))
        for (group, label, code), summaries in sorted(
            groups.items(), key=lambda item: (order[item[0][0]], item[0][1], item[0][2])
        )
    ]


def report_csv(rows: Iterable[ReportRow]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        f = row.figures
        writer.writerow(
            [
                row.group,
                row.label,
                row.instrument,
                f["n_total"],
                f["n"],
                f["responders"],
                _blank(f["response_rate"]),
                f["remitters"] if f["remission_rate"] is not None else "",
                _blank(f["remission_rate"]),
                _blank(f["mean_change_pct"]),
            ]
        )
    return buffer.getvalue()


def _blank(value: float | None) -> str:
    return "" if value is None else f"{value}"
