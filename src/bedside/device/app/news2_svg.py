"""NEWS2 trends drawn as SVG on the device, in the style of the RCP observation chart.

One panel per parameter: horizontal bands by score, each labelled with its range and its score
in words so the chart reads without colour, shaded light to dark and patterned (dots for 2,
hatching for 3) so it reads for colour-blind eyes and in greyscale; the readings as points
joined by a line, each labelled with its value. The band edges are not typed in here: they
are found by asking :func:`bedside.clinical.news2.assess` for the score of every value in the
panel's range, so the chart cannot drift from the rule. A last panel charts the aggregate
against the risk thresholds.

Drawn with presentation attributes only (no ``style``): the app's Content-Security-Policy
allows no inline styles. Every value is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from html import escape
from typing import TYPE_CHECKING, Final

from markupsafe import Markup

from bedside.clinical.news2 import Consciousness, News2Inputs, Parameter, assess
from bedside.device.app import views

if TYPE_CHECKING:
    from bedside.device.app.trend import Set

__all__ = [
    "BOTTOM",
    "COMPACT",
    "FILL",
    "FRAMES",
    "PLOT_H",
    "RANGES",
    "TOP",
    "WIDE",
    "Frame",
    "aggregate_svg",
    "bands",
    "parameter_svg",
]

FILL: Final = {0: "#ffffff", 1: "#fff2b3", 2: "#ffcf8a", 3: "#f2a0a0"}
TOP: Final = 22
PLOT_H: Final = 150
BOTTOM: Final = 36


@dataclass(frozen=True, slots=True)
class Frame:
    """One drawing size: a phone shows the compact one, a ward computer the wide one (CSS)."""

    name: str
    width: int
    left: int  # room for the band labels
    font: int
    sets: int  # how many of the latest sets it draws


COMPACT: Final = Frame("compact", 400, 118, 13, 6)
WIDE: Final = Frame("wide", 900, 150, 12, 12)
FRAMES: Final = (COMPACT, WIDE)
#: (lowest, highest, step) of each numeric panel's axis
RANGES: Final[dict[Parameter, tuple[Decimal, Decimal, Decimal]]] = {
    p: (Decimal(low), Decimal(high), Decimal(step))
    for p, low, high, step in (
        (Parameter.RESPIRATION_RATE, "4", "40", "1"),
        (Parameter.SPO2, "80", "100", "1"),
        (Parameter.SYSTOLIC_BP, "60", "240", "1"),
        (Parameter.PULSE, "30", "170", "1"),
        (Parameter.TEMPERATURE, "33.0", "41.0", "0.1"),
    )
}
_FIELD: Final = {
    Parameter.RESPIRATION_RATE: "respiration_rate",
    Parameter.SPO2: "spo2",
    Parameter.SYSTOLIC_BP: "systolic_bp",
    Parameter.PULSE: "pulse",
    Parameter.TEMPERATURE: "temperature",
}
#: How a categorical reading is marked on its panel (ACVPU letters; O2 for oxygen)
_LETTER: Final = {"Oxygen": "O\u2082", "Air": "Air", "New confusion": "C"}
_CATEGORIES: Final = {
    Parameter.AIR_OR_OXYGEN: (("Air", {"on_oxygen": False}), ("Oxygen", {"on_oxygen": True})),
    Parameter.CONSCIOUSNESS: (
        ("Alert (A)", {"consciousness": Consciousness.ALERT}),
        ("C, V, P or U", {"consciousness": Consciousness.VOICE}),
    ),
}


@cache
def bands(parameter: Parameter) -> tuple[tuple[Decimal, Decimal, int], ...]:
    """(lowest, highest, score) runs over the panel's range, from the rule itself."""
    low, high, step = RANGES[parameter]
    runs: list[tuple[Decimal, Decimal, int]] = []
    value = low
    while value <= high:
        given = value if parameter is Parameter.TEMPERATURE else int(value)
        score = assess(News2Inputs(**{_FIELD[parameter]: given})).scores[parameter]  # type: ignore[arg-type]
        if runs and runs[-1][2] == score:
            runs[-1] = (runs[-1][0], value, score)
        else:
            runs.append((value, value, score))
        value += step
    return tuple(runs)


