"""The FHIR R4 Provenance written for every stored version (provenance.html).

A pure function: the write path (:mod:`bedside.rest.writes`) calls it with what it knows about
the write and the caller and stores the result in the same transaction as the version, so
neither exists without the other. One Provenance per version answers "who changed this, with
which app, from which device, when, and what was it based on" from the FHIR API alone.

Shape (every coding from the R4 value sets the elements are bound to):

* ``target``: the version written, as a versioned reference (``Observation/1/_history/2``);
* ``recorded``: when it was stored (the version's ``meta.lastUpdated``);
* ``activity``: ``CREATE`` | ``UPDATE`` | ``DELETE`` from ``v3-DataOperation``
  (ProvenanceActivityType, extensible);
* ``agent[0]``, type ``author``: the user (``who.reference`` = their fhirUser) or, for a
  backend service without one, ``who.identifier`` = the token subject in ``urn:bedside:subject``;
* ``agent``, type ``performer``: the SMART app that carried the write out
  (``who.identifier`` = its ``client_id`` in ``urn:ietf:params:oauth:client-id``), acting
  ``onBehalfOf`` the user;
* ``agent``, type ``performer``: the device node the write came from (``Device/<id>``);
* ``entity``: the version the write was based on, role ``revision`` (``removal`` for a
  delete: provenance-entity-role defines it as "removed from accessibility ... through the use
  of the Delete operation"); absent for a create;
* ``agent``, type ``informant``: for a review resolution from the governance console
  (ADR 0014), the user whose device made the change being settled (the reviewer is the
  author, the device the performer);
* ``occurredDateTime``: for a device's write (sync), when the user acted by the device's clock
  (``recorded`` stays the server's time), and ``reason``: its purposeOfUse (``v3-ActReason``,
  e.g. ``BTG``), the R4 PurposeOfUse binding of ``Provenance.reason``;
* ``meta.source``: the source system of the write (the caller passes the client id or the
  server's base URL). ``meta.source`` is R4's element for exactly that ("a uri that identifies
  the source system of the resource", resource.html#Meta); ``policy`` is left for the
  policy/consent that authorised the write.
"""

from __future__ import annotations

import re
from typing import Any, Final

__all__ = [
    "ACTIVITY_SYSTEM",
    "AGENT_TYPE_SYSTEM",
    "CLIENT_ID_SYSTEM",
    "PURPOSE_SYSTEM",
    "SUBJECT_SYSTEM",
    "provenance_for",
]

ACTIVITY_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
AGENT_TYPE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
#: Identifier system of an OAuth client id (RFC 7591 registers ``client_id``; SMART App Launch).
CLIENT_ID_SYSTEM: Final = "urn:ietf:params:oauth:client-id"
#: Identifier system of a token subject that has no FHIR resource (a backend service).
SUBJECT_SYSTEM: Final = "urn:bedside:subject"
#: purposeOfUse codes (R4 Provenance.reason is bound to the v3 PurposeOfUse value set).
PURPOSE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v3-ActReason"

#: v3-DataOperation codes and their displays.
_ACTIVITIES: Final = {"CREATE": "create", "UPDATE": "revise", "DELETE": "remove"}
_VERSIONED: Final = re.compile(r"[A-Z][A-Za-z]+/[A-Za-z0-9\-.]{1,64}/_history/[A-Za-z0-9\-.]{1,64}")
_ID: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}")


def provenance_for(
    *,
    target: str,
    previous: str | None,
    activity: str,
    recorded: str,
    user_ref: str | None,
    subject: str,
    client_id: str | None,
    device: str | None,
    source: str,
    provenance_id: str,
    occurred: str | None = None,
    purpose: str | None = None,
    informant: str | None = None,
) -> dict[str, Any]:
    """The Provenance of one write; raises ValueError on arguments no write can have.
    ``informant``: a fhirUser reference (``Practitioner/9``) or a user id."""
    if activity not in _ACTIVITIES:
        raise ValueError(f"activity must be one of {sorted(_ACTIVITIES)}, not {activity!r}")
    for name, ref in (("target", target), ("previous", previous)):
        if ref is not None and not _VERSIONED.fullmatch(ref):
            raise ValueError(f"{name} must be a versioned reference (Type/id/_history/vid)")
    for name, value in (("provenance_id", provenance_id), ("device", device)):
        if value is not None and not _ID.fullmatch(value):
            raise ValueError(f"{name} must be a FHIR id")
    for name, text in (("source", source), ("subject", subject)):
        if not text or text != text.strip():
            raise ValueError(f"{name} must be a non-empty string without surrounding spaces")
    author_who: dict[str, Any] = (
        {"reference": user_ref}
        if user_ref
        else {"identifier": {"system": SUBJECT_SYSTEM, "value": subject}}
    )
    agents: list[dict[str, Any]] = [_agent("author", "Author", author_who)]
    if client_id:
        app = _agent(
            "performer",
            "Performer",
            {"identifier": {"system": CLIENT_ID_SYSTEM, "value": client_id}},
        )
        if user_ref:
            app["onBehalfOf"] = {"reference": user_ref}
        agents.append(app)
    if device:
        agents.append(_agent("performer", "Performer", {"reference": f"Device/{device}"}))
    if informant:
        who: dict[str, Any] = (
            {"reference": informant}
            if "/" in informant
            else {"identifier": {"system": SUBJECT_SYSTEM, "value": informant}}
        )
        agents.append(_agent("informant", "Informant", who))
    prov: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": provenance_id,
        "meta": {"source": source},
        "target": [{"reference": target}],
        "recorded": recorded,
        "activity": {
            "coding": [
                {"system": ACTIVITY_SYSTEM, "code": activity, "display": _ACTIVITIES[activity]}
            ]
        },
        "agent": agents,
    }
    if previous is not None:
        role = "removal" if activity == "DELETE" else "revision"
        prov["entity"] = [{"role": role, "what": {"reference": previous}}]
    if occurred is not None:
        prov["occurredDateTime"] = occurred
    if purpose is not None:
        prov["reason"] = [{"coding": [{"system": PURPOSE_SYSTEM, "code": purpose}]}]
    return prov


def _agent(code: str, display: str, who: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": {"coding": [{"system": AGENT_TYPE_SYSTEM, "code": code, "display": display}]},
        "who": who,
    }
