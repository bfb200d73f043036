"""The pure booking engine: patterns, calendars, nearest free start (no database)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from clinic.scheduling import booking, patterns

NY = ZoneInfo("America/New_York")
HOURS = {day: (time(8), time(18)) for day in range(5)}
SLOT = timedelta(minutes=48)


def calendar(**overrides: object) -> booking.Calendar:
    values: dict = {
        "tz": NY,
        "hours": HOURS,
        "closures": {},
        "devices": {1: "Chair 1", 2: "Chair 2"},
        "maintenance": {},
    }
    values.update(overrides)
    return booking.Calendar(**values)


def occupancy(
    *busy: booking.Busy, loads: list[int] | None = None, read: list[booking.Span] | None = None
) -> booking.Occupancy:
    """Who is busy, as the database would answer; each load (a query in the app) is
    counted in `loads`, and the chairs' spans it asks about are kept in `read`."""
    items = list(busy)

    def hit(b: booking.Busy, start: datetime, end: datetime) -> bool:
        return b.starts_at < end and b.ends_at > start

    def load(
        spans: Sequence[booking.Span], patient: tuple[int, booking.Span] | None
    ) -> list[booking.Busy]:
        if loads is not None:
            loads.append(len(spans))
        if read is not None:
            read.extend(spans)
        return [
            b
            for b in items
            if any(hit(b, *span) for span in spans)
            or (patient is not None and b.patient_id == patient[0] and hit(b, *patient[1]))
        ]

    return booking.Occupancy(load, NY)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=NY)


def plan(
    pattern: str = "daily_taper",
    planned: int = 36,
    remaining: int | None = None,
    *,
    start: date = date(2026, 3, 2),
    cal: booking.Calendar | None = None,
    occ: booking.Occupancy | None = None,
    device_id: int | None = 1,
    local_time: time = time(9),
    per_day: int = 1,
    gap: int = 0,
    length: timedelta = SLOT,
) -> booking.Plan:
    phases = patterns.expand_pattern(
        pattern,
        planned,
        planned if remaining is None else remaining,
        start=start,
        sessions_per_day=per_day,
        min_gap_minutes=gap,
    )
    request = booking.Request(
        patient=booking.Patient(id=7, tz=NY, one_a_day=pattern != "accelerated"),
        phases=phases,
        start=start,
        local_time=local_time,
        length=length,
        device_id=device_id,
    )
    return booking.plan_sessions(cal or calendar(), occ or occupancy(), request)


def days(result: booking.Plan) -> list[date]:
    return [s.starts_at.astimezone(NY).date() for s in result.sessions]


def test_daily_taper_30_daily_then_mon_wed_fri_tue_thu_wed() -> None:
    result = plan()
    assert len(result.sessions) == 36 and result.missing == 0
    booked = days(result)
    assert booked[0] == date(2026, 3, 2)
    assert booked[29] == date(2026, 4, 10)  # 30 consecutive weekdays
    assert all(d.weekday() < 5 for d in booked)
    assert booked[30:] == [
        date(2026, 4, 13),
        date(2026, 4, 15),
        date(2026, 4, 17),
        date(2026, 4, 21),
        date(2026, 4, 23),
        date(2026, 4, 29),
    ]


def test_no_taper_below_twelve_sessions() -> None:
    booked = days(plan(planned=10))
    assert booked == [
        date(2026, 3, 2) + timedelta(days=d) for d in (0, 1, 2, 3, 4, 7, 8, 9, 10, 11)
    ]


def test_remaining_sessions_resume_inside_the_taper() -> None:
    phases = patterns.expand_pattern("daily_taper", 36, 4, start=date(2026, 4, 13))
    assert phases.daily == 0
    assert phases.weekly == (1, 2, 1)  # two of the 3-a-week sessions are already booked


def test_daylight_saving_change_keeps_nine_o_clock_local() -> None:
    result = plan(planned=10)
    local_times = {s.starts_at.astimezone(NY).time() for s in result.sessions}
    assert local_times == {time(9)}
    utc_hours = [s.starts_at.astimezone(UTC).hour for s in result.sessions]
    assert utc_hours[:5] == [14] * 5  # EST before 2026-03-08
    assert utc_hours[5:] == [13] * 5  # EDT after


