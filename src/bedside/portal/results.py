"""Lab results and vital signs as a patient reads them: grouped by test, newest first, each with
its value, unit, reference range and a plain reading (within range / above / below), the points
of a trend for a repeated test, and where the result came from.

Pure: Observations in, values out. The words never rest on a code alone: a test is named by its
``code.text``, else a coding's ``display``, else "A test (code X)" so the code is never the only
label. A reading compares the value with the Observation's own ``referenceRange`` (R4
observation.html#reference-range), and says "no range given" rather than guessing one.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from bedside.portal.sources import Other, PortalSources, with_others

__all__ = [
    "RESULT_CATEGORIES",
    "Result",
    "TestResults",
    "category_of",
    "group_results",
    "name_of",
    "reading_of",
    "unit_words",
]

RESULT_CATEGORIES: Final = ("laboratory", "vital-signs")
_CATEGORY_WORDS: Final = {"laboratory": "Lab test", "vital-signs": "Vital sign"}


@dataclass(frozen=True, slots=True)
class Result:
    id: str
    when: str  # effectiveDateTime (or issued), as given
    value: str  # "131 g/L", "120/80 mmHg"
    number: float | None  # the value to chart (None for text or multi-part values)
    unit: str
    range: str  # "120 to 160 g/L", "above 3.5", "no range given"
    reading: str  # "within range", "above range", "below range", "no range given"
    #: "From City Hospital laboratory, received 4 March 2026" for an upstream source's result
    #: (bedside.origin), else the performer's name ("Valley Lab"), else "Recorded in Bedside"
    source: str
    others: tuple[Other, ...] = ()  # different values other sources hold for this result
    main: str = ""  # which source is authoritative, when there are others


@dataclass(frozen=True, slots=True)
class TestResults:
    key: str  # system|code or the name: what groups the results
    name: str
    kind: str  # "Lab test" / "Vital sign"
    results: tuple[Result, ...]  # newest first

    @property
    def latest(self) -> Result:
        return self.results[0]

    @property
    def trend(self) -> tuple[tuple[str, float], ...]:
        """(when, value) oldest first, for a chart; empty unless repeated with numbers."""
        points = [(r.when, r.number) for r in reversed(self.results) if r.number is not None]
        return tuple((w, n) for w, n in points if n is not None) if len(points) > 1 else ()


def name_of(concept: Any) -> str:
    """A CodeableConcept in words; its code only with a word in front of it."""
    if not isinstance(concept, dict):
        return "A test"
    if isinstance(concept.get("text"), str) and concept["text"].strip():
        return str(concept["text"]).strip()
    codings = [c for c in concept.get("coding", []) if isinstance(c, dict)]
    for c in codings:
        if isinstance(c.get("display"), str) and c["display"].strip():
            return str(c["display"]).strip()
    code = next((c.get("code") for c in codings if c.get("code")), None)
    return f"A test (code {code})" if code else "A test"


def _key(concept: Any, name: str) -> str:
    if isinstance(concept, dict):
        for c in concept.get("coding", []):
            if isinstance(c, dict) and c.get("code"):
                return f"{c.get('system', '')}|{c['code']}"
    return name


def _number(q: Any) -> float | None:
    if isinstance(q, dict) and isinstance(q.get("value"), (int, float)):
        return float(q["value"])
    return None


def _fmt(x: float) -> str:
    """A value as people read it: at most four significant figures (5.96755 → 5.968)."""
    return f"{x:.4g}" if abs(x) < 1e6 else f"{x:,.0f}"


#: UCUM codes and annotations as they are written for people.
_UNITS: Final = {
    "mm[Hg]": "mmHg",
    "kg/m2": "kg/m²",
    "/min": "per minute",
    "Cel": "°C",
    "[degF]": "°F",
    "10*3/uL": "\u00d7 10³/µL",
    "10*6/uL": "\u00d7 10⁶/µL",
    "10*9/L": "\u00d7 10⁹/L",
    "10*12/L": "\u00d7 10¹²/L",
    "ug/L": "µg/L",
    "umol/L": "µmol/L",
    "uL": "µL",
    "[lb_av]": "lb",
    "[in_i]": "in",
}
_ANNOTATION: Final = re.compile(r"\{[^}]*\}")
#: Blood pressure: systolic before diastolic, whatever order the components come in.
_COMPONENT_ORDER: Final = {"8480-6": 0, "8462-4": 1}


def unit_words(unit: str) -> str:
    """A unit without UCUM's brackets and annotations: ``mm[Hg]`` → mmHg, ``{score}`` → ""."""
    if unit in _UNITS:
        return _UNITS[unit]
    return _ANNOTATION.sub("", unit).strip()


