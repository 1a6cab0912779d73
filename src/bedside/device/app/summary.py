"""The patient chart on one screen: the banner and the summary sections, from one chart read.

:func:`summarise` takes what :meth:`bedside.device.Node.chart` returned for a patient and the
sync state of what this device recorded, and sorts it into what a clinician checks first:
active problems, active medications, allergies, the latest vital signs with the latest NEWS2,
outstanding tasks (Tasks for the patient, which reach the device by the patient they are
``for``, ADR 0018, and the open activities of active CarePlans), recent notes and encounters.
Each section keeps all its lines (the
drill-down page lists them all); the summary shows the first few.

The banner (name, date of birth and age, sex, identifier, allergy flag) is on every patient
screen. "No allergies recorded" is never shown as "no known allergies": only a record saying
so (SNOMED CT 716186003 and its kin) gives that.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

from bedside.clinical.news2 import Parameter
from bedside.clinical.news2_codes import is_total, parameter_of
from bedside.device.app import views
from bedside.device.chart import ChartItem
from bedside.device.index import display_of
from bedside.device.notes import sign_state
from bedside.device.ward import ItemState
from bedside.origin import source_name

__all__ = ["Banner", "Line", "Section", "Summary", "banner_of", "latest_vitals", "summarise"]

_ACTIVE_CONDITION: Final = frozenset({"active", "recurrence", "relapse"})
_NOT_TRUE: Final = frozenset({"refuted", "entered-in-error"})
_OPEN_TASK: Final = frozenset(
    {"draft", "requested", "received", "accepted", "ready", "in-progress", "on-hold"}
)
_OPEN_ACTIVITY: Final = frozenset({"not-started", "scheduled", "in-progress", "on-hold"})
_NO_KNOWN_ALLERGY: Final = frozenset({"716186003", "409137002", "428607008", "429625007"})
_ORDER: Final = {p: i for i, p in enumerate(Parameter)}


@dataclass(frozen=True, slots=True)
class Banner:
    """Whose record is open (issue 16: on every patient screen)."""

    id: str
    name: str
    born: str
    age: str
    sex: str
    identifier: str
    allergy: str  # "Allergies: penicillin" | "No known allergies" | "Allergies not recorded"
    allergy_level: str  # allergies | none-known | unknown


@dataclass(frozen=True, slots=True)
class Line:
    """One item of a section, as listed."""

    type: str
    id: str
    title: str
    detail: str
    when: float | None
    state: str
    source: str = ""  # "From City Hospital laboratory" for an upstream system's item


@dataclass(frozen=True, slots=True)
class Section:
    key: str
    title: str
    empty: str  # what the section says when it has nothing
    lines: tuple[Line, ...]


@dataclass(frozen=True, slots=True)
class Summary:
    banner: Banner
    sections: tuple[Section, ...]
    latest_news2: views.Score | None

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)


def _coded(value: object) -> set[str]:
    if not isinstance(value, dict):
        return set()
    return {
        str(c.get("code"))
        for c in value.get("coding") or ()
        if isinstance(c, dict) and c.get("code")
    }


def _status(resource: dict[str, Any], element: str) -> str | None:
    codes = _coded(resource.get(element))
    return next(iter(sorted(codes)), None) if codes else None


def _current_allergy(r: dict[str, Any]) -> bool:
    if _status(r, "verificationStatus") in _NOT_TRUE:
        return False
    return _status(r, "clinicalStatus") not in ("inactive", "resolved")


def banner_of(patient: str, items: Iterable[ChartItem]) -> Banner:
    """The banner of ``patient`` from their chart items (their Patient and allergies)."""
    record: dict[str, Any] = {"resourceType": "Patient", "id": patient}
    allergies: list[str] = []
    none_known = False
    held = False
    for item in items:
        if item.type == "Patient" and item.id == patient:
            record, held = item.resource, True
        elif item.type == "AllergyIntolerance" and _current_allergy(item.resource):
            if _coded(item.resource.get("code")) & _NO_KNOWN_ALLERGY:
                none_known = True
            else:
                allergies.append(views.concept(item.resource.get("code")) or "unnamed allergy")
    name, birth, gender = display_of(record)
    idents = [i for i in record.get("identifier") or () if isinstance(i, dict) and i.get("value")]
    ident = next((i for i in idents if i.get("use") in ("usual", "official")), None)
    ident = ident or (idents[0] if idents else None)
    identifier = ""
    if ident is not None:
        kind = views.concept(ident.get("type")) or "ID"
        identifier = f"{kind} {ident['value']}"
    if allergies:
        allergy, level = f"Allergies: {', '.join(sorted(set(allergies)))}", "allergies"
    elif none_known:
        allergy, level = "No known allergies", "none-known"
    elif not held:  # break-glass on a patient the device holds nothing of: not "none"
        allergy, level = (
            "Allergies not known: this patient's record is not on this device",
            "unknown",
        )
    else:
        allergy, level = "Allergies not recorded", "unknown"
    return Banner(
        id=patient,
        name=name or ("Name not recorded" if held else "Name not on this device"),
        born=views.born(birth),
        age=views.age(birth),
        sex=views.sex(gender),
        identifier=identifier or "No identifier recorded",
        allergy=allergy,
        allergy_level=level,
    )


def _newest(lines: Iterable[Line]) -> tuple[Line, ...]:
    return tuple(sorted(lines, key=lambda line: -(line.when or 0.0)))


def _vital(r: dict[str, Any]) -> bool:
    if r.get("resourceType") != "Observation" or r.get("status") in _NOT_TRUE | {"cancelled"}:
        return False
    categories = r.get("category") or []
    coded = set().union(*(_coded(c) for c in categories)) if categories else set()
    return "vital-signs" in coded or parameter_of(r) is not None or is_total(r)


def _from(resource: dict[str, Any]) -> str:
    """The upstream system an item came from, in words (bedside.origin), or nothing."""
    name = source_name(resource)
    return f"From {name}" if name else ""


def summarise(
    patient: str, items: list[ChartItem], states: dict[tuple[str, str], ItemState]
) -> Summary:
    """The banner and sections of ``patient``'s chart (``items`` from ``Node.chart``)."""

    def line(item: ChartItem, title: str, detail: str = "", when: float | None = None) -> Line:
        state = states.get((item.type, item.id))
        return Line(
            item.type,
            item.id,
            title or item.type,
            detail,
            when if when is not None else views.when_of(item.resource),
            views.state_label(state.state if state else None, item),
            _from(item.resource),
        )

    def pick(rtype: str, keep: Callable[[dict[str, Any]], bool]) -> list[ChartItem]:
        return [i for i in items if i.type == rtype and keep(i.resource)]

    problems = [
        line(i, views.concept(i.resource.get("code")), _since(i.resource.get("onsetDateTime")))
        for i in pick(
            "Condition",
            lambda r: (
                _status(r, "verificationStatus") not in _NOT_TRUE
                and (_status(r, "clinicalStatus") or "active") in _ACTIVE_CONDITION
            ),
        )
    ]
    medications = [
        line(
            i,
            views.concept(i.resource.get("medicationCodeableConcept"))
            or views.reference(i.resource.get("medicationReference")),
            _dose(i.resource),
        )
        for i in items
        if (i.type == "MedicationRequest" and i.resource.get("status") in ("active", "on-hold"))
        or (i.type == "MedicationStatement" and i.resource.get("status") == "active")
    ]
    allergies = [
        line(i, views.concept(i.resource.get("code")), _reactions(i.resource))
        for i in pick("AllergyIntolerance", _current_allergy)
    ]
    vitals_all = [
        line(i, _vital_title(i.resource), views.value_text(i.resource))
        for i in items
        if i.type == "Observation" and _vital(i.resource)
    ]
    tasks = [
        line(
            i,
            str(i.resource.get("description") or views.concept(i.resource.get("code"))),
            str(i.resource.get("status", "")).replace("-", " "),
        )
        for i in pick("Task", lambda r: r.get("status") in _OPEN_TASK)
    ]
    for plan in pick("CarePlan", lambda r: r.get("status") in ("active", "on-hold")):
        for activity in plan.resource.get("activity") or ():
            detail = activity.get("detail") if isinstance(activity, dict) else None
            if isinstance(detail, dict) and detail.get("status") in _OPEN_ACTIVITY:
                title = str(detail.get("description") or views.concept(detail.get("code")))
                tasks.append(line(plan, title, str(detail["status"]).replace("-", " ")))
    notes = [
        line(
            i,
            str(
                i.resource.get("description")
                or i.resource.get("title")
                or views.concept(i.resource.get("type"))
            ),
            views.concept(i.resource.get("category")) or sign_state(i.resource),
        )
        for i in items
        if i.type in ("DocumentReference", "Composition")
        and i.resource.get("status") not in ("entered-in-error", "superseded")
    ]
    encounters = [
        line(
            i,
            views.concept(i.resource.get("type")) or views.concept(i.resource.get("class")),
            str(i.resource.get("status", "")).replace("-", " "),
        )
        for i in pick("Encounter", lambda r: r.get("status") != "entered-in-error")
    ]
    vitals = _newest(vitals_all)
    totals = [i for i in items if i.type == "Observation" and is_total(i.resource)]
    totals = [i for i in totals if i.resource.get("status") not in _NOT_TRUE]
    latest = max(totals, key=lambda i: views.when_of(i.resource) or 0.0, default=None)
    held = any(i.type == "Patient" and i.id == patient for i in items)

    def empty(text: str) -> str:
        """What an empty section says: on a patient the device holds nothing of (break-glass
        offline), that it does not know, never that there is none."""
        return text if held else "Not on this device: this does not mean there are none."

    return Summary(
        banner=banner_of(patient, items),
        sections=(
            Section(
                "problems",
                "Active problems",
                empty("No active problems recorded."),
                _newest(problems),
            ),
            Section(
                "medications",
                "Active medications",
                empty("No active medications."),
                _newest(medications),
            ),
            Section("allergies", "Allergies", empty("No allergies recorded."), _newest(allergies)),
            Section("vitals", "Vital signs", empty("No vital signs recorded."), vitals),
            Section("tasks", "Outstanding tasks", empty("No outstanding tasks."), _newest(tasks)),
            Section("notes", "Recent notes", empty("No notes."), _newest(notes)),
            Section("encounters", "Encounters", empty("No encounters."), _newest(encounters)),
        ),
        latest_news2=views.news2_of(latest.resource if latest else None),
    )


