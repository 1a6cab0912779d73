""" "Who has seen my record": the audit trail about one patient, in plain words.

Read through the patient's own ``AuditEvent`` search (``bedside.audit.search`` with
``patient_only``), so it lists only events about their record, newest first, paged by the
search's cursor, and never shows another patient's entities. Each event becomes an
:class:`Access`: who (a person's name and role, an app's name, a link's recipient as they
named themselves, "you"), when, what kind of data, why (care, emergency access with the reason
the clinician typed, a share the patient made, a link they shared) and from where (a Bedside
device, an app, the portal, a shared link).

What counts as "a share": a clinician named as an actor by one of the patient's own Consents.
The audit does not record which basis let a read through, so this says "under a share you
made" when that clinician holds one, and "for your care" otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from bedside.audit.event import BEDSIDE_ROLES, CLIENT_ID, DEVICE_ID
from bedside.audit.search import last_use
from bedside.errors import FhirError
from bedside.policy import breakglass
from bedside.portal.data_classes import DATA_CLASSES
from bedside.portal.record import PortalRecord
from bedside.rest import FhirRequest
from bedside.store.base import Store

__all__ = ["PAGE", "Access", "AccessPage", "accesses", "app_last_used"]

PAGE: Final = 25
_KIND: Final = {
    **{t: c.words.removeprefix("your ") for c in DATA_CLASSES for t in c.types},
    "Patient": "your details",
    "Consent": "your sharing choices",
    "Appointment": "appointments",
}
_ROLES: Final = {
    "doctor": "doctor",
    "nurse": "nurse",
    "admin": "administrator",
    "auditor": "auditor",
    "support": "support staff",
}
_NOT_ACCESS: Final = frozenset({"login", "login-failed", "logout", "token-issue", "token-refresh"})


@dataclass(frozen=True, slots=True)
class Access:
    when: str  # "4 March 2026 at 10:15 UTC"
    who: str
    what: str
    why: str
    where: str
    outcome: str  # "" when it succeeded, else "refused"
    break_glass: bool
    mine: bool  # the patient's own access


@dataclass(frozen=True, slots=True)
class AccessPage:
    items: tuple[Access, ...]
    next_cursor: str | None


def _when(recorded: str) -> tuple[str, float]:
    try:
        at = datetime.fromisoformat(recorded.replace("Z", "+00:00"))
    except ValueError:
        return recorded, 0.0
    return f"{at.day} {at:%B %Y} at {at:%H:%M} UTC", at.timestamp()


def _codes(concepts: Iterable[Any]) -> set[str]:
    return {
        str(c.get("code"))
        for concept in concepts
        if isinstance(concept, dict)
        for c in concept.get("coding", [])
        if isinstance(c, dict)
    }


def accesses(
    record: PortalRecord,
    store: Store,
    *,
    cursor: str | None = None,
    include_mine: bool = False,
    app_names: Callable[[str], str | None] = lambda _: None,
    portal_client: str = "bedside-portal",
) -> AccessPage:
    """One page of accesses to ``record``'s patient, newest first."""
    query: list[tuple[str, str]] = [("_count", str(PAGE))]
    if cursor:
        query.append(("_cursor", cursor))
    bundle = record.repo.handle(FhirRequest("GET", "AuditEvent", query=tuple(query))).resource
    bundle = bundle or {}
    events = [e.get("resource", {}) for e in bundle.get("entry", [])]
    next_cursor = None
    for link in bundle.get("link", []):
        if link.get("relation") == "next":
            next_cursor = parse_qs(urlsplit(str(link.get("url"))).query).get("_cursor", [None])[0]
    with store.records() as db:
        glass = breakglass.for_patient(db, record.patient)
    shared_with = _share_actors(record)
    names: dict[str, str] = {}
    out = []
    for event in events:
        item = _access(event, record, glass, shared_with, names, app_names, portal_client)
        if item is not None and (include_mine or not item.mine):
            out.append(item)
    return AccessPage(tuple(out), next_cursor)


def app_last_used(record: PortalRecord, client_id: str) -> int | None:
    """When (epoch ms) the patient last used the app ``client_id``, from their own audit trail."""
    with record.repo.store.records() as db:
        return last_use(db, record.repo.caller.subject, client_id)


def _link_refusal(event: dict[str, Any]) -> str:
    said = str(event.get("outcomeDesc", ""))
    if "wrong passcode" in said:
        return "wrong passcode" + (", the link is now closed" if "disabled" in said else "")
    return "the link had ended"


