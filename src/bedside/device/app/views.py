"""How the app writes things for a clinician: names, ages, times, FHIR values, sync states.

Plain functions from device data to short text, shared by every screen so that a time, an age
or a sync state reads the same everywhere. Nothing here reads the device or writes anything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from bedside.clinical.news2 import RESPONSES, Band, Response, risk_band
from bedside.clinical.news2_codes import is_total, parameter_of
from bedside.clinical.news2_read import component_scores, total_score
from bedside.device.chart import ChartItem
from bedside.errors import Unprocessable

__all__ = [
    "STATE_LABELS",
    "Score",
    "age",
    "born",
    "concept",
    "moment",
    "news2_of",
    "parse_when",
    "reference",
    "sex",
    "since",
    "state_label",
    "value_text",
    "when_of",
]

#: Outbox state -> what the clinician reads next to an item (G1).
STATE_LABELS: Final = {
    "pending": "saved on device",
    "sending": "sent",
    "confirmed": "confirmed",
    "needs-review": "needs review",
    "rejected": "rejected",
}
_FROM_SERVER: Final = "from server"
_WHEN_ELEMENTS: Final = (
    "effectiveDateTime",
    "effectiveInstant",
    "occurrenceDateTime",
    "onsetDateTime",
    "performedDateTime",
    "authoredOn",
    "recordedDate",
    "issued",
    "date",
)


def state_label(state: str | None, item: ChartItem | None = None) -> str:
    """The sync state to show: the latest event's, else "from server" for pulled data."""
    if state is not None:
        return STATE_LABELS.get(state, state)
    if item is not None and item.local_state != "synced":
        return STATE_LABELS["pending"]
    return _FROM_SERVER


def parse_when(text: object) -> float | None:
    """A FHIR date, dateTime or instant as UNIX seconds (a bare date: its midnight UTC)."""
    if not isinstance(text, str) or len(text) < 4:
        return None
    try:
        if len(text) <= 10:
            parts = [int(p) for p in text.split("-")] + [1, 1]
            return datetime(parts[0], parts[1], parts[2], tzinfo=UTC).timestamp()
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def moment(epoch: float | None, *, with_date: bool = True) -> str:
    """Local time as a ward chart writes it: "21 Nov 14:05" (or "14:05")."""
    if epoch is None:
        return ""
    local = datetime.fromtimestamp(epoch)
    if not with_date:
        return local.strftime("%H:%M")
    return f"{local.day} {local.strftime('%b %H:%M')}"


def since(epoch: float | None, now: float | None = None) -> str:
    """How long ago: "just now", "12 min ago", "3 h ago", "2 days ago"."""
    if epoch is None:
        return "never"
    seconds = (time.time() if now is None else now) - epoch
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 48 * 3600:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} days ago"


def born(birth_date: str | None) -> str:
    """A birth date as "3 Feb 1980"; a partial date as given."""
    if not birth_date:
        return "not recorded"
    try:
        day = date.fromisoformat(birth_date)
    except ValueError:
        return birth_date
    return f"{day.day} {day.strftime('%b %Y')}"


def age(birth_date: str | None, today: date | None = None) -> str:
    """Age in whole years ("46 y"); months under two ("14 mo"); empty when unknown."""
    if not birth_date:
        return ""
    try:
        day = date.fromisoformat(birth_date)
    except ValueError:
        return ""
    today = today or date.today()
    years = today.year - day.year - ((today.month, today.day) < (day.month, day.day))
    if years >= 2:
        return f"{years} y"
    months = (today.year - day.year) * 12 + today.month - day.month - (today.day < day.day)
    return f"{max(months, 0)} mo"


def sex(gender: str | None) -> str:
    return (gender or "not recorded").capitalize()


def concept(value: object) -> str:
    """A CodeableConcept (or Coding) as text: its text, else a display, else a code."""
    if isinstance(value, list):
        return ", ".join(filter(None, (concept(v) for v in value)))
    if not isinstance(value, dict):
        return ""
    if isinstance(value.get("text"), str):
        return str(value["text"])
    for coding in value.get("coding") or ([value] if "code" in value else []):
        if isinstance(coding, dict):
            for key in ("display", "code"):
                if isinstance(coding.get(key), str):
                    return str(coding[key])
    return ""


def reference(value: object) -> str:
    """A Reference as text: its display, else the reference itself."""
    if isinstance(value, list):
        return ", ".join(filter(None, (reference(v) for v in value)))
    if not isinstance(value, dict):
        return ""
    return str(value.get("display") or value.get("reference") or "")


def _quantity(q: object) -> str:
    if not isinstance(q, dict) or "value" not in q:
        return ""
    unit = q.get("unit") or q.get("code") or ""
    return f"{q['value']} {unit}".strip()


def value_text(resource: dict[str, Any]) -> str:
    """An Observation's value as read on a chart ("18 /min", "Air", "Alert", "128/76 mmHg")."""
    if is_total(resource):
        return str(resource.get("valueInteger", ""))
    if "valueQuantity" in resource:
        return _quantity(resource["valueQuantity"])
    if "valueCodeableConcept" in resource:
        return concept(resource["valueCodeableConcept"])
    if isinstance(resource.get("valueBoolean"), bool):
        if parameter_of(resource) is not None:  # "breathing room air": true on air
            return "Air" if resource["valueBoolean"] else "Oxygen"
        return "Yes" if resource["valueBoolean"] else "No"
    for key in ("valueString", "valueInteger"):
        if key in resource:
            return str(resource[key])
    parts = [_quantity(c.get("valueQuantity")) for c in resource.get("component") or ()]
    numbers = [p.split(" ")[0] for p in parts if p]
    if numbers:
        unit = parts[0].split(" ", 1)[1] if " " in parts[0] else ""
        return f"{'/'.join(numbers)} {unit}".strip()
    return ""


def when_of(resource: dict[str, Any]) -> float | None:
    """The clinically relevant time of a resource (effective, onset, authored, date...)."""
    for key in _WHEN_ELEMENTS:
        found = parse_when(resource.get(key))
        if found is not None:
            return found
    period = resource.get("period") or resource.get("effectivePeriod")
    if isinstance(period, dict):
        return parse_when(period.get("start"))
    return None


@dataclass(frozen=True, slots=True)
class Score:
    """A stored NEWS2 total as the app shows it."""

    total: int
    band: Band
    response: Response
    taken: float | None

    @property
    def band_text(self) -> str:
        """The band in words, so the score reads without its colour."""
        return self.response.label


_SCORES: dict[tuple[object, ...], Score | None] = {}


def news2_of(total: dict[str, Any] | None) -> Score | None:
    """The score, band and response of a NEWS2 total Observation (None when unreadable).

    Remembered per resource version: the patient list shows 300 of them on every refresh.
    """
    if total is None:
        return None
    meta = total.get("meta") or {}
    key = (
        total.get("id"),
        meta.get("versionId"),
        total.get("status"),
        total.get("valueInteger"),
        len(total.get("component") or ()),
    )
    if key[0] is not None and key in _SCORES:
        return _SCORES[key]
    if len(_SCORES) > 10_000:
        _SCORES.clear()
    found = _score_of(total)
    if key[0] is not None:
        _SCORES[key] = found
    return found


def _score_of(total: dict[str, Any]) -> Score | None:
    try:
        value = total_score(total)
    except Unprocessable:
        return None
    if value is None:
        return None
    try:
        scores = component_scores(total)
    except Unprocessable:  # a total from elsewhere without readable components: by the total
        scores = {}
    band = risk_band(value, max(scores.values(), default=0))
    return Score(value, band, RESPONSES[band], when_of(total))
