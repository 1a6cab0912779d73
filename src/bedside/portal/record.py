"""A patient's own record for the portal, read through ``Repository(store, caller)``.

Every read is the caller's own FHIR search, so the policy, the scopes of the portal's grant and
the audit apply exactly as for any app: a patient sees their own record and nothing else, and
each page they open is in their own "who has seen my record" as their own access.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from bedside.audit.entry import Auditor
from bedside.auth.caller import Caller
from bedside.errors import FhirError, Forbidden
from bedside.policy.decide import Policy
from bedside.portal.details import detail_lines
from bedside.portal.results import TestResults, group_results, name_of
from bedside.portal.sources import Other, PortalSources, with_others
from bedside.rest import FhirRequest, Repository
from bedside.store.base import Store
from bedside.upstream import ledger

__all__ = ["MAX_PAGES", "Entry", "PortalRecord", "dose_words", "search_all", "when_words"]

_COUNT: Final = "1000"
MAX_PAGES: Final = 20
#: Appointment.status (R4 appointmentstatus) in words.
_APPOINTMENT_WORDS: Final = {
    "proposed": "Suggested, not confirmed yet",
    "pending": "Waiting to be confirmed",
    "booked": "Booked",
    "arrived": "You arrived",
    "fulfilled": "Attended",
    "cancelled": "Cancelled",
    "noshow": "Missed",
    "entered-in-error": "Recorded by mistake",
    "checked-in": "Checked in",
    "waitlist": "On the waiting list",
}
_ID: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}")  # FHIR R4 datatypes.html#id
_MONTHS: Final = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of a list: what, when, and a detail in words."""

    id: str
    what: str
    when: str
    detail: str
    current: bool  # active medicine, upcoming appointment, active condition
    link: str = ""  # where its details or file are, if anywhere
    source: str = ""  # where it came from, in words (bedside.portal.sources)
    others: tuple[Other, ...] = ()  # different values other sources hold for the same thing
    main: str = ""  # which source is authoritative, when there are others


def when_words(value: Any) -> str:
    """``2026-03-04T10:00:00Z`` → "4 March 2026"; partial dates as far as they go."""
    text = str(value or "")[:10]
    parts = text.split("-")
    try:
        if len(parts) == 3:
            return f"{int(parts[2])} {_MONTHS[int(parts[1]) - 1]} {parts[0]}"
        if len(parts) == 2:
            return f"{_MONTHS[int(parts[1]) - 1]} {parts[0]}"
    except (ValueError, IndexError):
        return text
    return text


def dose_words(request: dict[str, Any]) -> str:
    """A MedicationRequest's dose instructions in words (dosage.text, else built from timing)."""
    out = []
    for dosage in request.get("dosageInstruction", []) or []:
        if not isinstance(dosage, dict):
            continue
        if isinstance(dosage.get("text"), str) and dosage["text"].strip():
            out.append(dosage["text"].strip())
            continue
        words = []
        for dr in dosage.get("doseAndRate", []) or []:
            q = dr.get("doseQuantity") if isinstance(dr, dict) else None
            if isinstance(q, dict) and q.get("value") is not None:
                words.append(f"take {q['value']:g} {q.get('unit', '')}".strip())
        rep = (dosage.get("timing") or {}).get("repeat") or {}
        freq, period, unit = rep.get("frequency"), rep.get("period"), rep.get("periodUnit")
        units = {"h": "hour", "d": "day", "wk": "week", "mo": "month"}
        if freq and period and unit in units:
            times = {1: "once", 2: "twice"}.get(int(freq), f"{int(freq)} times")
            every = units[unit] if float(period) == 1 else f"{period:g} {units[unit]}s"
            words.append(f"{times} a {every}" if float(period) == 1 else f"{times} every {every}")
        if dosage.get("asNeededBoolean"):
            words.append("when needed")
        if words:
            out.append(", ".join(words).capitalize())
    return "; ".join(out) or "No dose instructions recorded"


_CONDITION_WORDS: Final = {  # "active" needs no words: it is listed under "Current"
    "recurrence": "Come back",
    "relapse": "Come back",
    "inactive": "No longer active",
    "remission": "In remission",
    "resolved": "Resolved",
}
_ALLERGY_WORDS: Final = {
    "food": "Food",
    "medication": "Medicine",
    "environment": "Something around you",
    "biologic": "Biological product",
}


