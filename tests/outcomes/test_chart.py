"""The outcome chart is standalone, accessible SVG."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinic.outcomes.catalog import UnknownInstrument
from clinic.outcomes.chart import render_outcome_chart

SVG = "{http://www.w3.org/2000/svg}"
MOOD = [(date(2025, 1, 6), 19), (date(2025, 1, 20), 12), (date(2025, 2, 24), 4)]
PAIN = [(date(2025, 1, 6), 7.3), (date(2025, 2, 24), 4.7)]


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


def test_accessible_standalone_svg() -> None:
    root = parse(render_outcome_chart({"PHQ-9": MOOD, "PEG-3": PAIN}))
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title is not None and title.text == "Mood and pain over time"
    assert desc is not None and desc.text is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    for needle in ("2025-01-06: 19 (moderately severe)", "2025-02-24: 4 (minimal)", "7.3", "4.7"):
        assert needle in desc.text


def test_mood_and_pain_side_by_side() -> None:
    root = parse(render_outcome_chart({"PHQ-9": MOOD, "PEG-3": PAIN, "GAD-7": MOOD}))
    by_code = panels(root)
    assert list(by_code) == ["PHQ-9", "PEG-3"]
    assert len(markers(by_code["PHQ-9"])) == 3
    assert len(markers(by_code["PEG-3"])) == 2
    shapes = {markers(panel)[0].tag for panel in by_code.values()}
    assert len(shapes) == 2  # told apart by shape, not only colour


def test_phq9_bands_are_shaded_and_named_peg3_has_only_the_grid() -> None:
    by_code = panels(parse(render_outcome_chart({})))
    bands = [e for e in by_code["PHQ-9"].iter(f"{SVG}rect") if e.get("class") == "band"]
    assert len(bands) == 5
    assert "moderately severe" in texts(by_code["PHQ-9"])
    assert not [e for e in by_code["PEG-3"].iter(f"{SVG}rect") if e.get("class") == "band"]


def test_values_and_dates_are_labelled() -> None:
    labels = texts(parse(render_outcome_chart({"PHQ-9": MOOD, "PEG-3": PAIN})))
    for needle in ("19", "12", "4", "7.3", "4.7", "2025-01-06", "2025-02-24"):
        assert needle in labels


def test_empty_panels_say_so() -> None:
    by_code = panels(parse(render_outcome_chart({"PHQ-9": MOOD})))
    assert "No responses yet" in texts(by_code["PEG-3"])
    assert "No responses yet" not in texts(by_code["PHQ-9"])


def test_a_single_point() -> None:
    root = parse(render_outcome_chart({"PEG-3": [(date(2025, 5, 1), 5.0)]}, ("PEG-3",)))
    assert len(markers(root)) == 1
    assert "5.0" in texts(root)


def test_text_is_escaped() -> None:
    root = parse(render_outcome_chart({}, title='Mood & <pain> "check"', id_prefix='a"b'))
    title = root.find(f"{SVG}title")
    assert title is not None and title.text == 'Mood & <pain> "check"'


def test_prints_without_scripts_or_external_resources() -> None:
    svg = render_outcome_chart({"PHQ-9": MOOD, "PEG-3": PAIN})
    for banned in ("<script", "href", "url(", "@import", "@font-face"):
        assert banned not in svg
    fills = {t.get("fill") for t in parse(svg).iter(f"{SVG}text")}
    assert fills == {"#000000"}


def test_unknown_code() -> None:
    with pytest.raises(UnknownInstrument):
        render_outcome_chart({}, ("PHQ-9", "XYZ"))


@settings(max_examples=40)
@given(
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 27)), max_size=30),
    st.lists(st.tuples(st.integers(0, 400), st.integers(0, 100)), max_size=30),
)
def test_one_marker_per_point(mood: list[tuple[int, int]], pain: list[tuple[int, int]]) -> None:
    start = date(2024, 1, 1)
    series = {
        "PHQ-9": [(start + timedelta(days=d), s) for d, s in mood],
        "PEG-3": [(start + timedelta(days=d), s / 10) for d, s in pain],
    }
    by_code = panels(parse(render_outcome_chart(series)))
    assert len(markers(by_code["PHQ-9"])) == len(mood)
    assert len(markers(by_code["PEG-3"])) == len(pain)