def test_closures_and_days_without_hours_are_skipped() -> None:
    hours = {day: span for day, span in HOURS.items() if day != 2}  # closed Wednesdays
    cal = calendar(hours=hours, closures={date(2026, 3, 3): "Staff training"})
    result = plan(planned=5, cal=cal)
    assert days(result) == [
        date(2026, 3, 2),
        date(2026, 3, 5),
        date(2026, 3, 6),
        date(2026, 3, 9),
        date(2026, 3, 10),
    ]
    assert any("Staff training" in clash for clash in result.clashes)


def test_maintenance_moves_the_session_to_a_free_chair() -> None:
    day = date(2026, 3, 2)
    cal = calendar(maintenance={1: [(at(day, 8), at(day, 12))]})
    result = plan(planned=2, cal=cal)
    assert [s.device_id for s in result.sessions] == [2, 1]
    assert "Chair 2" in result.sessions[0].notes[0]


def test_taken_everywhere_books_nearest_free_start_earlier_wins_ties() -> None:
    day = date(2026, 3, 2)
    # 09:00-09:30 busy on both chairs: nearest starts are 08:10 (ends 08:58) vs 09:30.
    occ = occupancy(
        booking.Busy(1, 90, at(day, 9), at(day, 9, 30)),
        booking.Busy(2, 91, at(day, 9), at(day, 9, 30)),
    )
    first = plan(planned=1, occ=occ, length=timedelta(minutes=20)).sessions[0]
    # -5 min: 08:55-09:15 overlaps; the first clear start going either way:
    # earlier 08:40 (distance 20) vs later 09:30 (distance 30) -> 08:40.
    assert first.starts_at == at(day, 8, 40)
    assert "nearest free start 08:40" in first.notes[0]


def test_equal_distance_prefers_the_earlier_start() -> None:
    day = date(2026, 3, 2)
    busy = [booking.Busy(chair, 90 + chair, at(day, 8, 55), at(day, 9, 15)) for chair in (1, 2)]
    first = plan(planned=1, occ=occupancy(*busy), length=timedelta(minutes=10)).sessions[0]
    # 08:45 (ends 08:55) and 09:15 are both 15 minutes from 09:00: the earlier wins.
    assert first.starts_at == at(day, 8, 45)


def test_full_day_moves_to_the_next_open_day() -> None:
    day = date(2026, 3, 2)
    occ = occupancy(
        booking.Busy(1, 90, at(day, 8), at(day, 18)),
        booking.Busy(2, 91, at(day, 8), at(day, 18)),
    )
    result = plan(planned=1, occ=occ)
    assert days(result) == [date(2026, 3, 3)]
    assert any("no free chair" in clash for clash in result.clashes)


def test_one_treatment_a_day_and_never_overlapping_oneself() -> None:
    day = date(2026, 3, 2)
    occ = occupancy(booking.Busy(2, 7, at(day, 15), at(day, 15, 30)))
    result = plan(planned=1, occ=occ)
    assert days(result) == [date(2026, 3, 3)]
    assert any("already has a treatment" in clash for clash in result.clashes)


def test_accelerated_sessions_keep_the_gap_after_each_ends() -> None:
    result = plan("accelerated", planned=10, per_day=10, gap=50, length=timedelta(minutes=20))
    first_day = [s for s in result.sessions if s.starts_at.date() == date(2026, 3, 2)]
    assert len(first_day) == 8  # 09:00 ... 17:10 fit before 18:00
    for earlier, later in itertools.pairwise(first_day):
        assert later.starts_at - earlier.ends_at >= timedelta(minutes=50)
    assert days(result)[8:] == [date(2026, 3, 3)] * 2


def test_daily_then_weekly_five_then_one_a_week_on_the_start_weekday() -> None:
    booked = days(plan("daily_then_weekly", planned=8, start=date(2026, 3, 4)))
    assert booked[:5] == [date(2026, 3, d) for d in (4, 5, 6, 9, 10)]
    assert booked[5:] == [date(2026, 3, 18), date(2026, 3, 25), date(2026, 4, 1)]


def test_nothing_free_within_the_horizon_reports_missing() -> None:
    result = plan(planned=3, cal=calendar(hours={}))
    assert result.missing == 3 and not result.sessions


def _course_plan(shape: patterns.CoursePattern, cal: booking.Calendar) -> booking.Plan:
    request = booking.Request(
        patient=booking.Patient(id=7, tz=NY, one_a_day=True),
        phases=patterns.expand_pattern(shape, shape.total, shape.total, start=date(2026, 3, 2)),
        start=date(2026, 3, 2),
        local_time=time(9),
        length=SLOT,
        device_id=1,
    )
    return booking.plan_sessions(cal, occupancy(), request)