def _reaction_words(allergy: dict[str, Any]) -> list[str]:
    """ "reaction: rash (severe)" for each reaction recorded with an allergy."""
    out = []
    for reaction in allergy.get("reaction") or []:
        if not isinstance(reaction, dict):
            continue
        seen = [name_of(m).lower() for m in reaction.get("manifestation") or [] if m]
        severity = reaction.get("severity")
        if seen:
            out.append(f"reaction: {', '.join(seen)}" + (f" ({severity})" if severity else ""))
    return out


def _code_of(concept: Any) -> str:
    if isinstance(concept, dict):
        for c in concept.get("coding", []) or []:
            if isinstance(c, dict) and c.get("code"):
                return str(c["code"])
    return ""


def search_all(
    repo: Repository, rtype: str, query: tuple[tuple[str, str], ...]
) -> list[dict[str, Any]]:
    """Every match of a search, following its ``next`` links (search.html#paging) up to
    :data:`MAX_PAGES` pages of 1000, so a long record is not cut at its first page."""
    out: list[dict[str, Any]] = []
    page: tuple[tuple[str, str], ...] = (*query, ("_count", _COUNT))
    for _ in range(MAX_PAGES):
        bundle = repo.handle(FhirRequest("GET", rtype, query=page)).resource or {}
        out.extend(
            e["resource"]
            for e in bundle.get("entry", [])
            if e.get("search", {}).get("mode", "match") == "match"
        )
        following = next(
            (str(x.get("url")) for x in bundle.get("link", []) if x.get("relation") == "next"),
            None,
        )
        if following is None:
            break
        page = tuple(parse_qsl(urlsplit(following).query, keep_blank_values=True))
    return out


