"""Presentation helpers of the patient portal's pages: the template environment, the trend
chart (inline SVG, no script), the QR code of a link (SVG by ``qrcode``), and dates in words.

Kept apart from the routes (``web/portal.py``, ``web/portal_share.py``) so that each stays one
concept: routes parse, call a caller-bound portal service and respond; this turns values into
HTML.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import qrcode
import qrcode.image.svg
from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import escape

from bedside.portal.record import when_words
from bedside.portal.results import TestResults

__all__ = ["day_words", "qr_svg", "render", "trend_svg"]

_READING_CLASS: Final = {
    "within range": "within",
    "above range": "above",
    "below range": "below",
}

_env = Environment(
    loader=PackageLoader("bedside.web", "templates"), autoescape=select_autoescape(["html"])
)
_env.filters["day"] = when_words
_env.filters["reading_class"] = lambda r: _READING_CLASS.get(str(r), "none")


def render(template: str, **context: Any) -> str:
    return _env.get_template(f"portal/{template}.html").render(**context)


def day_words(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    return when_words(datetime.fromtimestamp(seconds, UTC).date().isoformat())


def trend_svg(test: TestResults) -> str:
    """A small line chart of a repeated test's values, oldest to newest, with its points named
    in words for screen readers (the table below it has every value too)."""
    points = test.trend
    if len(points) < 2:
        return ""
    values = [v for _, v in points]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    width, height, pad = 320.0, 120.0, 14.0
    step = (width - 2 * pad) / (len(points) - 1)
    xy = [
        (pad + i * step, height - pad - (v - low) / span * (height - 2 * pad))
        for i, (_, v) in enumerate(points)
    ]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="#0b4f8a"/>' for x, y in xy)
    first, last = points[0], points[-1]
    label = escape(
        f"Trend of {test.name}: {len(points)} results, from {first[1]:g} on "
        f"{when_words(first[0])} to {last[1]:g} on {when_words(last[0])}"
    )
    return (
        f'<svg class="trend" viewBox="0 0 {width:g} {height:g}" role="img" aria-label="{label}">'
        f'<rect width="{width:g}" height="{height:g}" fill="#f8fafc"/>'
        f'<polyline points="{line}" fill="none" stroke="#0b4f8a" stroke-width="2.5"/>{dots}'
        f'<text x="{pad}" y="12" font-size="11" fill="#3d4852">{high:g}</text>'
        f'<text x="{pad}" y="{height - 2:g}" font-size="11" fill="#3d4852">{low:g}</text></svg>'
    )


def qr_svg(text: str) -> str:
    """The QR code of ``text`` as inline SVG markup (error correction M)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=2)
    code.add_data(text)
    code.make(fit=True)
    image = code.make_image(image_factory=qrcode.image.svg.SvgPathImage)
    svg = image.to_string(encoding="unicode")
    return str(svg).replace("<?xml version='1.0' encoding='UTF-8'?>", "")