def test_brainsway_h1_20_daily_then_twice_weekly_across_dst_and_a_closure() -> None:
    # 20 weekdays from Monday 2 March (DST begins Sunday 8 March); Good Friday closed.
    shape, errors = patterns.parse_pattern({"daily": 20, "weekly": {"per_week": 2, "weeks": 12}})
    assert shape is not None and not errors and shape.total == 44
    result = _course_plan(shape, calendar(closures={date(2026, 3, 27): "Closed"}))
    assert len(result.sessions) == 44 and result.missing == 0
    booked = days(result)
    assert date(2026, 3, 27) not in booked
    assert booked[19] == date(2026, 3, 30)  # the closure pushes the daily phase a day
    weekly = booked[20:]
    assert weekly[:4] == [date(2026, 4, 7), date(2026, 4, 9), date(2026, 4, 14), date(2026, 4, 16)]
    assert {d.weekday() for d in weekly} == {1, 3}  # twice a week: Tuesday and Thursday
    assert {s.starts_at.astimezone(NY).time() for s in result.sessions} == {time(9)}
    assert {s.starts_at.astimezone(UTC).hour for s in result.sessions} == {13, 14}


def test_medicare_taper_and_a_maintenance_series() -> None:
    medicare, _ = patterns.parse_pattern({"daily": 20, "taper": [3, 2]})
    assert medicare is not None
    booked = days(_course_plan(medicare, calendar()))
    assert booked[20:] == [date(2026, 3, d) for d in (30,)] + [
        date(2026, 4, d) for d in (1, 3, 7, 9)
    ]
    maintenance, _ = patterns.parse_pattern({"daily": 0, "weekly": {"per_week": 1, "weeks": 4}})
    assert maintenance is not None
    assert days(_course_plan(maintenance, calendar())) == [
        date(2026, 3, 4),
        date(2026, 3, 11),
        date(2026, 3, 18),
        date(2026, 3, 25),
    ]


def test_the_protocols_own_patterns_expand_as_before() -> None:
    assert patterns.protocol_pattern("daily_taper", 36).as_json() == {
        "daily": 30,
        "taper": [3, 2, 1],
    }
    assert patterns.protocol_pattern("daily_taper", 10).as_json() == {"daily": 10, "taper": []}
    assert patterns.protocol_pattern("daily_then_weekly", 15).as_json() == {
        "daily": 5,
        "taper": [],
        "weekly": {"per_week": 1, "weeks": 10},
    }


def test_a_course_reads_who_is_busy_at_once_and_a_full_hour_a_month_at_a_time() -> None:
    """The days a course is expected to take are read in one load (one query in the app),
    not a few weeks at a time; when the wanted hour is taken every day, the coming weeks'
    whole days are read together, not one day at a time."""
    loads: list[int] = []
    result = plan(occ=occupancy(loads=loads))
    assert len(result.sessions) == 36 and len(loads) == 1
    weekdays = (date(2026, 3, 2) + timedelta(days=n) for n in range(70))
    full = [
        booking.Busy(chair, 90 + chair, at(day, 8), at(day, 10))
        for day in weekdays
        for chair in (1, 2)
    ]
    loads.clear()
    result = plan(occ=occupancy(*full, loads=loads))
    assert len(result.sessions) == 36
    assert {s.starts_at.astimezone(NY).time() for s in result.sessions} == {time(10)}
    assert len(loads) <= 3


def test_a_full_hour_reads_two_hours_around_it_and_whole_days_only_when_those_are_full() -> None:
    """Most full hours have room within two hours: only that much of the days is read.
    Where the two hours are full too, whole days are, and the sessions land the same.
    (Two hours around nine, from the opening at eight: three hours and a session.)"""
    weekdays = [date(2026, 3, 2) + timedelta(days=n) for n in range(70)]
    for busy_until, widest in ((10, timedelta(hours=3) + SLOT), (12, timedelta(hours=10))):
        full = [
            booking.Busy(chair, 90 + chair, at(day, 7), at(day, busy_until))
            for day in weekdays
            for chair in (1, 2)
        ]
        read: list[booking.Span] = []
        result = plan(occ=occupancy(*full, read=read))
        assert len(result.sessions) == 36
        assert {s.starts_at.astimezone(NY).hour for s in result.sessions} == {busy_until}
        assert max(end - start for start, end in read) == widest
