"""Sharing with a named practitioner: a FHIR Consent the patient writes.

The share is a privacy Consent (permit; actor = who; purpose = what for; ``provision.class`` =
the FHIR types of the chosen data classes; ``period`` = now until the end date), stored through
the patient's own ``Repository`` so the consent rules (``bedside.consent.rules``: only for their
own record, the status state machine) and the no-self-widening check apply as for a SMART app.
Once stored, the existing consent machinery enforces it for that clinician's reads, searches,
devices and syncs; withdrawing it (``inactive``) writes the revocation to the change feed.

:func:`preview` says in words exactly what will be shared, with counts, before the patient
confirms; :func:`build_consent` is what is then stored. Both read the same choice.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from bedside.consent.wording import describe
from bedside.errors import InvalidRequest, NotFound
from bedside.portal.data_classes import DataClass, chosen, types_of
from bedside.portal.record import PortalRecord, when_words
from bedside.rest import FhirRequest

__all__ = [
    "PURPOSES",
    "RECIPIENT_TYPES",
    "Choice",
    "Recipient",
    "build_consent",
    "choose",
    "preview",
    "recipients",
    "share",
    "shares",
    "withdraw",
]

#: What a share is for, in words. Clinicians' reads are made for treatment (purpose TREAT), so
#: that is the purpose a share must name to take effect; others are not offered until reads can
#: carry them (docs/portal.md "Not done").
PURPOSES: Final = {"TREAT": "for your treatment and care"}
_ACT_REASON: Final = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
_TYPES: Final = "http://hl7.org/fhir/resource-types"
MAX_DAYS: Final = 365
DEFAULT_DAYS: Final = 30


@dataclass(frozen=True, slots=True)
class Recipient:
    ref: str  # Practitioner/9, Organization/3
    name: str


@dataclass(frozen=True, slots=True)
class Choice:
    recipient: Recipient
    classes: tuple[DataClass, ...]
    purpose: str
    days: int

    def end(self, now: float) -> str:
        return (datetime.fromtimestamp(now, UTC) + timedelta(days=self.days)).date().isoformat()


#: Whom a share can name: a practitioner, or an organisation, which reaches the clinicians an
#: active PractitionerRole says work for it (``bedside.policy.relationships.organizations``).
RECIPIENT_TYPES: Final = ("Practitioner", "Organization")


def recipients(record: PortalRecord) -> list[Recipient]:
    """Practitioners and organisations known to Bedside, by name (shared reference data)."""
    out: list[Recipient] = []
    for rtype in RECIPIENT_TYPES:
        query = (("_count", "200"),)
        bundle = record.repo.handle(FhirRequest("GET", rtype, query=query)).resource or {}
        for entry in bundle.get("entry", []):
            r = entry.get("resource", {})
            name = _name(r)
            if name:
                out.append(Recipient(f"{rtype}/{r['id']}", name))
    return sorted(out, key=lambda r: r.name)


def _name(resource: dict[str, Any]) -> str:
    if isinstance(resource.get("name"), str):
        return str(resource["name"])
    for n in resource.get("name", []) or []:
        if isinstance(n, dict):
            text = n.get("text") or " ".join(
                [*n.get("prefix", []), *n.get("given", []), n.get("family", "")]
            )
            if str(text).strip():
                return str(text).strip()
    return ""


def choose(
    record: PortalRecord, recipient: str, what: list[str], purpose: str, days: int
) -> Choice:
    """Check a patient's choice; plain sentences for anything wrong."""
    known = {r.ref: r for r in recipients(record)}
    if recipient not in known:
        raise InvalidRequest("Choose who to share with from the list.")
    if purpose not in PURPOSES:
        raise InvalidRequest("Choose what the share is for from the list.")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidRequest(f"A share lasts between 1 and {MAX_DAYS} days.")
    return Choice(known[recipient], chosen(what), purpose, days)


def preview(record: PortalRecord, choice: Choice) -> dict[str, Any]:
    """Exactly what the share will let the recipient see, in words, with counts."""
    now = record.clock()
    counts = {c.name: sum(len(record.search(t)) for t in c.types) for c in choice.classes}
    return {
        "who": choice.recipient.name,
        "what": [f"{c.words} ({counts[c.name]} now)" for c in choice.classes],
        "why": PURPOSES[choice.purpose],
        "until": when_words(choice.end(now)),
        "note": "Anything added to these parts of your record while the share lasts is shared too.",
    }


def build_consent(patient: str, choice: Choice, now: float) -> dict[str, Any]:
    start = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "dateTime": start,
        "provision": {
            "type": "permit",
            "period": {"start": start, "end": choice.end(now)},
            "actor": [
                {
                    "role": {"text": "recipient"},
                    "reference": {"reference": choice.recipient.ref},
                }
            ],
            "purpose": [{"system": _ACT_REASON, "code": choice.purpose}],
            "class": [{"system": _TYPES, "code": t} for t in types_of(choice.classes)],
        },
    }


def share(record: PortalRecord, choice: Choice) -> str:
    """Store the share; its Consent id."""
    body = build_consent(record.patient, choice, record.clock())
    resp = record.repo.handle(
        FhirRequest("POST", "Consent", body=body, prefer_return="representation")
    )
    return str((resp.resource or {}).get("id"))


def shares(record: PortalRecord) -> list[dict[str, Any]]:
    """The patient's Consents in words, most recent first, with whether each can be withdrawn."""
    now = record.clock()
    consents = record.search("Consent", ("_sort", "-_lastUpdated"))
    names: dict[str, str] = {}
    for c in consents:
        for actor in (c.get("provision") or {}).get("actor", []) or []:
            ref = str(((actor or {}).get("reference") or {}).get("reference", ""))
            if ref and ref not in names:
                try:
                    found = record.repo.handle(FhirRequest("GET", ref)).resource or {}
                except (NotFound, InvalidRequest):
                    found = {}
                if _name(found):
                    names[ref] = _name(found)
    out = []
    for c in consents:
        words = describe(c, names=names, now=now)
        words["can_withdraw"] = c.get("status") == "active"
        out.append(words)
    return out


def withdraw(record: PortalRecord, consent_id: str) -> None:
    """Set one of the patient's active Consents to inactive (the revocation reaches the
    clinician's next request and their device's next sync)."""
    current = record.repo.handle(FhirRequest("GET", f"Consent/{consent_id}")).resource
    if current is None or current.get("status") != "active":
        raise NotFound("There is no active share with that id.")
    new = copy.deepcopy(current)
    new["status"] = "inactive"
    version = (current.get("meta") or {}).get("versionId")
    record.repo.handle(
        FhirRequest(
            "PUT",
            f"Consent/{consent_id}",
            body=new,
            if_match=f'W/"{version}"' if version else None,
        )
    )
