"""Sharing with a named practitioner or organisation: a FHIR Consent the patient writes.

The share is a privacy Consent (permit; actor = who; purpose = what for; ``provision.class`` =
the FHIR types of the chosen data classes; ``period`` = now until the end date), stored through
the patient's own ``Repository`` so the consent rules (``bedside.consent.rules``: only for their
own record, the status state machine) and the no-self-widening check apply as for a SMART app.
Once stored, the existing consent machinery enforces it for that clinician's reads, searches,
devices and syncs; withdrawing it (``inactive``) writes the revocation to the change feed.

:func:`preview` says in words exactly what will be shared, with counts, before the patient
confirms; :func:`build_consent` is what is then stored. Both read the same choice. A choice of
one result (``Choice.result``) is stored by :func:`build_result_consent` as a Consent whose
``provision.data`` names that Observation, so the recipient sees exactly it (docs/consent.md).
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
from bedside.portal.results import group_results
from bedside.rest import FhirRequest

__all__ = [
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "PURPOSES",
    "RECIPIENT_TYPES",
    "Choice",
    "Recipient",
    "build_consent",
    "build_result_consent",
    "choose",
    "preview",
    "recipients",
    "result_words",
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
    #: One result (an Observation the patient read as theirs): only it is shared.
    result: dict[str, Any] | None = None

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
    record: PortalRecord,
    recipient: str,
    what: list[str],
    purpose: str,
    days: int,
    *,
    result: str | None = None,
) -> Choice:
    """Check a patient's choice; plain sentences for anything wrong.

    ``result`` (an Observation id) shares that one result instead of kinds of data; it is read
    through the patient's own Repository, so only a result of theirs can be chosen.
    """
    known = {r.ref: r for r in recipients(record)}
    if recipient not in known:
        raise InvalidRequest("Choose who to share with from the list.")
    if purpose not in PURPOSES:
        raise InvalidRequest("Choose what the share is for from the list.")
    if not 1 <= days <= MAX_DAYS:
        raise InvalidRequest(f"A share lasts between 1 and {MAX_DAYS} days.")
    if result is not None:
        found = _own_result(record, result)
        return Choice(known[recipient], (), purpose, days, result=found)
    return Choice(known[recipient], chosen(what), purpose, days)


def _own_result(record: PortalRecord, result: str) -> dict[str, Any]:
    try:
        found = record.repo.handle(FhirRequest("GET", f"Observation/{result}")).resource
    except (NotFound, InvalidRequest):
        found = None
    if not found:
        raise NotFound("There is no such result in your record.")
    return found


def preview(record: PortalRecord, choice: Choice) -> dict[str, Any]:
    """Exactly what the share will let the recipient see, in words, with counts."""
    now = record.clock()
    if choice.result is not None:
        return {
            "who": choice.recipient.name,
            "what": [f"this result only: {result_words(choice.result)}"],
            "why": PURPOSES[choice.purpose],
            "until": when_words(choice.end(now)),
            "note": "Only this result is shared: nothing else of your record, and no later"
            " results of the same test.",
        }
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


def build_result_consent(patient: str, choice: Choice, now: float) -> dict[str, Any]:
    """A share of one result: ``provision.data`` names it (meaning ``instance``).

    Its security labels are named too: the patient chose this very result and saw it in the
    preview, so a sensitive label on it (which a share must name to reach it) is named for them.
    """
    assert choice.result is not None
    body = build_consent(patient, choice, now)
    provision = body["provision"]
    provision["class"] = [{"system": _TYPES, "code": "Observation"}]
    provision["data"] = [
        {"meaning": "instance", "reference": {"reference": f"Observation/{choice.result['id']}"}}
    ]
    labels = [
        {"system": c["system"], "code": c["code"]}
        for c in (choice.result.get("meta") or {}).get("security") or ()
        if isinstance(c, dict) and c.get("system") and c.get("code")
    ]
    if labels:
        provision["securityLabel"] = labels
    return body


def result_words(obs: dict[str, Any]) -> str:
    """One result in words: "Glucose 5.4 mmol/L on 3 May 2026" (or its name alone)."""
    (test,) = group_results([obs]) or (None,)
    if test is None:
        return "one of your results"
    latest = test.latest
    return f"{test.name} {latest.value} on {when_words(latest.when)}"


def share(record: PortalRecord, choice: Choice) -> str:
    """Store the share; its Consent id."""
    build = build_consent if choice.result is None else build_result_consent
    body = build(record.patient, choice, record.clock())
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
        for item in (c.get("provision") or {}).get("data", []) or []:
            ref = str(((item or {}).get("reference") or {}).get("reference", ""))
            if ref.startswith("Observation/") and ref not in names:
                names[ref] = _result_name(record, ref)
    out = []
    for c in consents:
        words = describe(c, names=names, now=now)
        words["can_withdraw"] = c.get("status") == "active"
        out.append(words)
    return out


def _result_name(record: PortalRecord, ref: str) -> str:
    try:
        found = record.repo.handle(FhirRequest("GET", ref)).resource
    except (NotFound, InvalidRequest):
        found = None
    return f"your result {result_words(found)}" if found else "one of your results"


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
