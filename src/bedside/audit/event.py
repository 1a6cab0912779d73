"""An :class:`AuditEntry` as an R4 AuditEvent, coded the way IHE BALP codes it.

The AuditEvent JSON is what the chain hashes (``chain.py``), so :func:`to_audit_event` must be a
pure function of the entry and its position: same input, same bytes (:func:`canonical`). The
audit tables also keep a few fields of it in columns for searching; :func:`indexed` reads those
fields back out of the AuditEvent, so the writer and the verifier derive them the same way and a
column edited behind the chain's back is caught.

Codings (IHE Basic Audit Log Patterns, BALP 1.1):

* RESTful interactions: type ``audit-event-type#rest``, subtype from ``restful-interaction``.
* Sign-in: type DCM 110114 "User Authentication", subtype DCM 110122 "Login" (110123 "Logout").
* Token events, consent changes, break-glass: type ``rest``, subtype from Bedside's own code
  system :data:`BEDSIDE_EVENTS` (documented in docs/audit.md).
* Agents: the user first (``requestor``), then the client app (its OAuth ``client_id``), then the
  device, then the server; ``source.observer`` is the server.
* Entities: each patient (audit-entity-type 1 Person, object-role 1 Patient), each resource
  touched (2 System Object, 4 Domain Resource), and the query of a search (2, 24 Query).
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from bedside.audit.entry import AuditEntry

EVENT_TYPE: Final = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL: Final = "http://hl7.org/fhir/restful-interaction"
DCM: Final = "http://dicom.nema.org/resources/ontology/DCM"
BEDSIDE_EVENTS: Final = "https://bedside.health/fhir/CodeSystem/audit-event"
BEDSIDE_ROLES: Final = "https://bedside.health/fhir/CodeSystem/user-role"
USER_ID: Final = "https://bedside.health/fhir/sid/user"
DEVICE_ID: Final = "https://bedside.health/fhir/sid/device"
CLIENT_ID: Final = "urn:ietf:params:oauth:client-id"
ACT_REASON: Final = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
PARTICIPATION: Final = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ROLE_CLASS: Final = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"
ENTITY_TYPE: Final = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
OBJECT_ROLE: Final = "http://terminology.hl7.org/CodeSystem/object-role"
SOURCE_TYPE: Final = "http://terminology.hl7.org/CodeSystem/security-source-type"

#: FHIR restful-interaction codes (R4 ValueSet type-restful-interaction).
RESTFUL_CODES: Final = frozenset(
    {
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "history",
        "history-instance",
        "history-type",
        "history-system",
        "create",
        "search",
        "search-type",
        "search-system",
        "search-compartment",
        "capabilities",
        "transaction",
        "batch",
        "operation",
    }
)

#: Sign-in events: DICOM "User Authentication" with the DICOM subtype code.
_DICOM_SUBTYPES: Final = {
    "login": ("110122", "Login"),
    "login-failed": ("110122", "Login"),
    "logout": ("110123", "Logout"),
}

#: Bedside's audit-event code system (https://bedside.health/fhir/CodeSystem/audit-event).
BEDSIDE_CODES: Final = {
    "token-issue": "Access token issued",
    "token-refresh": "Access token refreshed",
    "token-revoke": "Grant revoked",
    "token-reuse": "Refresh token or authorization code reused",
    "consent": "Consent changed",
    "break-glass": "Break-glass access started",
    "device-register": "Device registered",
    "device-status": "Device told its status",
    "device-unlock-key": "Device unlock key released",
    "device-pins": "Device pins listed",
    "device-pin": "Patient pinned to a device",
    "device-unpin": "Patient unpinned from a device",
    "device-list": "Device registry listed",
    "device-revoke": "Device revoked",
    "device-wipe": "Device flagged for wipe",
    "device-telemetry": "Device reported its health",
    "support-read": "Support tooling looked up a device or user",
    "console-view": "Governance console page viewed",
    "console-reveal": "Governance console showed a patient's name",
    "console-export": "Governance console exported the audit trail",
    "sync-reject": "Device event rejected at sync",
    "sync-review": "Device event sent to review at sync",
    "sync-pull": "Device pulled changes at sync",
    "attachment-upload": "Device uploaded an attachment at sync",
    "review-list": "Sync review queue listed",
    "review-read": "Sync review item read",
    "review-resolve": "Sync review item resolved",
    "review-defer": "Sync review item deferred with a note",
    "app-refused": "A Bedside app refused a user of another role",
    "shl-create": "SMART Health Link made",
    "shl-manifest": "SMART Health Link opened",
    "shl-revoke": "SMART Health Link revoked",
}

#: Interactions where the user receives data (BALP: user agent type IRCP) or authors it (AUT).
_RECEIVES: Final = frozenset(
    {"read", "vread", "history", "history-instance", "history-type", "history-system"}
    | {"search", "search-type", "search-system", "search-compartment"}
)
_AUTHORS: Final = frozenset({"create", "update", "patch"})


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    out = {"system": system, "code": code}
    if display is not None:
        out["display"] = display
    return out


def _type_and_subtype(subtype: str) -> tuple[dict[str, str], dict[str, str]]:
    if subtype in _DICOM_SUBTYPES:
        code, display = _DICOM_SUBTYPES[subtype]
        return _coding(DCM, "110114", "User Authentication"), _coding(DCM, code, display)
    rest = _coding(EVENT_TYPE, "rest", "RESTful Operation")
    if subtype in RESTFUL_CODES:
        return rest, _coding(RESTFUL, subtype)
    return rest, _coding(BEDSIDE_EVENTS, subtype, BEDSIDE_CODES.get(subtype))


def instant(ms: int) -> str:
    """A UTC instant with milliseconds, e.g. 2026-03-01T08:15:02.250Z (FHIR ``instant``)."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def _user_agent(entry: AuditEntry) -> dict[str, Any]:
    """BALP user agent: IRCP when they receive data, AUT when they author it, AGNT otherwise;
    a patient acting for themselves is also typed PAT."""
    if entry.subtype in _RECEIVES or entry.action == "R":
        kinds = [_coding(PARTICIPATION, "IRCP", "information recipient")]
    elif entry.subtype in _AUTHORS or entry.action in ("C", "U"):
        kinds = [_coding(PARTICIPATION, "AUT", "author (originator)")]
    else:
        kinds = [_coding(ROLE_CLASS, "AGNT", "agent")]
    if entry.role == "patient":
        kinds.append(_coding(ROLE_CLASS, "PAT", "patient"))
    who: dict[str, Any] = {}
    if entry.user_ref:
        who["reference"] = entry.user_ref
    if entry.subject:
        service = entry.user_ref is None and entry.subject == entry.client_id
        who["identifier"] = {"system": CLIENT_ID if service else USER_ID, "value": entry.subject}
    if entry.agent_name:
        who["display"] = entry.agent_name
    if not who:
        who["display"] = "unidentified user"
    agent: dict[str, Any] = {"type": {"coding": kinds}, "who": who, "requestor": True}
    if entry.role:
        agent["role"] = [{"coding": [_coding(BEDSIDE_ROLES, entry.role)]}]
    if entry.purpose:
        agent["purposeOfUse"] = _purposes(entry.purpose)
    return agent