def _value(obs: dict[str, Any]) -> tuple[str, float | None, str]:
    q = obs.get("valueQuantity")
    n = _number(q)
    if n is not None and isinstance(q, dict):
        unit = unit_words(str(q.get("unit") or q.get("code") or ""))
        return f"{_fmt(n)} {unit}".strip(), n, unit
    parts = []
    unit = ""
    raw = obs.get("component")
    comps = sorted(
        (c for c in (raw if isinstance(raw, list) else []) if isinstance(c, dict)),
        key=lambda c: _COMPONENT_ORDER.get(_key(c.get("code"), "").rpartition("|")[2], 9),
    )
    for comp in comps:
        cq = comp.get("valueQuantity")
        cn = _number(cq)
        if cn is not None and isinstance(cq, dict):
            parts.append(_fmt(cn))
            unit = unit or unit_words(str(cq.get("unit") or ""))
    if parts:
        return f"{'/'.join(parts)} {unit}".strip(), None, unit
    for key in ("valueString",):
        if isinstance(obs.get(key), str):
            return str(obs[key]), None, ""
    if isinstance(obs.get("valueCodeableConcept"), dict):
        return name_of(obs["valueCodeableConcept"]), None, ""
    return "no value recorded", None, ""


def reading_of(obs: dict[str, Any]) -> tuple[str, str]:
    """(range in words, reading) for an Observation with a numeric value."""
    ranges = obs.get("referenceRange")
    first = ranges[0] if isinstance(ranges, list) and ranges and isinstance(ranges[0], dict) else {}
    low, high = _number(first.get("low")), _number(first.get("high"))
    unit = ""
    for bound in (first.get("high"), first.get("low")):
        if isinstance(bound, dict) and bound.get("unit"):
            unit = f" {unit_words(str(bound['unit']))}".rstrip()
            break
    if low is None and high is None:
        text = first.get("text")
        return (str(text) if isinstance(text, str) else "no range given"), "no range given"
    if low is not None and high is not None:
        words = f"{_fmt(low)} to {_fmt(high)}{unit}"
    elif low is not None:
        words = f"{_fmt(low)}{unit} or more"
    else:
        words = f"up to {_fmt(high or 0)}{unit}"
    value = _number(obs.get("valueQuantity"))
    if value is None:
        return words, "no range given"
    if low is not None and value < low:
        return words, "below range"
    if high is not None and value > high:
        return words, "above range"
    return words, "within range"


def _source(obs: dict[str, Any], names: dict[str, str]) -> str:
    who = ""
    for p in obs.get("performer", []) if isinstance(obs.get("performer"), list) else []:
        if isinstance(p, dict):
            ref = p.get("reference")
            who = str(p.get("display") or names.get(str(ref), ""))
            if who:
                break
    return who or "Recorded in Bedside"


def category_of(obs: dict[str, Any]) -> str | None:
    for cat in obs.get("category", []) if isinstance(obs.get("category"), list) else []:
        for c in cat.get("coding", []) if isinstance(cat, dict) else []:
            if isinstance(c, dict) and c.get("code") in RESULT_CATEGORIES:
                return str(c["code"])
    return None


def group_results(
    observations: list[dict[str, Any]],
    names: dict[str, str] | None = None,
    sources: PortalSources | None = None,
    day: Callable[[Any], str] = str,
) -> list[TestResults]:
    """Lab and vital-sign Observations by test; tests with the newest result first. A result
    of the same test at the same time from two sources with different values is shown once,
    the other under it (:meth:`PortalSources.settle`)."""
    names = names or {}
    sources = sources or PortalSources()
    groups: dict[str, list[tuple[str, Result, dict[str, Any]]]] = defaultdict(list)
    labels: dict[str, tuple[str, str]] = {}
    for obs in observations:
        category = category_of(obs)
        if category is None or obs.get("status") in ("entered-in-error", "cancelled"):
            continue
        name = name_of(obs.get("code"))
        key = _key(obs.get("code"), name)
        value, number, unit = _value(obs)
        range_words, reading = reading_of(obs)
        when = str(obs.get("effectiveDateTime") or obs.get("issued") or "")
        result = Result(
            str(obs.get("id", "")),
            when,
            value,
            number,
            unit,
            range_words,
            reading,
            sources.line(obs, day, _source(obs, names)),
        )
        groups[key].append((when, result, obs))
        labels.setdefault(key, (name, _CATEGORY_WORDS[category]))
    out = []
    for key, items in groups.items():
        items.sort(key=lambda item: item[0], reverse=True)
        name, kind = labels[key]
        found = [(obs, r, when, r.value) for when, r, obs in items]
        settled = sources.settle("Observation", found, day, with_others)
        out.append(TestResults(key, name, kind, tuple(settled)))
    out.sort(key=lambda t: t.latest.when, reverse=True)
    return out