class PortalRecord:
    def __init__(
        self,
        store: Store,
        caller: Caller,
        fhir_base: str,
        *,
        policy: Policy,
        auditor: Auditor,
        sources: PortalSources | None = None,
    ) -> None:
        if caller.role != "patient" or not caller.user_patient:
            raise Forbidden("The portal shows a patient their own record.")
        self.sources = sources or PortalSources()
        self.patient = caller.user_patient
        self.clock = policy.clock
        self.repo = Repository(store, caller, fhir_base, policy=policy, auditor=auditor)

    def search(self, rtype: str, *params: tuple[str, str]) -> list[dict[str, Any]]:
        return search_all(self.repo, rtype, (("patient", self.patient), *params))

    def me(self) -> dict[str, Any]:
        return self.repo.handle(FhirRequest("GET", f"Patient/{self.patient}")).resource or {}

    def details(self) -> list[Entry]:
        """The patient's details with their source, and other sources' held values (read from
        the upstream ledger for the Patient the caller has just read through the repository)."""
        me = self.me()
        with self.repo.store.records() as db:
            held = [(s, c) for s, _entity, c in ledger.variants(db, "Patient", self.patient)]
        line = self.sources.line(me, when_words)
        return [
            Entry(label, label, "", value, True, source=line, others=others, main=main)
            for label, value, others, main in detail_lines(me, held, self.sources, when_words)
        ]

    def results(self) -> list[TestResults]:
        found = self.search("Observation", ("category", "laboratory,vital-signs"))
        return group_results(found, self._performer_names(found), self.sources, when_words)

    def _sourced(self, rtype: str, found: list[tuple[dict[str, Any], Entry]]) -> list[Entry]:
        """Each entry with its source line; one thing (same name and date) two sources hold
        with different details shown once, the other value under it."""
        lined = [
            (r, replace(e, source=self.sources.line(r, when_words)), f"{e.what}|{e.when}", e.detail)
            for r, e in found
        ]
        return self.sources.settle(rtype, lined, when_words, with_others)

    def _performer_names(self, observations: list[dict[str, Any]]) -> dict[str, str]:
        names: dict[str, str] = {}
        refs = {
            str(p.get("reference"))
            for o in observations
            for p in o.get("performer", []) or []
            if isinstance(p, dict) and str(p.get("reference", "")).startswith("Organization/")
        }
        for ref in sorted(refs)[:50]:
            try:
                org = self.repo.handle(FhirRequest("GET", ref)).resource or {}
            except FhirError:  # not visible or gone: the result shows without its source name
                continue
            if isinstance(org.get("name"), str):
                names[ref] = org["name"]
        return names

    def medicines(self) -> list[Entry]:
        found = []
        for r in self.search("MedicationRequest"):
            entry = Entry(
                str(r.get("id")),
                name_of(r.get("medicationCodeableConcept")).replace("A test", "A medicine"),
                when_words(r.get("authoredOn")),
                dose_words(r),
                r.get("status") in ("active", "on-hold", "draft"),
            )
            found.append((r, entry))
        for st in self.search("MedicationStatement"):  # what the patient takes, as recorded
            dosage = {"dosageInstruction": st.get("dosage") or []}
            entry = Entry(
                str(st.get("id")),
                name_of(st.get("medicationCodeableConcept")).replace("A test", "A medicine"),
                when_words(st.get("dateAsserted") or st.get("effectiveDateTime")),
                dose_words(dosage),
                st.get("status") in ("active", "intended", "on-hold"),
            )
            found.append((st, entry))
        out = self._sourced("MedicationRequest", found)
        return sorted(out, key=lambda e: (not e.current, e.what))

    def appointments(self) -> list[Entry]:
        now = datetime.fromtimestamp(self.clock(), UTC).isoformat()
        out = []
        for a in self.search("Appointment"):
            start = str(a.get("start", ""))
            what = a.get("description") or name_of((a.get("serviceType") or [None])[0])
            at = f"{when_words(start)} at {start[11:16]} UTC" if len(start) >= 16 else start
            out.append(
                Entry(
                    str(a.get("id")),
                    str(what).replace("A test", "An appointment"),
                    at,
                    _APPOINTMENT_WORDS.get(str(a.get("status")), ""),
                    start >= now and a.get("status") not in ("cancelled", "noshow"),
                )
            )
        return sorted(out, key=lambda e: (not e.current, e.when))

    def conditions(self) -> list[Entry]:
        found = []
        for c in self.search("Condition"):
            status = _code_of(c.get("clinicalStatus"))
            entry = Entry(
                str(c.get("id")),
                name_of(c.get("code")).replace("A test", "A condition"),
                when_words(c.get("onsetDateTime") or c.get("recordedDate")),
                _CONDITION_WORDS.get(status, ""),
                status in ("active", "recurrence", "relapse"),
            )
            found.append((c, entry))
        out = self._sourced("Condition", found)
        return sorted(out, key=lambda e: (not e.current, e.what))

    def allergies(self) -> list[Entry]:
        found = []
        for a in self.search("AllergyIntolerance"):
            status = _code_of(a.get("clinicalStatus"))
            words = [_ALLERGY_WORDS.get(str(x), "") for x in a.get("category", []) or []]
            words.extend(_reaction_words(a))
            if a.get("criticality") == "high":
                words.append("high risk")
            if status in ("inactive", "resolved"):
                words.append(_CONDITION_WORDS[status].lower())
            entry = Entry(
                str(a.get("id")),
                name_of(a.get("code")).replace("A test", "An allergy"),
                when_words(a.get("recordedDate")),
                ", ".join(w for w in words if w).capitalize(),
                status in ("", "active"),
            )
            found.append((a, entry))
        return self._sourced("AllergyIntolerance", found)

    def immunizations(self) -> list[Entry]:
        found = [
            (
                i,
                Entry(
                    str(i.get("id")),
                    name_of(i.get("vaccineCode")).replace("A test", "A vaccination"),
                    when_words(i.get("occurrenceDateTime")),
                    {"completed": "Given", "not-done": "Not given"}.get(str(i.get("status")), ""),
                    False,
                ),
            )
            for i in self.search("Immunization")
        ]
        return self._sourced("Immunization", found)

    def documents(self) -> list[Entry]:
        return [
            Entry(
                str(d.get("id")),
                str(d.get("description") or name_of(d.get("type")).replace("A test", "A document")),
                when_words(d.get("date")),
                "Replaced by a newer version" if d.get("status") == "superseded" else "",
                False,
                f"/portal/documents/{d.get('id')}",
            )
            for d in self.search("DocumentReference")
        ]

    def document_file(self, doc_id: str) -> tuple[str, str, bytes] | None:
        """(content type, title, bytes) of a DocumentReference's first attachment held in
        Bedside (inline ``data`` or a ``Binary/<id>`` url); None when it is kept elsewhere.
        Both reads go through the repository, so a document the patient may not see is 404."""
        doc = self.repo.handle(FhirRequest("GET", f"DocumentReference/{doc_id}")).resource or {}
        content = doc.get("content") or [{}]
        attachment = content[0].get("attachment") or {} if isinstance(content[0], dict) else {}
        title = str(attachment.get("title") or doc.get("description") or "document")
        data = attachment.get("data")
        url = str(attachment.get("url") or "")
        if not data and url.startswith("Binary/") and _ID.fullmatch(url.removeprefix("Binary/")):
            binary = self.repo.handle(FhirRequest("GET", url)).resource or {}
            data = binary.get("data")
            attachment = {"contentType": binary.get("contentType"), **attachment}
        if not isinstance(data, str):
            return None
        try:
            raw = base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return None
        return str(attachment.get("contentType") or "application/octet-stream"), title, raw
