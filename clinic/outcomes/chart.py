"""One chart per course: mood, pain and sleep against the sessions delivered.

Server-side SVG rather than a JavaScript chart so the same markup works in the web page,
in the printed course record and for screen readers: `<desc>` lists every value, each
point also has its own `<title>`, text is black, and series differ by marker shape and
line dash as well as colour.

The panels are stacked and share one x axis, the number of sessions delivered when the
questionnaire was answered (0 = before the first session), so a reader sees at a glance
whether mood, pain and sleep moved together as the course went on. Each panel is shaded
with its instrument's severity bands from the catalog. An instrument without published
bands (PEG-3) gets only the grid: inventing pain cut-offs would suggest a clinical
meaning the scale does not have.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from xml.sax.saxutils import escape

from clinic.outcomes.catalog import Instrument, get_instrument

WIDTH = 720
TITLE_HEIGHT = 34
PANEL_HEIGHT = 168
AXIS_HEIGHT = 34  # the shared x axis's title under the last panel
PLOT_TOP = 30  # plot area, panel-relative
PLOT_BOTTOM = PANEL_HEIGHT - 24
LEFT = 48
RIGHT = WIDTH - 132  # room for band names
X_PAD = 14  # keeps the first and last marker off the axes
MAX_X_TICKS = 9
LABEL_ALL_UP_TO = 12  # more points than this: label only the first and the last
BAND_FILLS = ("#f4f4f4", "#e8e8e8", "#dcdcdc", "#d0d0d0", "#c4c4c4", "#b8b8b8")
_QUOTE = {'"': "&quot;"}
SERIES_STYLES = (  # colour, dash, marker shape
    ("#1f4e79", "", "circle"),
    ("#7f2704", "6 3", "square"),
    ("#3f6212", "2 2", "triangle"),
    ("#5b2c6f", "8 2 2 2", "diamond"),
)
ChartPoint = tuple[int, date, float]
"""(sessions delivered when answered, the day answered, the score)."""


def render_course_chart(
    series_by_code: Mapping[str, Sequence[ChartPoint]],
    codes: Sequence[str] = ("PHQ-9", "PEG-3", "PROMIS-SD-8a"),
    *,
    planned_sessions: int = 0,
    title: str = "Mood, pain and sleep against sessions delivered",
    id_prefix: str = "outcome-chart",
) -> str:
    """One SVG with a panel per instrument code, in `codes` order, top to bottom.

    Series for codes not in `codes` are ignored, so a caller can pass every outcome of a
    course. The x axis runs to the planned sessions (or further, when more were
    delivered). `id_prefix` keeps element ids unique when several charts share a page.
    """
    points = {code: sorted(series_by_code.get(code, ()), key=_order) for code in codes}
    last = max([planned_sessions, 1, *(p[0] for s in points.values() for p in s)])
    height = TITLE_HEIGHT + PANEL_HEIGHT * len(codes) + AXIS_HEIGHT
    panels = []
    summaries = []
    for index, code in enumerate(codes):
        instrument = get_instrument(code)
        panels.append(_panel(instrument, points[code], index, last))
        summaries.append(_describe(instrument, points[code]))
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    return "".join(
        [
            "<svg"
            + _attrs(
                xmlns="http://www.w3.org/2000/svg",
                width=WIDTH,
                height=height,
                viewBox=f"0 0 {WIDTH} {height}",
                role="img",
                aria_labelledby=f"{title_id} {desc_id}",
                font_family="sans-serif",
            )
            + ">",
            _el("title", title, id=title_id),
            _el("desc", " ".join(summaries), id=desc_id),
            _el("rect", x=0, y=0, width=WIDTH, height=height, fill="#ffffff"),
            _el("text", title, x=8, y=22, font_size=15, font_weight="bold", fill="#000000"),
            *panels,
            _el(
                "text",
                "Sessions delivered when answered (0 = before the first session)",
                x=_r((LEFT + RIGHT) / 2),
                y=height - 10,
                font_size=11,
                text_anchor="middle",
                fill="#000000",
            ),
            "</svg>",
        ]
    )


def _order(point: ChartPoint) -> tuple[int, date]:
    return point[0], point[1]


def _panel(instrument: Instrument, points: list[ChartPoint], index: int, last: int) -> str:
    y0 = TITLE_HEIGHT + index * PANEL_HEIGHT
    top, bottom = y0 + PLOT_TOP, y0 + PLOT_BOTTOM
    low, high = instrument.score_min, instrument.score_max

    def y_of(score: float) -> float:
        return bottom - (score - low) / (high - low) * (bottom - top)

    def x_of(sessions: int) -> float:
        return LEFT + X_PAD + sessions / last * (RIGHT - LEFT - 2 * X_PAD)

    direction = "lower" if instrument.lower_is_better else "higher"
    kind = "T-score" if instrument.t_scores else "score"
    parts = [
        _el(
            "text",
            f"{instrument.code} ({kind} {_num(low)}\u2013{_num(high)}, {direction} is better)",
            x=LEFT,
            y=top - 10,
            font_size=12,
            font_weight="bold",
            fill="#000000",
        )
    ]
    step = 10.0**-instrument.decimals
    for band_index, band in enumerate(instrument.bands):
        band_top = y_of(min(high, band.max + step / 2))
        band_bottom = y_of(max(low, band.min - step / 2))
        parts.append(
            _el(
                "rect",
                x=LEFT,
                y=_r(band_top),
                width=RIGHT - LEFT,
                height=_r(band_bottom - band_top),
                fill=BAND_FILLS[band_index % len(BAND_FILLS)],
                class_="band",
            )
        )
        parts.append(
            _el(
                "text",
                band.severity,
                x=RIGHT + 4,
                y=_r((band_top + band_bottom) / 2 + 3),
                font_size=9,
                fill="#000000",
            )
        )
    for tick in _y_ticks(low, high):
        y = _r(y_of(tick))
        parts.append(_el("line", x1=LEFT, x2=RIGHT, y1=y, y2=y, stroke="#9a9a9a", stroke_width=0.5))
        parts.append(
            _el(
                "text",
                _num(tick),
                x=LEFT - 5,
                y=y + 3,
                font_size=9,
                text_anchor="end",
                fill="#000000",
            )
        )
    parts.append(_el("line", x1=LEFT, x2=LEFT, y1=top, y2=bottom, stroke="#000000"))
    parts.append(_el("line", x1=LEFT, x2=RIGHT, y1=bottom, y2=bottom, stroke="#000000"))
    for sessions in _x_ticks(last):
        x = _r(x_of(sessions))
        parts.append(_el("line", x1=x, x2=x, y1=bottom, y2=bottom + 4, stroke="#000000"))
        parts.append(
            _el(
                "text",
                str(sessions),
                x=x,
                y=bottom + 14,
                font_size=9,
                text_anchor="middle",
                fill="#000000",
            )
        )

    if not points:
        parts.append(
            _el(
                "text",
                "No responses yet",
                x=_r((LEFT + RIGHT) / 2),
                y=_r((top + bottom) / 2),
                font_size=13,
                text_anchor="middle",
                fill="#000000",
            )
        )
        return _el_raw("g", "".join(parts), class_="panel", data_code=instrument.code)

    colour, dash, shape = SERIES_STYLES[index % len(SERIES_STYLES)]
    coords = [(_r(x_of(sessions)), _r(y_of(score))) for sessions, _day, score in points]
    parts.append(
        _el(
            "polyline",
            points=" ".join(f"{x},{y}" for x, y in coords),
            fill="none",
            stroke=colour,
            stroke_width=2,
            stroke_dasharray=dash or None,
        )
    )
    labelled = range(len(points)) if len(points) <= LABEL_ALL_UP_TO else (0, len(points) - 1)
    for point_index, (point, (x, y)) in enumerate(zip(points, coords, strict=True)):
        parts.append(_marker(shape, x, y, colour, _point_text(instrument, point)))
        if point_index in labelled:
            parts.append(
                _el(
                    "text",
                    _num(point[2], instrument.decimals),
                    x=x,
                    y=_r(y - 8),
                    font_size=10,
                    text_anchor="middle",
                    fill="#000000",
                )
            )
    return _el_raw("g", "".join(parts), class_="panel", data_code=instrument.code)


def _marker(shape: str, x: float, y: float, colour: str, text: str) -> str:
    """A point in the series' own shape, carrying its value as a tooltip title."""
    common = {"fill": colour, "stroke": "#000000", "stroke_width": 1, "class_": "marker"}
    tooltip = _el("title", text)
    if shape == "circle":
        return _el_raw("circle", tooltip, cx=x, cy=y, r=4.5, **common)
    if shape == "square":
        return _el_raw("rect", tooltip, x=_r(x - 4), y=_r(y - 4), width=8, height=8, **common)
    corners = (
        [(x, y - 5.5), (x + 5, y + 4), (x - 5, y + 4)]
        if shape == "triangle"
        else [(x, y - 5.5), (x + 5, y), (x, y + 5.5), (x - 5, y)]
    )
    return _el_raw(
        "polygon", tooltip, points=" ".join(f"{_r(a)},{_r(b)}" for a, b in corners), **common
    )


