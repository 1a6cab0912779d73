"""What happens around every stored write: consent rules, clinical rules, the consent change
feed, Provenance.

:class:`Interactions` calls :meth:`WriteHooks.before` before it stores a version (a refusal
there stores nothing) and :meth:`WriteHooks.after` once it is stored, in the same transaction.
Every write passes here (REST, transaction Bundles, import, sync push, review resolution), so
each rule lives here once:

* a Consent must follow the consent state machine (:mod:`bedside.consent.rules`); when one is
  withdrawn the change feed gets an entry telling devices what to drop
  (:mod:`bedside.consent.changes`), and the change is audited;
* a NEWS2 total must match the parameter Observations it is derived from, recomputed from what
  the writer can read on the server (:mod:`bedside.clinical.news2_check`, brief G3): else
  :class:`~bedside.errors.ClinicalRuleBroken` (422; sync ``clinical-rule``);
* a reference to one of this server's resources that the writer cannot read is refused (422)
  when the policy's ``[references]`` rejects dangling references to that type
  (:class:`~bedside.policy.references.ReferenceRules`; the default allows them);
* every write is the target of a ``Provenance`` (who, from which app and device, when, what it
  was based on), written by the server in the same transaction so neither exists without the
  other: one per activity and transaction (:meth:`WriteHooks.flush`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import orjson

from bedside.auth.caller import Caller
from bedside.clinical.news2_check import check_total
from bedside.consent.changes import note_consent_change
from bedside.consent.rules import (
    CREATE_STATUSES,
    check_consent_write,
    check_data_owned,
    data_references,
)
from bedside.errors import Unprocessable
from bedside.fhir.dates import now_instant
from bedside.fhir.references import local_references
from bedside.fhir.search.extract import extract
from bedside.policy.references import ReferenceRules
from bedside.provenance import provenance_for
from bedside.rest.trail import Trail
from bedside.store.base import Session, StoredVersion, Write

__all__ = ["Reader", "WriteHooks"]

#: Reads a stored resource (type, id, version or None for the current one) as the writer may.
Reader = Callable[[str, str, int | None], dict[str, Any] | None]


class WriteHooks:
    def __init__(
        self,
        caller: Caller,
        trail: Trail,
        source: str,
        references: ReferenceRules | None = None,
    ) -> None:
        self.caller = caller
        self.trail = trail
        self.source = source
        self.references = references or ReferenceRules()
        #: (activity, target, based on, occurred, purpose) of each write not yet given one
        self.pending: list[tuple[str, str, str | None, str | None, str | None]] = []
        # A device's write (sync ingest) also says when the user acted, by the device's clock,
        # and under which purposeOfUse; both go on the Provenance.
        self.occurred: str | None = None
        self.purpose: str | None = None
        # A review resolved from the console (ADR 0014): the device the settled change came
        # from and its user, named on the Provenance beside the reviewer.
        self.device: str | None = None
        self.informant: str | None = None

    def before(
        self,
        rtype: str,
        previous: StoredVersion | None,
        resource: dict[str, Any] | None,
        *,
        read: Reader | None = None,
    ) -> None:
        """Refuse a write that breaks a rule; ``read`` gives stored resources as the writer may
        read them, for rules that look at other records."""
        if rtype == "Consent":
            check_consent_write(_content(previous), resource, patient_user=self.caller.user_patient)
            if resource is not None and resource.get("status") in CREATE_STATUSES:
                # Withdrawing is never held up by the shared resource having changed or gone.
                if read is None and data_references(resource):
                    raise Unprocessable("A Consent naming resources cannot be written here.")
                if read is not None:
                    check_data_owned(resource, lambda kind, rid: read(kind, rid, None))
        if rtype == "Observation" and resource is not None and read is not None:
            check_total(resource, lambda rid, version: read("Observation", rid, version))
        if resource is not None and read is not None and self.references.checks:
            self._check_references(resource, read)

    def _check_references(self, resource: dict[str, Any], read: Reader) -> None:
        """Referential integrity (docs/api.md "References"): the message names what the writer
        sent, never whether a resource it cannot read exists."""
        for target, tid, where in local_references(resource):
            if self.references.mode(target) != "reject":
                continue
            if (target, tid) == (resource.get("resourceType"), resource.get("id")):
                continue  # a reference to itself
            if read(target, tid, None) is None:
                raise Unprocessable(
                    f"{where} refers to {target}/{tid}, which is not known here; "
                    f"references to {target} must name a stored resource.",
                    code="not-found",
                    expression=(where,),
                )

    def after(
        self,
        session: Session,
        stored: StoredVersion,
        resource: dict[str, Any] | None,
        previous: StoredVersion | None,
    ) -> None:
        if stored.type == "Consent" and resource is not None:
            old = _content(previous)
            note_consent_change(session, old, resource, stored.last_updated)
            before = (old or {}).get("status", "new")
            after = resource.get("status")
            if before != after:
                self.trail.note(
                    "consent",
                    rtype="Consent",
                    versions=[stored],
                    description=f"consent {before} -> {after}",
                )
        if stored.type == "Provenance":
            return  # a Provenance is not itself given a Provenance
        based_on = (
            f"{previous.type}/{previous.id}/_history/{previous.version}"
            if previous is not None and not previous.deleted
            else None
        )
        target = f"{stored.type}/{stored.id}/_history/{stored.version}"
        activity = "DELETE" if stored.deleted else ("UPDATE" if based_on else "CREATE")
        self.pending.append((activity, target, based_on, self.occurred, self.purpose))

    def flush(self, session: Session) -> None:
        """Store the Provenance of the writes so far: one per activity (CREATE, UPDATE, DELETE)
        and moment the user acted (a device's events each say when), naming every version it
        covers, so a transaction Bundle gets one or a few, not one per entry, and a sync push
        one per event, stored together. Called in the write's transaction before it commits."""
        pending, self.pending = self.pending, []
        recorded = now_instant()
        writes: list[Write] = []
        groups: dict[tuple[str, str | None, str | None], list[tuple[str, str | None]]] = {}
        for activity, target, based_on, occurred, purpose in pending:
            groups.setdefault((activity, occurred, purpose), []).append((target, based_on))
        for (activity, occurred, purpose), items in groups.items():
            pid = str(uuid.uuid4())
            prov = provenance_for(
                target=items[0][0],
                previous=items[0][1],
                activity=activity,
                recorded=recorded,
                user_ref=self.caller.fhir_user,
                subject=self.caller.subject,
                client_id=self.caller.client_id,
                device=self.device or self.caller.device,
                source=self.source,
                provenance_id=pid,
                occurred=occurred,
                purpose=purpose,
                informant=self.informant,
            )
            prov["target"] = [{"reference": t} for t, _ in items]
            role = "removal" if activity == "DELETE" else "revision"
            entities = [{"role": role, "what": {"reference": p}} for _, p in items if p]
            if entities:
                prov["entity"] = entities
            prov["id"] = pid
            prov["meta"] = {**prov.get("meta", {}), "versionId": "1", "lastUpdated": recorded}
            writes.append(
                Write(
                    type="Provenance",
                    id=pid,
                    version=1,
                    deleted=False,
                    last_updated=recorded,
                    method="POST",
                    content=orjson.dumps(prov),
                    index=extract(prov),
                    rid=None,
                )
            )
        if writes:
            session.apply(writes)


def _content(version: StoredVersion | None) -> dict[str, Any] | None:
    if version is None or version.deleted or version.content is None:
        return None
    data: dict[str, Any] = orjson.loads(version.content)
    return data