def _defs(key: str) -> str:
    return (
        f'<defs><pattern id="dots-{key}" width="6" height="6" patternUnits="userSpaceOnUse">'
        '<circle cx="3" cy="3" r="1" fill="#6b4a00"/></pattern>'
        f'<pattern id="hatch-{key}" width="7" height="7" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="7" stroke="#7a1010" '
        'stroke-width="1.5"/></pattern></defs>'
    )


def _band(
    f: Frame, key: str, y: float, h: float, score: int, label: str, *, scored: bool = True
) -> str:
    box = f'x="{f.left}" y="{y:.1f}" width="{f.width - f.left}" height="{h:.1f}"'
    out = f'<rect {box} fill="{FILL[score]}" stroke="#8a96a3" stroke-width="0.5"/>'
    if score >= 2:
        pattern = "hatch" if score == 3 else "dots"
        out += f'<rect {box} fill="url(#{pattern}-{key})" opacity="0.35"/>'
    words = f" \u00b7 {score}" if scored else ""
    out += (
        f'<text x="{f.left - 5}" y="{y + h / 2 + f.font / 3:.1f}" text-anchor="end" '
        f'font-size="{f.font - 1}">{escape(label)}{words}</text>'
    )
    return out


def _columns(f: Frame, sets: Sequence[Set]) -> list[float]:
    width = (f.width - f.left) / max(len(sets), 1)
    return [f.left + width * (i + 0.5) for i in range(len(sets))]


def _times(f: Frame, sets: Sequence[Set], xs: list[float], y: float) -> str:
    out = ""
    for s, x in zip(sets, xs, strict=True):
        day, hour = views.moment(s.when).rsplit(" ", 1)
        for line, text in enumerate((day, hour)):
            out += (
                f'<text x="{x:.1f}" y="{y + (line + 1) * (f.font + 2):.1f}" '
                f'text-anchor="middle" font-size="{f.font - 2}">{escape(text)}</text>'
            )
    return out


def _svg(f: Frame, key: str, title: str, desc: str, height: float, body: str) -> Markup:
    return Markup(  # noqa: S704 - every value inside is escaped above
        f'<svg class="trend trend-{f.name}" viewBox="0 0 {f.width} {height:.0f}" role="img" '
        f'aria-labelledby="t-{key} d-{key}" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="t-{key}">{escape(title)}</title><desc id="d-{key}">{escape(desc)}</desc>'
        f"{_defs(key)}{body}</svg>"
    )


def _label(low: Decimal, high: Decimal, first: bool, last: bool) -> str:
    if first:
        return f"\u2264{high}"
    if last:
        return f"\u2265{low}"
    return str(low) if low == high else f"{low}\u2013{high}"


def _point(f: Frame, x: float, y: float, text: str) -> str:
    return (
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="5" fill="#111"/>'
        f'<text x="{x:.1f}" y="{y - 8:.1f}" text-anchor="middle" font-size="{f.font}" '
        f'font-weight="bold">{escape(text)}</text>'
    )