def _describe(instrument: Instrument, points: list[ChartPoint]) -> str:
    direction = "lower" if instrument.lower_is_better else "higher"
    heading = (
        f"{instrument.code} ({instrument.name}), score {_num(instrument.score_min)} to "
        f"{_num(instrument.score_max)}, {direction} is better:"
    )
    if not points:
        return f"{heading} no responses yet."
    return f"{heading} {'; '.join(_point_text(instrument, p) for p in points)}."


def _point_text(instrument: Instrument, point: ChartPoint) -> str:
    sessions, day, score = point
    severity = instrument.severity_for(instrument.round_score(score))
    text = (
        f"after {sessions} session{'' if sessions == 1 else 's'} ({day.isoformat()}): "
        f"{_num(score, instrument.decimals)}"
    )
    return f"{text} ({severity})" if severity else text


def _x_ticks(last: int) -> list[int]:
    """Round session counts from 0, at most MAX_X_TICKS of them, and always the last."""
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100, 200, 500) if last / s < MAX_X_TICKS)
    ticks = list(range(0, last + 1, step))
    if ticks[-1] != last:
        if last - ticks[-1] <= step / 2:
            ticks.pop()
        ticks.append(last)
    return ticks


def _y_ticks(low: float, high: float) -> list[float]:
    """Round gridline values, about five of them, at multiples of a round step."""
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100) if s * 6 >= high - low)
    ticks = []
    value = float(math.ceil(low / step) * step)
    while value <= high:
        ticks.append(value)
        value += step
    return ticks


def _num(value: float, decimals: int = 0) -> str:
    if decimals == 0 and float(value).is_integer():
        return str(int(value))
    return f"{value:.{max(decimals, 1)}f}"


def _r(value: float) -> float:
    return round(value, 1)


def _attrs(**attrs: object) -> str:
    """Attributes from keywords: `font_size` -> font-size, `class_` -> class; None skipped."""
    return "".join(
        f' {name.rstrip("_").replace("_", "-")}="{escape(str(value), _QUOTE)}"'
        for name, value in attrs.items()
        if value is not None
    )


def _el(tag: str, text: str | None = None, **attrs: object) -> str:
    if text is None:
        return f"<{tag}{_attrs(**attrs)}/>"
    return f"<{tag}{_attrs(**attrs)}>{escape(text)}</{tag}>"


def _el_raw(tag: str, inner: str, **attrs: object) -> str:
    """An element around markup that was already built (and escaped) here."""
    return f"<{tag}{_attrs(**attrs)}>{inner}</{tag}>"