def latest_vitals(section: Section) -> tuple[Line, ...]:
    """One line per kind of vital sign, the newest (NEWS2 parameters in chart order first)."""
    seen: dict[str, Line] = {}
    for item in section.lines:  # newest first
        seen.setdefault(item.title, item)
    rank = {p.label: _ORDER[p] for p in Parameter}
    rank["NEWS2"] = -1
    return tuple(sorted(seen.values(), key=lambda line: (rank.get(line.title, 99), line.title)))


def _vital_title(r: dict[str, Any]) -> str:
    if is_total(r):
        return "NEWS2"
    parameter = parameter_of(r)
    if parameter is not None:
        return parameter.label
    return views.concept(r.get("code")) or "Observation"


def _since(onset: object) -> str:
    return f"since {views.born(onset[:10])}" if isinstance(onset, str) and onset else ""


def _dose(r: dict[str, Any]) -> str:
    for dosage in r.get("dosageInstruction") or r.get("dosage") or ():
        if isinstance(dosage, dict) and isinstance(dosage.get("text"), str):
            return str(dosage["text"])
    return ""


def _reactions(r: dict[str, Any]) -> str:
    found = [
        views.concept(m)
        for reaction in r.get("reaction") or ()
        if isinstance(reaction, dict)
        for m in reaction.get("manifestation") or ()
    ]
    critical = "high criticality" if r.get("criticality") == "high" else ""
    return "; ".join(filter(None, [", ".join(filter(None, found)), critical]))
