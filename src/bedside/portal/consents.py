"""A patient's privacy Consents in plain words, for one caller (docs/consent.md).

Built per request like ``Repository(store, caller)``: :meth:`ConsentListing.listing` checks
that the caller is a patient user linked to a Patient whose token (and, given the server's
``policy``, whose role) allows reading Consent, and searches with the caller's row visibility
(:class:`bedside.rest.access.Access`), so it can never list another patient's Consents. Each
Consent is :func:`bedside.consent.wording.describe` words, most recently changed first, with
actors named from their stored resources ("Dr Ada Clinician" rather than "Practitioner/9").
The HTTP layer (:mod:`bedside.web.consent_api`) only answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final, TypeGuard

from bedside.auth.caller import Caller
from bedside.consent.evaluate import read_provision
from bedside.consent.wording import describe
from bedside.errors import Forbidden
from bedside.fhir.search.query import MAX_COUNT, parse_search
from bedside.policy.decide import Policy
from bedside.rest.access import Access
from bedside.rest.interactions import load
from bedside.store.base import Session, Store, StoredVersion

__all__ = ["ConsentListing", "human_name"]

_NAMED_BY_NAME: Final = ("Organization", "CareTeam")
_HUMANS: Final = ("Practitioner", "RelatedPerson", "Patient")


class ConsentListing:
    """``clock`` gives UNIX seconds; ``policy`` (the server's) adds the patient role's
    permissions to the token's."""

    def __init__(
        self,
        store: Store,
        caller: Caller,
        clock: Callable[[], float],
        *,
        policy: Policy | None = None,
    ) -> None:
        self.store = store
        self.caller = caller
        self.clock = clock
        self.policy = policy

    def listing(self) -> dict[str, Any]:
        """``{"patient", "consents"}``: the caller's own Consents in words, newest first."""
        caller = self.caller
        patient = _own_patient(caller)
        now = self.clock()
        with self.store.read() as session:
            view = self.policy.view(session.records(), caller) if self.policy else None
            access = Access(caller, view)
            access.require("Consent", "read")
            consents = _consents(session, access, patient)
            names = _names(session, _actors(consents), patient)
        return {
            "patient": f"Patient/{patient}",
            "consents": [describe(c, names=names, now=now) for c in consents],
        }


def _own_patient(caller: Caller) -> str:
    """The caller's own Patient id, or 403: this list is for a patient reading their record."""
    if caller.role != "patient":
        raise Forbidden("Only a patient can list their consents here.")
    if not caller.user_patient:
        raise Forbidden("This account is not linked to a patient record.")
    caller.require("Consent", "read")
    return caller.user_patient


def _consents(session: Session, access: Access, patient: str) -> list[dict[str, Any]]:
    """Every Consent of the patient the caller may read, most recently changed first."""
    visible = access.rows("Consent", "read")
    if visible is not None and visible.nothing:
        return []
    query = parse_search(
        "Consent",
        [
            ("patient", f"Patient/{patient}"),
            ("_sort", "-_lastUpdated"),
            ("_count", str(MAX_COUNT)),
        ],
    )
    snapshot = session.max_seq()
    rows: list[StoredVersion] = []
    after: tuple[object, ...] | None = None
    while True:
        page = session.search(
            query, snapshot=snapshot, after=after, limit=MAX_COUNT, visible=visible
        )
        rows.extend(page.rows)
        if len(page.rows) < MAX_COUNT:
            return [load(v) for v in rows]
        after = page.keys[-1]


def _actors(consents: Iterable[Mapping[str, Any]]) -> set[str]:
    out: set[str] = set()
    for consent in consents:
        root = read_provision(consent.get("provision"))
        if root is not None:
            out.update(root.actors)
            for sub in root.nested:
                out.update(sub.actors)
    return out


def _names(session: Session, refs: Iterable[str], patient: str) -> dict[str, str]:
    """Display names of the actors that have one; the patient themself is "you"."""
    names: dict[str, str] = {}
    for ref in refs:
        if ref == f"Patient/{patient}":
            names[ref] = "you"
        elif (name := _name_of(session, ref)) is not None:
            names[ref] = name
    return names


def _resource(session: Session, ref: str) -> dict[str, Any] | None:
    rtype, _, rid = ref.partition("/")
    version = session.current(rtype, rid) if rtype and rid else None
    return load(version) if version is not None and not version.deleted else None


def _name_of(session: Session, ref: str) -> str | None:
    resource = _resource(session, ref)
    if resource is None:
        return None
    rtype = resource.get("resourceType")
    if rtype in _HUMANS:
        return human_name(resource.get("name"))
    if rtype in _NAMED_BY_NAME:
        name = resource.get("name")
        return name if isinstance(name, str) and name.strip() else None
    if rtype == "Device":
        for item in resource.get("deviceName") or ():
            if isinstance(item, dict) and isinstance(item.get("name"), str):
                return str(item["name"])
        return None
    if rtype == "PractitionerRole":
        practitioner = resource.get("practitioner") or {}
        ref_to = practitioner.get("reference")
        name = _name_of(session, ref_to) if _is_practitioner(ref_to) else None
        if name is not None:
            return name
        display = practitioner.get("display")
        return display if isinstance(display, str) else None
    return None


def _is_practitioner(ref: Any) -> TypeGuard[str]:
    return isinstance(ref, str) and ref.startswith("Practitioner/")


def human_name(names: Any) -> str | None:
    """A HumanName list as one would address the person: "Dr Ada Clinician".

    The ``official`` or ``usual`` name first; its ``text`` when given, else prefix, given names
    and family name.
    """
    if not isinstance(names, list):
        return None
    candidates = [n for n in names if isinstance(n, dict)]
    candidates.sort(key=lambda n: 0 if n.get("use") in ("official", "usual") else 1)
    for name in candidates:
        if isinstance(name.get("text"), str) and name["text"].strip():
            return str(name["text"]).strip()
        parts = [
            *[p for p in name.get("prefix") or () if isinstance(p, str)],
            *[g for g in name.get("given") or () if isinstance(g, str)],
            *([name["family"]] if isinstance(name.get("family"), str) else []),
        ]
        if parts:
            return " ".join(parts)
    return None
