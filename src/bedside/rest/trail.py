"""The audit entries of one FHIR request: who touched which patients' data, how, and why.

The Repository notes what each interaction returned or wrote; :class:`Trail` turns that into
:class:`~bedside.audit.entry.AuditEntry` values with the caller, the patients concerned (read
from the resources, :func:`bedside.fhir.compartment.patients_of`) and the purpose of use:
``BTG`` when a patient is reached under break-glass, else ``TREAT`` for staff and ``PATRQT``
for a patient reading their own record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Final

import orjson

from bedside.audit.entry import MINOR_FAILURE, SERIOUS_FAILURE, SUCCESS, AuditEntry
from bedside.auth.caller import Caller
from bedside.errors import FhirError
from bedside.fhir.compartment import patients_of
from bedside.policy.model import AccessView
from bedside.rest.types import FhirRequest
from bedside.store.base import StoredVersion

__all__ = ["ACTIONS", "Trail", "subtype_of", "type_of"]

ACTIONS: Final = {
    "read": "R",
    "vread": "R",
    "history-instance": "R",
    "history-type": "R",
    "history-system": "R",
    "search-type": "E",
    "create": "C",
    "update": "U",
    "patch": "U",
    "delete": "D",
    "operation": "E",
    "consent": "U",
    "break-glass": "E",
}

#: Strongest first: the basis named when several reach the patients an entry touched.
_BASIS_ORDER: Final = ("break-glass", "consent", "care-team", "location", "assignment", "self")


class Trail:
    def __init__(
        self, caller: Caller, clock: Callable[[], float], network: str | None = None
    ) -> None:
        self.caller = caller
        self.clock = clock
        self.network = network
        self.view: AccessView | None = None
        self.entries: list[AuditEntry] = []
        self.occurred_ms: int | None = None  # a device's action: its time by the device clock

    def note(
        self,
        subtype: str,
        *,
        rtype: str | None = None,
        versions: Iterable[StoredVersion] = (),
        resources: Iterable[dict[str, Any]] = (),
        patients: Iterable[str] = (),
        entities: Iterable[str] = (),
        query: str | None = None,
        outcome: str = SUCCESS,
        description: str | None = None,
        purpose: tuple[str, ...] | None = None,
    ) -> None:
        found = set(patients)
        named = list(entities)
        for v in versions:
            named.append(f"{v.type}/{v.id}/_history/{v.version}")
            if v.content is not None:
                found.update(patients_of(orjson.loads(v.content)))
        for res in resources:
            version = (res.get("meta") or {}).get("versionId")  # an AuditEvent has none
            ref = f"{res.get('resourceType')}/{res.get('id')}"
            named.append(f"{ref}/_history/{version}" if version else ref)
            found.update(patients_of(res))
        self.entries.append(
            AuditEntry(
                subtype=subtype,
                action=ACTIONS.get(subtype, "E"),
                outcome=outcome,
                recorded_ms=int(self.clock() * 1000),
                user_ref=self.caller.fhir_user,
                subject=self.caller.subject,
                client_id=self.caller.client_id,
                role=self.caller.role,
                device=self.caller.device,
                purpose=purpose if purpose is not None else self._purpose(found),
                patients=tuple(sorted(found)),
                entities=tuple(named),
                resource_type=rtype,
                query=query,
                description=description,
                network=self.network,
                occurred_ms=self.occurred_ms,
                basis=self._basis(found, outcome),
            )
        )

    def failure(
        self,
        subtype: str,
        rtype: str | None,
        exc: FhirError,
        *,
        description: str | None = None,
        patients: Iterable[str] = (),
        entities: Iterable[str] = (),
    ) -> None:
        """A refused or failed interaction: 4 for the client's side (denials), 8 for ours.

        ``patients`` and ``entities`` are what it addressed, when the server knows them
        (:mod:`bedside.rest.targets`): the caller's answer never shows them."""
        outcome = SERIOUS_FAILURE if exc.status >= 500 else MINOR_FAILURE
        words = description or f"refused with {exc.status}"
        self.note(
            subtype,
            rtype=rtype,
            outcome=outcome,
            description=words,
            patients=patients,
            entities=entities,
        )

    def _basis(self, patients: set[str], outcome: str) -> str | None:
        """Why this access was decided as it was, for the metrics (``bedside.metrics``).

        Allowed: the strongest basis reaching any patient touched (break-glass, then consent,
        care team, ward, assignment, own record), ``service`` for a caller with no role.
        Refused: ``consent`` when a consent's deny withholds one of the patients addressed,
        else ``none``.
        """
        view = self.view
        if outcome != SUCCESS:
            refused = view is not None and patients & {r.patient for r in view.refusals}
            return "consent" if refused else "none"
        if self.caller.role is None:
            return "service"
        if view is None or not patients:
            return None
        bases = {a.basis for a in (*view.glass, *view.relations) if a.patient in patients}
        if patients & {s.patient for s in view.shares}:
            bases.add("consent")
        return next((b for b in _BASIS_ORDER if b in bases), None)

    def _purpose(self, patients: set[str]) -> tuple[str, ...]:
        view = self.view
        if view is not None and patients & {
            a.patient for a in view.glass if a.basis == "break-glass"
        }:
            return ("BTG",)
        if self.caller.role == "patient":
            return ("PATRQT",)
        if self.caller.role is None:
            return ()
        return ("TREAT",)


def subtype_of(req: FhirRequest) -> str:
    """The audit subtype of a request that failed before it could say what it was."""
    parts = [p for p in req.path.split("/") if p]
    if parts and parts[-1].startswith("$") and parts[-1] != "$break-glass":
        return "operation"
    if req.method in ("GET", "HEAD"):
        if parts == ["_history"]:
            return "history-system"
        if (
            len(parts) == 1
            or parts[-1] == "_search"
            or (len(parts) == 3 and parts[2][:1].isupper())
        ):
            return "search-type"  # a type's search, or a compartment search (Patient/1/Type)
        return "history-instance" if parts[-1] == "_history" else "read"
    if parts and parts[-1] == "$break-glass":
        return "break-glass"
    if parts and parts[-1].startswith("$"):
        return "operation"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(
        req.method, "operation"
    )


def type_of(req: FhirRequest) -> str | None:
    first = req.path.strip("/").split("/")[0]
    return first or None