def _purposes(codes: tuple[str, ...]) -> list[dict[str, Any]]:
    return [{"coding": [_coding(ACT_REASON, code)]} for code in codes]


def _network(address: str) -> dict[str, str]:
    """R4 network-type: 1 machine name, 2 IP address."""
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return {"address": address, "type": "1"}
    return {"address": address, "type": "2"}


def _agents(entry: AuditEntry, server: str) -> list[dict[str, Any]]:
    user = _user_agent(entry)
    agents = [user]
    if entry.client_id:
        client: dict[str, Any] = {
            "type": {"coding": [_coding(DCM, "110153", "Source Role ID")]},
            "who": {"identifier": {"system": CLIENT_ID, "value": entry.client_id}},
            "requestor": False,
        }
        agents.append(client)
    if entry.network:
        agents[-1]["network"] = _network(entry.network)
    if entry.device:
        agents.append(
            {
                "type": {"coding": [_coding(PARTICIPATION, "DEV", "device")]},
                "who": {"identifier": {"system": DEVICE_ID, "value": entry.device}},
                "requestor": False,
            }
        )
    agents.append(
        {
            "type": {"coding": [_coding(DCM, "110152", "Destination Role ID")]},
            "who": {"display": "Bedside"},
            "requestor": False,
            "network": {"address": server, "type": "5"},  # 5: URI
        }
    )
    return agents


def _entities(entry: AuditEntry) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {
            "what": {"reference": f"Patient/{pid}"},
            "type": _coding(ENTITY_TYPE, "1", "Person"),
            "role": _coding(OBJECT_ROLE, "1", "Patient"),
        }
        for pid in entry.patients
    ]
    out.extend(
        {
            "what": {"reference": ref},
            "type": _coding(ENTITY_TYPE, "2", "System Object"),
            "role": _coding(OBJECT_ROLE, "4", "Domain Resource"),
        }
        for ref in entry.entities
    )
    if entry.query is not None:
        query: dict[str, Any] = {
            "type": _coding(ENTITY_TYPE, "2", "System Object"),
            "role": _coding(OBJECT_ROLE, "24", "Query"),
            "query": base64.b64encode(entry.query.encode("utf-8")).decode("ascii"),
        }
        if entry.resource_type:
            query["description"] = entry.resource_type
        out.append(query)
    return out


