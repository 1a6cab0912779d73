"""Notifications, built with the subscriber's access decided at the moment they are sent.

A Subscription is owned by the client that created it; the token it was created with is kept
(subject, scopes, role, launch patient, grant) and rebuilt as a :class:`Caller` for every
send. Each event is then checked as a read of that resource by that caller would be
(:class:`~bedside.rest.access.Access`, the same rules as every search): the current resource
must still be visible, the event's version must lie inside the visibility
(:func:`bedside.fhir.search.confine.admits`, which admits nothing it cannot evaluate), and the
``patient`` filter must hold. An event that fails is left out of the notification entirely —
no resource, no id, no event number. A revoked or expired grant turns the Subscription off.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from bedside.auth.caller import Caller
from bedside.auth.grants import Grants
from bedside.errors import FhirError
from bedside.fhir.compartment import patients_of
from bedside.fhir.search.confine import admits
from bedside.policy.decide import Policy
from bedside.rest.access import Access
from bedside.store.base import Session, Store
from bedside.subscriptions.records import Event, SubscriptionRow
from bedside.subscriptions.spec import BACKPORT, SubscriptionSpec

__all__ = [
    "NOTIFICATION_PROFILE",
    "STATUS_PROFILE",
    "Notice",
    "notification",
    "owner_access",
    "status_parameters",
    "visible",
]

STATUS_PROFILE: Final = f"{BACKPORT}/StructureDefinition/backport-subscription-status-r4"
NOTIFICATION_PROFILE: Final = (
    f"{BACKPORT}/StructureDefinition/backport-subscription-notification-r4"
)
_METHOD: Final = {"create": ("POST", "201"), "update": ("PUT", "200"), "delete": ("DELETE", "200")}


def owner_access(
    store: Store, session: Session, policy: Policy, sub: SubscriptionRow
) -> Access | None:
    """The owner's access now; None when the grant it was created under has ended."""
    caller = Caller.from_record(sub.caller)
    if caller.grant_id is not None and not Grants(store, clock=policy.clock).is_active(
        caller.grant_id
    ):
        return None
    view = policy.view(session.records(), caller)
    return Access(caller, view, None)


@dataclass(frozen=True, slots=True)
class Notice:
    """One event that passed the access check, with the content it may carry."""

    event: Event
    resource: dict[str, Any]  # the event's version (the last one before a delete)


def visible(
    session: Session, access: Access, spec: SubscriptionSpec, event: Event
) -> Notice | None:
    """The event as the owner may see it now, or None when it may not (see module docstring)."""
    try:
        access.require(event.rtype, "read")
    except FhirError:
        return None
    version = event.version - 1 if event.op == "delete" else event.version
    stored = session.version(event.rtype, event.rid, version) if version > 0 else None
    if stored is None or stored.content is None:
        return None
    resource = orjson.loads(stored.content)
    if spec.patient is not None and spec.patient not in patients_of(resource):
        return None
    rows = access.rows(event.rtype, "read")
    if rows is not None:
        if not admits(rows, resource):
            return None
        if event.op != "delete":
            current = session.current(event.rtype, event.rid, visible=rows)
            if current is None or current.deleted:
                return None
    return Notice(event, resource)


def _instant(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


def status_parameters(
    base: str, sub: SubscriptionRow, kind: str, notices: Sequence[Notice], status: str | None = None
) -> dict[str, Any]:
    """The SubscriptionStatus (backport-subscription-status-r4) of a notification."""
    params: list[dict[str, Any]] = [
        {"name": "subscription", "valueReference": {"reference": f"{base}/Subscription/{sub.id}"}},
        {"name": "topic", "valueCanonical": sub.spec.topic},
        {"name": "status", "valueCode": status or sub.status},
        {"name": "type", "valueCode": kind},
        {"name": "events-since-subscription-start", "valueString": str(sub.events)},
    ]
    for n in notices:
        parts: list[dict[str, Any]] = [
            {"name": "event-number", "valueString": str(n.event.number)},
            {"name": "timestamp", "valueInstant": _instant(n.event.recorded_at)},
        ]
        if sub.spec.content != "empty":
            ref = f"{base}/{n.event.rtype}/{n.event.rid}"
            parts.append({"name": "focus", "valueReference": {"reference": ref}})
        params.append({"name": "notification-event", "part": parts})
    return {
        "resourceType": "Parameters",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [STATUS_PROFILE]},
        "parameter": params,
    }


def notification(
    base: str,
    sub: SubscriptionRow,
    kind: str,
    notices: Sequence[Notice] = (),
    *,
    now: float,
    content: str | None = None,
    status: str | None = None,
) -> dict[str, Any]:
    """A ``subscription-notification`` Bundle (type ``history``): the status first, then one
    entry per event as the payload content allows (``empty``: none)."""
    content = content or sub.spec.content
    head = status_parameters(base, sub, kind, notices, status)
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"urn:uuid:{head['id']}",
            "resource": head,
            "request": {"method": "GET", "url": f"{base}/Subscription/{sub.id}/$status"},
            "response": {"status": "200"},
        }
    ]
    if content != "empty":
        for n in notices:
            e = n.event
            method, code = _METHOD[e.op]
            url = e.rtype if e.op == "create" else f"{e.rtype}/{e.rid}"
            entry: dict[str, Any] = {
                "fullUrl": f"{base}/{e.rtype}/{e.rid}",
                "request": {"method": method, "url": url},
                "response": {"status": code},
            }
            if content == "full-resource" and e.op != "delete":
                entry["resource"] = n.resource
            entries.append(entry)
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"profile": [NOTIFICATION_PROFILE]},
        "type": "history",
        "timestamp": _instant(now),
        "entry": entries,
    }
