"""Storing what the server sent: its resources, as the synced versions (G4, G5).

Two rules keep a sync from losing or leaking anything:

* A resource changed on this device whose event the server has not accepted yet (pending,
  sending or needs-review) is *held back*: the local version stays and the server's is not
  written over it. Sync reports it; the server decides when the event arrives (G4: a clinical
  value is never overwritten silently).
* Only the working set is stored: a resource of a patient without a current ``patients`` row
  (``left_at`` unset) is skipped, whatever the server sent (G5). Shared resources that belong
  to no patient (Practitioner, Medication ...) are kept.

A first sync brings 100,000 resources, so this is one transaction of ``executemany`` batches
with the search rows computed in Python, not one statement round per resource.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import orjson

from bedside.device.index import display_of, patient_of, search_rows
from bedside.device.outbox import UNCONFIRMED
from bedside.device.session import Session

__all__ = ["Received", "receive"]


@dataclass(frozen=True, slots=True)
class Received:
    """What a batch of server resources did to the store."""

    stored: int
    held_back: tuple[str, ...]  # "Type/id" of local changes kept over the server's version
    skipped: int  # outside the working set, or not a resource


def receive(
    s: Session, resources: Iterable[dict[str, Any]], *, sync_token: str | None = None
) -> Received:
    """Store server resources (``meta.versionId`` → ``server_version``, ``synced``).

    ``sync_token``, when given, is saved in the same transaction, so the cursor never runs
    ahead of the data it covers.
    """
    now = s.clock()
    batch: dict[tuple[str, str], tuple[dict[str, Any], str | None]] = {}
    skipped = 0
    with s.store.transaction(durable=False) as tx:
        members = {str(r[0]) for r in tx.execute("SELECT id FROM patients WHERE left_at IS NULL")}
        marks = ",".join("?" * len(UNCONFIRMED))
        protected = {
            (str(r[0]), str(r[1]))
            for r in tx.execute(
                "SELECT r.type, r.id FROM resources r WHERE r.local_state = 'saved-on-device' "
                "AND EXISTS (SELECT 1 FROM outbox o WHERE o.type = r.type AND "
                f"o.resource_id = r.id AND o.state IN ({marks}))",
                UNCONFIRMED,
            )
        }
        held: list[str] = []
        for resource in resources:
            rtype = resource.get("resourceType") if isinstance(resource, dict) else None
            rid = resource.get("id") if isinstance(resource, dict) else None
            if not isinstance(rtype, str) or not isinstance(rid, str) or not rid:
                skipped += 1
                continue
            patient = patient_of(resource)
            if patient is not None and patient not in members:
                skipped += 1
                continue
            if (rtype, rid) in protected:
                held.append(f"{rtype}/{rid}")
                continue
            batch[(rtype, rid)] = (resource, patient)
        rows: list[tuple[str, str, str | None, str | None, str, float]] = []
        search: list[tuple[str | None, str, str, str, str]] = []
        people: list[tuple[str, str | None, str | None, str]] = []
        for (rtype, rid), (resource, patient) in batch.items():
            meta = resource.get("meta")
            version = meta.get("versionId") if isinstance(meta, dict) else None
            rows.append(
                (
                    rtype,
                    rid,
                    patient,
                    version if isinstance(version, str) else None,
                    orjson.dumps(resource).decode("utf-8"),
                    now,
                )
            )
            search.extend((patient, rtype, p, v, rid) for p, v in search_rows(resource))
            if rtype == "Patient":
                people.append((*display_of(resource), rid))
        tx.executemany("DELETE FROM search WHERE type = ? AND id = ?", list(batch))
        tx.executemany(
            "INSERT INTO resources (type, id, patient, server_version, local_state, body, "
            "updated, provenance) VALUES (?, ?, ?, ?, 'synced', ?, ?, NULL) "
            "ON CONFLICT (type, id) DO UPDATE SET patient = excluded.patient, "
            "server_version = excluded.server_version, local_state = 'synced', "
            "body = excluded.body, updated = excluded.updated, provenance = NULL",
            rows,
        )
        tx.executemany(
            "INSERT INTO search (patient, type, param, value, id) VALUES (?, ?, ?, ?, ?)", search
        )
        tx.executemany(
            "UPDATE patients SET display = ?, birth_date = ?, gender = ? WHERE id = ?", people
        )
        if sync_token is not None:
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('sync_token', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (sync_token,),
            )
    return Received(len(batch), tuple(held), skipped)