def _share_actors(record: PortalRecord) -> set[str]:
    actors: set[str] = set()
    for consent in record.search("Consent"):
        provision = consent.get("provision") or {}
        if provision.get("type") != "permit":
            continue
        for actor in provision.get("actor", []) or []:
            ref = (
                (actor.get("reference") or {}).get("reference") if isinstance(actor, dict) else None
            )
            if ref:
                actors.add(str(ref))
    return actors


def _name(record: PortalRecord, ref: str, names: dict[str, str]) -> str:
    if ref not in names:
        names[ref] = ""
        try:
            found = record.repo.handle(FhirRequest("GET", ref)).resource or {}
        except FhirError:
            found = {}
        for name in found.get("name", []) or []:
            text = name.get("text") or " ".join(
                [*name.get("prefix", []), *name.get("given", []), name.get("family", "")]
            )
            if text.strip():
                names[ref] = text.strip()
                break
    return names[ref]


def _access(
    event: dict[str, Any],
    record: PortalRecord,
    glass: list[tuple[str, int, int, str]],
    shared_with: set[str],
    names: dict[str, str],
    app_names: Callable[[str], str | None],
    portal_client: str,
) -> Access | None:
    subtype = next(
        (str(c.get("code")) for c in event.get("subtype", []) if isinstance(c, dict)), ""
    )
    if subtype in _NOT_ACCESS:
        return None
    when, at = _when(str(event.get("recorded", "")))
    agents = [a for a in event.get("agent", []) if isinstance(a, dict)]
    user = next((a for a in agents if a.get("requestor")), {})
    who_ref = str((user.get("who") or {}).get("reference") or "")
    ident = (user.get("who") or {}).get("identifier") or {}
    display = str((user.get("who") or {}).get("display") or "")
    role = next(
        (
            str(c.get("code"))
            for r in user.get("role", []) or []
            for c in r.get("coding", [])
            if c.get("system") == BEDSIDE_ROLES
        ),
        "",
    )
    client = next(
        (
            str(((a.get("who") or {}).get("identifier") or {}).get("value"))
            for a in agents
            if not a.get("requestor")
            and ((a.get("who") or {}).get("identifier") or {}).get("system") == CLIENT_ID
        ),
        "",
    )
    device = any(
        ((a.get("who") or {}).get("identifier") or {}).get("system") == DEVICE_ID for a in agents
    )
    purposes = _codes(event.get("purposeOfEvent", []))
    mine = who_ref == f"Patient/{record.patient}"
    link = subtype.startswith("shl-")
    if mine:
        who = "You"
    elif subtype == "shl-manifest":
        who = f"{display} (named themselves when opening your link)"
    elif who_ref:
        person = _name(record, who_ref, names) or "Someone"
        who = f"{person}, {_ROLES.get(role, role or 'staff')}"
    elif ident.get("system") == CLIENT_ID:
        who = f"The system {app_names(str(ident.get('value'))) or ident.get('value')}"
    else:
        who = display or "Someone not identified"
    kinds = sorted(
        {
            _KIND.get(str((e.get("what") or {}).get("reference", "")).split("/")[0], "")
            for e in event.get("entity", [])
            if isinstance(e, dict)
        }
        - {"", "your details"}
    )
    what = ", ".join(kinds) if kinds else "your record"
    if subtype == "shl-manifest":
        what = "what you shared in a link"
    elif subtype == "break-glass":
        what = "emergency access to your whole record, opened"
    elif subtype in ("shl-create", "shl-revoke"):
        what = "a link to your record " + ("made" if subtype == "shl-create" else "withdrawn")
    is_glass = "BTG" in purposes
    if is_glass:
        reason = next((r for u, s, e, r in glass if u == who_ref and s <= at + 1 and at <= e), "")
        why = "Emergency access (break-glass)" + (f": “{reason}”" if reason else "")
    elif mine:
        why = "You looked at your record"
    elif link:
        why = "A link you shared"
    elif who_ref in shared_with:
        why = "Under a share you made"
    elif "TREAT" in purposes:
        why = "For your care"
    else:
        why = "Not stated"
    if link:
        where = "Your shared link"
    elif device or subtype.startswith("sync-"):
        where = "A Bedside device"
    elif client == portal_client:
        where = "The Bedside patient portal"
    elif client:
        where = f"The app {app_names(client) or client}"
    else:
        where = "Bedside"
    outcome = "" if str(event.get("outcome", "0")) == "0" else "refused"
    if outcome and not is_glass:
        why = "Refused: nothing was shown" if not link else "Refused: " + _link_refusal(event)
    return Access(when, who, what, why, where, outcome, is_glass, mine)
