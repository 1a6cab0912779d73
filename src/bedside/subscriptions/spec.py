"""What a client asks for in a Subscription, checked (R4 Subscriptions Backport IG).

Topics are Bedside's own canonical URLs, one per resource type ("a resource of the type was
created, updated or deleted"): ``urn:bedside:subscription-topic:<Type>``. The only filter is
``patient`` (``backport-filter-criteria`` ``<Type>?patient=Patient/<id>``): anything else is
refused with a plain 400 rather than ignored, so a client never believes it filters what it
does not.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from bedside.errors import InvalidRequest
from bedside.fhir.resource_types import NOT_STORED, RESOURCE_TYPES

__all__ = [
    "BACKPORT",
    "CHANNELS",
    "CONTENTS",
    "MAX_HEADERS",
    "MAX_HEARTBEAT",
    "TOPIC_PREFIX",
    "SubscriptionSpec",
    "parse_subscription",
    "topic_types",
    "topic_url",
]

BACKPORT: Final = "http://hl7.org/fhir/uv/subscriptions-backport"
TOPIC_PREFIX: Final = "urn:bedside:subscription-topic:"
CONTENTS: Final = ("empty", "id-only", "full-resource")
CHANNELS: Final = ("rest-hook", "websocket")
_FILTER: Final = f"{BACKPORT}/StructureDefinition/backport-filter-criteria"
_PAYLOAD: Final = f"{BACKPORT}/StructureDefinition/backport-payload-content"
_HEARTBEAT: Final = f"{BACKPORT}/StructureDefinition/backport-heartbeat-period"
_HEADER: Final = re.compile(r"[A-Za-z0-9-]{1,64}: [\x20-\x7e]{1,1024}")
MAX_HEARTBEAT: Final = 3600
MAX_HEADERS: Final = 8


def topic_types() -> list[str]:
    """Every type a topic is offered for: the stored types, less the audit trail."""
    return sorted(RESOURCE_TYPES - NOT_STORED - {"AuditEvent", "Subscription"})


def topic_url(rtype: str) -> str:
    return f"{TOPIC_PREFIX}{rtype}"


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    topic: str
    rtype: str
    patient: str | None
    channel: str
    endpoint: str | None
    headers: tuple[str, ...]
    content: str
    heartbeat: int


def _extensions(element: Any, url: str) -> list[Any]:
    if not isinstance(element, dict):
        return []
    found = element.get("extension") or []
    if not isinstance(found, list):
        raise InvalidRequest("extension must be a list.")
    return [e for e in found if isinstance(e, dict) and e.get("url") == url]


def parse_subscription(body: Any) -> SubscriptionSpec:
    """The checked request, or a 400 that says what is wrong (never echoing values)."""
    if not isinstance(body, dict) or body.get("resourceType") != "Subscription":
        raise InvalidRequest("The body must be a Subscription resource.")
    topic = body.get("criteria")
    if not isinstance(topic, str) or not topic.startswith(TOPIC_PREFIX):
        raise InvalidRequest(
            f"Subscription.criteria must be a topic URL {TOPIC_PREFIX}<Type>"
            " (see the CapabilityStatement for the topics offered)."
        )
    rtype = topic[len(TOPIC_PREFIX) :]
    if rtype not in topic_types():
        raise InvalidRequest("Subscription.criteria names no topic this server offers.")
    patient = _patient_filter(body, rtype)
    channel = body.get("channel")
    if not isinstance(channel, dict):
        raise InvalidRequest("Subscription.channel is required.")
    kind = channel.get("type")
    if kind not in CHANNELS:
        raise InvalidRequest("Subscription.channel.type must be rest-hook or websocket.")
    endpoint = channel.get("endpoint")
    if kind == "rest-hook":
        if not isinstance(endpoint, str) or urlsplit(endpoint).scheme not in ("http", "https"):
            raise InvalidRequest("A rest-hook channel needs an http or https endpoint.")
        if not urlsplit(endpoint).hostname:
            raise InvalidRequest("The rest-hook endpoint has no host.")
    else:
        endpoint = None
    headers = channel.get("header") or []
    if not isinstance(headers, list) or len(headers) > MAX_HEADERS:
        raise InvalidRequest(f"Subscription.channel.header takes at most {MAX_HEADERS} headers.")
    for h in headers:
        if not isinstance(h, str) or not _HEADER.fullmatch(h):
            raise InvalidRequest("Each channel.header must be 'Name: value' in plain ASCII.")
    payload = channel.get("payload", "application/fhir+json")
    if payload not in ("application/fhir+json", "application/json"):
        raise InvalidRequest("Subscription.channel.payload must be application/fhir+json.")
    content = "id-only"
    for ext in _extensions(channel.get("_payload"), _PAYLOAD):
        content = ext.get("valueCode")
    if content not in CONTENTS:
        raise InvalidRequest("The payload content must be empty, id-only or full-resource.")
    heartbeat = 0
    for ext in _extensions(channel, _HEARTBEAT):
        heartbeat = ext.get("valueUnsignedInt")
    if not isinstance(heartbeat, int) or isinstance(heartbeat, bool):
        raise InvalidRequest("The heartbeat period must be a whole number of seconds.")
    if not 0 <= heartbeat <= MAX_HEARTBEAT:
        raise InvalidRequest(f"The heartbeat period must be 0 to {MAX_HEARTBEAT} seconds.")
    return SubscriptionSpec(
        topic, rtype, patient, str(kind), endpoint, tuple(headers), str(content), heartbeat
    )


def _patient_filter(body: dict[str, Any], rtype: str) -> str | None:
    found = _extensions(body.get("_criteria"), _FILTER)
    if len(found) > 1:
        raise InvalidRequest("Give at most one filter criteria.")
    if not found:
        return None
    text = found[0].get("valueString")
    if not isinstance(text, str) or not text.startswith(f"{rtype}?"):
        raise InvalidRequest(f"The filter criteria must read {rtype}?patient=Patient/<id>.")
    pairs = parse_qsl(text.partition("?")[2], keep_blank_values=True)
    if len(pairs) != 1 or pairs[0][0] != "patient":
        raise InvalidRequest("The only filter offered is patient=Patient/<id>.")
    value = pairs[0][1].removeprefix("Patient/")
    if not re.fullmatch(r"[A-Za-z0-9\-.]{1,64}", value):
        raise InvalidRequest("The patient filter must name a Patient id.")
    return value
