"""The course chart is standalone, accessible SVG: mood, pain and sleep stacked against
the sessions delivered."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinic.outcomes.catalog import UnknownInstrument
from clinic.outcomes.chart import render_course_chart

SVG = "{http://www.w3.org/2000/svg}"
MOOD = [(0, date(2025, 1, 6), 19), (5, date(2025, 1, 13), 12), (30, date(2025, 2, 24), 4)]
PAIN = [(0, date(2025, 1, 6), 7.3), (30, date(2025, 2, 24), 4.7)]
SLEEP = [(0, date(2025, 1, 6), 63.7), (36, date(2025, 3, 3), 52.2)]
ALL = {"PHQ-9": MOOD, "PEG-3": PAIN, "PROMIS-SD-8a": SLEEP}


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def panels(root: ET.Element) -> dict[str, ET.Element]:
    return {g.get("data-code", ""): g for g in root.iter(f"{SVG}g") if g.get("class") == "panel"}


def markers(element: ET.Element) -> list[ET.Element]:
    return [e for e in element.iter() if e.get("class") == "marker"]


def texts(element: ET.Element) -> list[str]:
    return [t.text or "" for t in element.iter(f"{SVG}text")]


def x_of(marker: ET.Element) -> float:
    if marker.tag == f"{SVG}circle":
        return float(marker.get("cx", "0"))
    if marker.tag == f"{SVG}rect":
        return float(marker.get("x", "0")) + 4
    return float((marker.get("points") or "0,0").split()[0].split(",")[0])


def test_accessible_standalone_svg() -> None:
    root = parse(render_course_chart(ALL, planned_sessions=36))
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text == "Mood, pain and sleep against sessions delivered"
    assert desc is not None and desc.text is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    for needle in (
        "after 0 sessions (2025-01-06): 19 (moderately severe)",
        "after 30 sessions (2025-02-24): 4 (minimal)",
        "7.3",
        "after 36 sessions (2025-03-03): 52.2 (within normal limits)",
        "63.7 (moderate)",
    ):
        assert needle in desc.text


def test_one_chart_mood_pain_and_sleep_stacked_on_one_session_axis() -> None:
    root = parse(render_course_chart({**ALL, "GAD-7": MOOD}, planned_sessions=36))
    by_code = panels(root)
    assert list(by_code) == ["PHQ-9", "PEG-3", "PROMIS-SD-8a"]
    assert [len(markers(by_code[c])) for c in by_code] == [3, 2, 2]
    assert len({markers(panel)[0].tag for panel in by_code.values()}) == 3  # shapes differ
    # The same number of sessions sits at the same x in every panel.
    first = [x_of(markers(by_code[c])[0]) for c in by_code]
    assert max(first) - min(first) < 0.2
    assert x_of(markers(by_code["PHQ-9"])[-1]) < x_of(markers(by_code["PROMIS-SD-8a"])[-1])
    assert "Sessions delivered when answered (0 = before the first session)" in texts(root)
    for code in by_code:
        assert {"0", "36"} <= set(texts(by_code[code]))


def test_bands_are_shaded_and_named_peg3_has_only_the_grid() -> None:
    by_code = panels(parse(render_course_chart({})))
    phq_bands = [e for e in by_code["PHQ-9"].iter(f"{SVG}rect") if e.get("class") == "band"]
    sleep_bands = [
        e for e in by_code["PROMIS-SD-8a"].iter(f"{SVG}rect") if e.get("class") == "band"
    ]
    assert (len(phq_bands), len(sleep_bands)) == (5, 4)
    assert "moderately severe" in texts(by_code["PHQ-9"])
    assert {"mild", "moderate", "severe"} <= set(texts(by_code["PROMIS-SD-8a"]))
    assert any("T-score" in t for t in texts(by_code["PROMIS-SD-8a"]))
    assert not [e for e in by_code["PEG-3"].iter(f"{SVG}rect") if e.get("class") == "band"]


def test_values_are_labelled() -> None:
    labels = texts(parse(render_course_chart(ALL)))
    for needle in ("19", "12", "4", "7.3", "4.7", "63.7", "52.2"):
        assert needle in labels


def test_empty_panels_say_so() -> None:
    by_code = panels(parse(render_course_chart({"PHQ-9": MOOD})))
    assert "No responses yet" in texts(by_code["PEG-3"])
    assert "No responses yet" in texts(by_code["PROMIS-SD-8a"])
    assert "No responses yet" not in texts(by_code["PHQ-9"])


def test_a_single_point() -> None:
    root = parse(render_course_chart({"PEG-3": [(3, date(2025, 5, 1), 5.0)]}, ("PEG-3",)))
    assert len(markers(root)) == 1
    assert "5.0" in texts(root)


def test_text_is_escaped() -> None:
    root = parse(render_course_chart({}, title='Mood & <pain> "check"', id_prefix='a"b'))
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == 'Mood & <pain> "check"'


def test_prints_without_scripts_or_external_resources() -> None:
    svg = render_course_chart(ALL)
    for banned in ("<script", "href", "url(", "@import", "@font-face"):
        assert banned not in svg
    fills = {t.get("fill") for t in parse(svg).iter(f"{SVG}text")}
    assert fills == {"#000000"}


def test_unknown_code() -> None:
    with pytest.raises(UnknownInstrument):
        render_course_chart({}, ("PHQ-9", "XYZ"))


@settings(max_examples=40)
@given(
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 27)), max_size=30),
    st.lists(st.tuples(st.integers(0, 60), st.integers(0, 100)), max_size=30),
    st.integers(0, 50),
)
def test_one_marker_per_point(
    mood: list[tuple[int, int]], pain: list[tuple[int, int]], planned: int
) -> None:
    start = date(2024, 1, 1)
    series = {
        "PHQ-9": [(n, start + timedelta(days=n), s) for n, s in mood],
        "PEG-3": [(n, start + timedelta(days=n), s / 10) for n, s in pain],
    }
    by_code = panels(parse(render_course_chart(series, planned_sessions=planned)))
    assert len(markers(by_code["PHQ-9"])) == len(mood)
    assert len(markers(by_code["PEG-3"])) == len(pain)