def to_audit_event(entry: AuditEntry, n: int, *, server: str) -> dict[str, Any]:
    """The AuditEvent for ``entry`` at chain position ``n`` (its id); ``server`` is the FHIR
    base, recorded as the observer's site. Deterministic: the chain hashes its bytes."""
    event_type, subtype = _type_and_subtype(entry.subtype)
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": str(n),
        "type": event_type,
        "subtype": [subtype],
        "action": entry.action,
        "recorded": instant(entry.recorded_ms),
        "outcome": entry.outcome,
        "agent": _agents(entry, server),
        "source": {
            "site": server,
            "observer": {"display": "Bedside"},
            "type": [_coding(SOURCE_TYPE, "4", "Application Server")],
        },
    }
    if entry.description:
        event["outcomeDesc"] = entry.description
    if entry.occurred_ms is not None:  # a device's action: when it happened by the device clock
        at = instant(entry.occurred_ms)
        event["period"] = {"start": at, "end": at}
    if entry.purpose:
        event["purposeOfEvent"] = _purposes(entry.purpose)
    entities = _entities(entry)
    if entities:
        event["entity"] = entities
    return event


def canonical(event: dict[str, Any]) -> bytes:
    """The exact bytes the chain hashes and stores: compact JSON with sorted keys."""
    return orjson.dumps(event, option=orjson.OPT_SORT_KEYS)


@dataclass(frozen=True, slots=True)
class Indexed:
    """The audit_log columns (besides n and the hashes) and the audit_patients rows of an event."""

    recorded: str
    recorded_ms: int
    action: str
    subtype: str
    outcome: str
    user_ref: str | None
    subject: str | None
    client_id: str | None
    device: str | None
    purpose: str | None
    patients: tuple[str, ...]

    def columns(self) -> tuple[object, ...]:
        return (
            self.recorded,
            self.recorded_ms,
            self.action,
            self.subtype,
            self.outcome,
            self.user_ref,
            self.subject,
            self.client_id,
            self.device,
            self.purpose,
        )


def _agent_of(event: dict[str, Any], system: str, code: str) -> dict[str, Any] | None:
    for agent in event.get("agent", []):
        for coding in agent.get("type", {}).get("coding", []):
            if coding.get("system") == system and coding.get("code") == code:
                return dict(agent)
    return None


def _code_of_subtype(coding: dict[str, Any]) -> str:
    if coding.get("system") == DCM:
        return "logout" if coding.get("code") == "110123" else "login"
    return str(coding["code"])


def indexed(event: dict[str, Any]) -> Indexed:
    """Read the searchable fields back out of an AuditEvent made by :func:`to_audit_event`.

    The DICOM Login code stands for both ``login`` and ``login-failed`` entries (the outcome
    tells them apart), so both are indexed as ``login``.
    """
    user = event["agent"][0]["who"]
    client = _agent_of(event, DCM, "110153")
    device = _agent_of(event, PARTICIPATION, "DEV")
    purpose = [c["coding"][0]["code"] for c in event.get("purposeOfEvent", [])]
    patients = tuple(
        str(e["what"]["reference"]).removeprefix("Patient/")
        for e in event.get("entity", [])
        if e.get("role", {}).get("system") == OBJECT_ROLE and e["role"].get("code") == "1"
    )
    recorded = str(event["recorded"])
    return Indexed(
        recorded=recorded,
        recorded_ms=_ms_of(recorded),
        action=str(event["action"]),
        subtype=_code_of_subtype(event["subtype"][0]),
        outcome=str(event["outcome"]),
        user_ref=user.get("reference"),
        subject=user.get("identifier", {}).get("value"),
        client_id=client["who"]["identifier"]["value"] if client else None,
        device=device["who"]["identifier"]["value"] if device else None,
        purpose=" ".join(purpose) or None,
        patients=patients,
    )


def _ms_of(recorded: str) -> int:
    moment = datetime.fromisoformat(recorded)  # "...Z" parses as UTC (Python 3.11+)
    return int(moment.timestamp()) * 1000 + moment.microsecond // 1000


__all__ = [
    "ACT_REASON",
    "BEDSIDE_CODES",
    "BEDSIDE_EVENTS",
    "BEDSIDE_ROLES",
    "CLIENT_ID",
    "DCM",
    "DEVICE_ID",
    "ENTITY_TYPE",
    "EVENT_TYPE",
    "OBJECT_ROLE",
    "PARTICIPATION",
    "RESTFUL",
    "RESTFUL_CODES",
    "ROLE_CLASS",
    "SOURCE_TYPE",
    "USER_ID",
    "Indexed",
    "canonical",
    "indexed",
    "instant",
    "to_audit_event",
]
