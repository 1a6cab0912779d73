"""The NEWS2 chart's data: the patient's observation sets over time, scored by the one rule.

A *set* is the parameter Observations taken at one time (one ``effectiveDateTime``), with the
NEWS2 total recorded for it if there is one. Each set's scores come from
:func:`bedside.clinical.news2.assess` over :func:`bedside.clinical.news2_read.read_inputs`, on
the scale its total says (Scale 1 otherwise); an incomplete set shows its readings and no
total. The sync state of a set is its least advanced item's: one reading still on the device
makes the whole set "saved on device".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.clinical.news2 import Assessment, News2Inputs, Parameter, SpO2Scale, assess
from bedside.clinical.news2_codes import is_total, parameter_of
from bedside.clinical.news2_read import read_inputs, spo2_scale_of, total_score
from bedside.device.app import views
from bedside.device.app.news2_svg import FRAMES, aggregate_svg, parameter_svg
from bedside.device.app.pages import Pages
from bedside.device.chart import ChartItem
from bedside.device.ward import ItemState
from bedside.errors import Unprocessable

__all__ = ["SHOWN", "Reading", "Set", "routes", "sets_of"]

SHOWN: Final = 12  # sets on the chart, newest last
_RANK: Final = {"rejected": 0, "needs review": 1, "saved on device": 2, "sent": 3}


@dataclass(frozen=True, slots=True)
class Reading:
    parameter: Parameter
    text: str  # as charted: "18", "Air", "New confusion"
    number: float | None  # for the line: None for air/oxygen and consciousness
    score: int | None


@dataclass(frozen=True, slots=True)
class Set:
    when: float
    readings: dict[Parameter, Reading]
    total: int | None
    assessment: Assessment
    state: str  # the least advanced sync state of its items

    @property
    def band_text(self) -> str:
        return self.assessment.response.label if self.assessment.response else ""


def _number(inputs: News2Inputs, p: Parameter) -> float | None:
    value = {
        Parameter.RESPIRATION_RATE: inputs.respiration_rate,
        Parameter.SPO2: inputs.spo2,
        Parameter.SYSTOLIC_BP: inputs.systolic_bp,
        Parameter.PULSE: inputs.pulse,
        Parameter.TEMPERATURE: inputs.temperature,
    }.get(p)
    return float(value) if isinstance(value, int | Decimal) else None


def _text(inputs: News2Inputs, p: Parameter) -> str | None:
    if p is Parameter.AIR_OR_OXYGEN:
        return None if inputs.on_oxygen is None else ("Oxygen" if inputs.on_oxygen else "Air")
    if p is Parameter.CONSCIOUSNESS:
        return inputs.consciousness.label if inputs.consciousness else None
    number = _number(inputs, p)
    if number is None:
        return None
    return f"{number:.1f}" if p is Parameter.TEMPERATURE else str(int(number))


def sets_of(items: list[ChartItem], states: dict[tuple[str, str], ItemState]) -> list[Set]:
    """The patient's observation sets, oldest first (``items``: their Observations)."""
    groups: dict[str, list[ChartItem]] = defaultdict(list)
    totals: dict[str, ChartItem] = {}
    for item in items:
        r = item.resource
        if r.get("status") in ("entered-in-error", "cancelled"):
            continue
        when = r.get("effectiveDateTime")
        if not isinstance(when, str):
            continue
        if is_total(r):
            totals[when] = item
        elif parameter_of(r) is not None:
            groups[when].append(item)
    out: list[Set] = []
    for when, members in groups.items():
        total_item = totals.get(when)
        try:
            scale = spo2_scale_of(total_item.resource) if total_item else SpO2Scale.SCALE_1
            inputs = read_inputs([m.resource for m in members], spo2_scale=scale)
            stated = total_score(total_item.resource) if total_item else None
        except Unprocessable:
            continue  # not a set this chart can draw (two pulses at one time, say)
        assessment = assess(inputs)
        readings = {}
        for p in Parameter:
            text = _text(inputs, p)
            if text is not None:
                readings[p] = Reading(p, text, _number(inputs, p), assessment.scores.get(p))
        labels = [
            views.state_label(s.state if (s := states.get((m.type, m.id))) else None, m)
            for m in [*members, *([total_item] if total_item else [])]
        ]
        state = min(labels, key=lambda label: _RANK.get(label, 9))
        moment = views.parse_when(when) or 0.0
        total = stated if stated is not None else assessment.total
        out.append(Set(moment, readings, total, assessment, state))
    return sorted(out, key=lambda s: s.when)


def routes(pages: Pages) -> list[Route]:
    node = pages.node

    def chart(request: Request) -> Response:
        pid = request.path_params["pid"]
        observations = node.chart(pid, "Observation")
        sets = sets_of(observations, node.item_states(pid))
        shown = sets[-SHOWN:]
        panels = [(p, [parameter_svg(p, shown, f) for f in FRAMES]) for p in Parameter]
        return pages.render(
            request,
            "trend",
            title="NEWS2 chart",
            banner=pages.banner(pid),
            patient_id=pid,
            sets=shown,
            older=len(sets) - len(shown),
            panels=panels,
            aggregate=[aggregate_svg(shown, f) for f in FRAMES],
            parameters=list(Parameter),
        )

    return [Route("/patients/{pid}/news2", chart, methods=["GET"])]