def parameter_svg(parameter: Parameter, sets: Sequence[Set], f: Frame = WIDE) -> Markup:
    """One parameter's panel over the latest ``f.sets`` of ``sets`` (oldest first)."""
    sets = sets[-f.sets :]
    key = f"{parameter.value.replace('_', '-')}-{f.name}"
    xs = _columns(f, sets)
    readings = [(x, s.readings.get(parameter)) for s, x in zip(sets, xs, strict=True)]
    desc = "; ".join(
        f"{r.text} at {views.moment(s.when)}, score {r.score}"
        for s, (_, r) in zip(sets, readings, strict=True)
        if r is not None
    )
    title = f"{parameter.label} over time"
    body = ""
    if parameter in _CATEGORIES:
        rows = _CATEGORIES[parameter]
        row_h = 34.0
        for i, (name, given) in enumerate(rows):
            score = assess(News2Inputs(**given)).scores[parameter]  # type: ignore[arg-type]
            body += _band(f, key, TOP + row_h * i, row_h, score, name)
        for x, r in readings:
            if r is not None:
                y = TOP + row_h * (0 if r.score == 0 else 1) + row_h / 2 + 6
                body += _point(f, x, y, _LETTER.get(r.text, r.text[:1]))
        body += _times(f, sets, xs, TOP + row_h * len(rows))
        height = TOP + row_h * len(rows) + BOTTOM
        return _svg(f, key, title, desc or "No readings.", height, body)
    step = float(RANGES[parameter][2])
    runs = bands(parameter)
    row = PLOT_H / len(runs)  # one row per band, as on the paper chart, highest values on top

    def y_of(value: float) -> float:
        """Inside its band's row, in proportion; beyond the axis, at its end."""
        for i, (a, b, _) in enumerate(runs):
            if value <= float(b) or i == len(runs) - 1:
                inside = (min(max(value, float(a)), float(b)) - float(a) + step / 2) / (
                    float(b) - float(a) + step
                )
                return TOP + PLOT_H - row * (i + inside)
        raise AssertionError("unreachable")

    for i, (a, b, score) in enumerate(runs):
        top = TOP + PLOT_H - row * (i + 1)
        body += _band(f, key, top, row, score, _label(a, b, i == 0, i == len(runs) - 1))
    points = [(x, y_of(r.number), r) for x, r in readings if r is not None and r.number is not None]
    if len(points) > 1:
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y, _ in points)
        body += f'<polyline points="{path}" fill="none" stroke="#111" stroke-width="1.5"/>'
    for x, y, r in points:
        body += _point(f, x, y, r.text)
    body += _times(f, sets, xs, TOP + PLOT_H)
    return _svg(f, key, title, desc or "No readings.", TOP + PLOT_H + BOTTOM, body)


#: Aggregate bands: (lowest, highest, fill score, label)
_RISK: Final = (
    (0, 0, 0, "0 routine"),
    (1, 4, 1, "1\u20134 low"),
    (5, 6, 2, "5\u20136 medium"),
    (7, 15, 3, "7+ high"),
)


def aggregate_svg(sets: Sequence[Set], f: Frame = WIDE) -> Markup:
    """The NEWS2 aggregate over the latest sets against the RCP thresholds (0, 1-4, 5-6, 7+)."""
    sets = sets[-f.sets :]
    key = f"news2-{f.name}"
    xs = _columns(f, sets)
    top_value = 15  # the axis (a higher total is drawn at the top, labelled with its value)
    half = PLOT_H / (top_value + 1) / 2

    def y_of(value: float) -> float:
        return TOP + PLOT_H * (1 - (min(value, top_value) + 0.5) / (top_value + 1))

    body = ""
    for low, high, score, label in _RISK:
        top, bottom = y_of(high) - half, y_of(low) + half
        body += _band(f, key, top, bottom - top, score, label, scored=False)
    scored = [(x, s) for x, s in zip(xs, sets, strict=True) if s.total is not None]
    if len(scored) > 1:
        path = " ".join(f"{x:.1f},{y_of(s.total or 0):.1f}" for x, s in scored)
        body += f'<polyline points="{path}" fill="none" stroke="#111" stroke-width="1.5"/>'
    for x, s in zip(xs, sets, strict=True):
        if s.total is None:
            body += (
                f'<text x="{x:.1f}" y="{TOP + PLOT_H - 20:.1f}" text-anchor="middle" '
                f'font-size="{f.font - 2}">incomplete</text>'
            )
        else:
            body += _point(f, x, y_of(s.total), str(s.total))
    body += _times(f, sets, xs, TOP + PLOT_H)
    desc = "; ".join(
        f"NEWS2 {s.total} at {views.moment(s.when)} ({s.band_text})"
        for s in sets
        if s.total is not None
    )
    title = "NEWS2 aggregate over time"
    return _svg(f, key, title, desc or "No complete sets.", TOP + PLOT_H + BOTTOM, body)
