"""A standalone SVG chart of outcome scores: mood and pain side by side.

Server-side SVG rather than a JavaScript chart so the same markup works in the web page,
in a printed or PDF report and for screen readers: `<desc>` lists every value, each
point also has its own `<title>`, text is black, and series differ by marker shape and
line dash as well as colour.

Each panel is shaded with its instrument's severity bands from the catalog. An
instrument without published bands (PEG-3) gets only the grid: inventing pain cut-offs
would suggest a clinical meaning the scale does not have.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from xml.sax.saxutils import escape

from clinic.outcomes.catalog import Instrument, get_instrument

PANEL_WIDTH = 380
HEIGHT = 250
TOP = 62  # plot area, panel-relative
BOTTOM = 222
LEFT = 40
RIGHT = PANEL_WIDTH - 92  # room for band names
X_PAD = 14  # keeps the first and last marker off the axes
MAX_X_TICKS = 4
LABEL_ALL_UP_TO = 12  # more points than this: label only the first and the last
BAND_FILLS = ("#f4f4f4", "#e8e8e8", "#dcdcdc", "#d0d0d0", "#c4c4c4", "#b8b8b8")
_QUOTE = {'"': "&quot;"}
SERIES_STYLES = (  # colour, dash, marker shape
    ("#1f4e79", "", "circle"),
    ("#7f2704", "6 3", "square"),
    ("#3f6212", "2 2", "triangle"),
    ("#5b2c6f", "8 2 2 2", "diamond"),
)


def render_outcome_chart(
    series_by_code: Mapping[str, Sequence[tuple[date, float]]],
    codes: Sequence[str] = ("PHQ-9", "PEG-3"),
    *,
    title: str = "Mood and pain over time",
    id_prefix: str = "outcome-chart",
) -> str:
    """One SVG with a panel per instrument code, in `codes` order.

    Series for codes not in `codes` are ignored, so a caller can pass every outcome of a
    course. `id_prefix` keeps element ids unique when several charts share a page.
    """
    width = PANEL_WIDTH * len(codes)
    panels = []
    summaries = []
    for index, code in enumerate(codes):
        instrument = get_instrument(code)
        points = sorted(series_by_code.get(code, ()), key=lambda p: p[0])
        panels.append(_panel(instrument, points, index))
        summaries.append(_describe(instrument, points))
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    return "".join(
        [
            "<svg"
            + _attrs(
                xmlns="http://www.w3.org/2000/svg",
                width=width,
                height=HEIGHT,
                viewBox=f"0 0 {width} {HEIGHT}",
                role="img",
                aria_labelledby=f"{title_id} {desc_id}",
                font_family="sans-serif",
            )
            + ">",
            _el("title", title, id=title_id),
            _el("desc", " ".join(summaries), id=desc_id),
            _el("rect", x=0, y=0, width=width, height=HEIGHT, fill="#ffffff"),
            _el("text", title, x=8, y=20, font_size=15, font_weight="bold", fill="#000000"),
            *panels,
            "</svg>",
        ]
    )


def _panel(instrument: Instrument, points: list[tuple[date, float]], index: int) -> str:
    x0 = index * PANEL_WIDTH
    left, right = x0 + LEFT, x0 + RIGHT
    low, high = instrument.score_min, instrument.score_max

    def y_of(score: float) -> float:
        return BOTTOM - (score - low) / (high - low) * (BOTTOM - TOP)

    direction = "lower" if instrument.lower_is_better else "higher"
    parts = [
        _el(
            "text",
            f"{instrument.code} (score {_num(low)}\u2013{_num(high)}, {direction} is better)",
            x=left,
            y=TOP - 18,
            font_size=12,
            font_weight="bold",
            fill="#000000",
        )
    ]
    step = 10.0**-instrument.decimals
    for band_index, band in enumerate(instrument.bands):
        top = y_of(min(high, band.max + step / 2))
        bottom = y_of(max(low, band.min - step / 2))
        parts.append(
            _el(
                "rect",
                x=left,
                y=_r(top),
                width=RIGHT - LEFT,
                height=_r(bottom - top),
                fill=BAND_FILLS[band_index % len(BAND_FILLS)],
                class_="band",
            )
        )
        parts.append(
            _el(
                "text",
                band.severity,
                x=right + 4,
                y=_r((top + bottom) / 2 + 3),
                font_size=9,
                fill="#000000",
            )
        )
    for tick in _y_ticks(low, high):
        y = _r(y_of(tick))
        parts.append(_el("line", x1=left, x2=right, y1=y, y2=y, stroke="#9a9a9a", stroke_width=0.5))
        parts.append(
            _el(
                "text",
                _num(tick),
                x=left - 5,
                y=y + 3,
                font_size=9,
                text_anchor="end",
                fill="#000000",
            )
        )
    parts.append(_el("line", x1=left, x2=left, y1=TOP, y2=BOTTOM, stroke="#000000"))
    parts.append(_el("line", x1=left, x2=right, y1=BOTTOM, y2=BOTTOM, stroke="#000000"))

    if not points:
        parts.append(
            _el(
                "text",
                "No responses yet",
                x=_r((left + right) / 2),
                y=_r((TOP + BOTTOM) / 2),
                font_size=13,
                text_anchor="middle",
                fill="#000000",
            )
        )
        return _el_raw("g", "".join(parts), class_="panel", data_code=instrument.code)

    first, last = points[0][0].toordinal(), points[-1][0].toordinal()

    def x_of(day: date) -> float:
        if first == last:
            return (left + right) / 2
        span = right - left - 2 * X_PAD
        return left + X_PAD + (day.toordinal() - first) / (last - first) * span

    for day in _x_ticks(first, last):
        x = _r(x_of(day))
        parts.append(_el("line", x1=x, x2=x, y1=BOTTOM, y2=BOTTOM + 4, stroke="#000000"))
        parts.append(
            _el(
                "text",
                day.isoformat(),
                x=x,
                y=BOTTOM + 15,
                font_size=9,
                text_anchor="middle",
                fill="#000000",
            )
        )

    colour, dash, shape = SERIES_STYLES[index % len(SERIES_STYLES)]
    coords = [(_r(x_of(day)), _r(y_of(score))) for day, score in points]
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
    for point_index, ((day, score), (x, y)) in enumerate(zip(points, coords, strict=True)):
        parts.append(_marker(shape, x, y, colour, _point_text(instrument, day, score)))
        if point_index in labelled:
            parts.append(
                _el(
                    "text",
                    _num(score, instrument.decimals),
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


def _describe(instrument: Instrument, points: list[tuple[date, float]]) -> str:
    direction = "lower" if instrument.lower_is_better else "higher"
    heading = (
        f"{instrument.code} ({instrument.name}), score {_num(instrument.score_min)} to "
        f"{_num(instrument.score_max)}, {direction} is better:"
    )
    if not points:
        return f"{heading} no responses yet."
    return f"{heading} {'; '.join(_point_text(instrument, d, s) for d, s in points)}."


def _point_text(instrument: Instrument, day: date, score: float) -> str:
    severity = instrument.severity_for(instrument.round_score(score))
    text = f"{day.isoformat()}: {_num(score, instrument.decimals)}"
    return f"{text} ({severity})" if severity else text


def _x_ticks(first: int, last: int) -> list[date]:
    """Up to MAX_X_TICKS distinct days, always including the first and the last."""
    count = min(MAX_X_TICKS, last - first + 1)
    if count == 1:
        return [date.fromordinal(first)]
    days = {round(first + i * (last - first) / (count - 1)) for i in range(count)}
    return [date.fromordinal(day) for day in sorted(days)]


def _y_ticks(low: float, high: float) -> list[float]:
    """Round gridline values, about five of them, from the bottom of the scale."""
    step = next(s for s in (1, 2, 5, 10, 20, 50, 100) if s * 6 >= high - low)
    ticks = []
    value = low
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
