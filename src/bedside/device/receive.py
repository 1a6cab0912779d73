"""Storing what the server sent: its resources, as the synced versions (G4, G5).

Two rules keep a sync from losing or leaking anything:

* A resource changed on this device whose event the server has not accepted yet (pending,
  sending or needs-review) is *held back*: the local version stays and the server's is not
  written over it. Sync reports it; the server decides when the event arrives (G4: a clinical
  value is never overwritten silently).
* Only the working set is stored: a resource of a patient without a current ``patients`` row
  (``left_at`` unset) is skipped, whatever the server sent (G5). Shared resources that belong
  to no patient (Practitioner, Medication ...) are kept.
* **Never backwards.** A version older than the one stored is skipped: a pull can lag behind
  what a push already confirmed (on PostgreSQL the pull stops at the oldest running
  transaction's horizon), and the device's copy must not go back to it. Within one batch the
  highest version sent wins.

A first sync brings 100,000 resources, so one batch is one transaction of ``executemany``
statements, with the rows and search rows computed in one Python pass over the batch, not one
statement round per resource. The local changes to hold back are found from the outbox's
unconfirmed events (an index), never by scanning ``resources``: that scan read and decrypted
the whole store for every page of a first sync (docs/benchmarks.md, "Sync").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bedside.device.index import display_of, patient_of, search_rows
from bedside.device.outbox import UNCONFIRMED
from bedside.device.records import LocalRecords
from bedside.device.session import Session
from bedside.device.store import Connection
from bedside.numerals import is_number

__all__ = ["Received", "Row", "SearchRow", "receive"]

_CHUNK: Final = 500  # ids per lookup of stored versions (SQLite allows 32,766 parameters)

#: (type, id, patient, server_version, body, updated): a ``resources`` row
Row = tuple[str, str, str | None, str | None, str, float]
#: (type, id, param, value, patient): a ``search`` row
SearchRow = tuple[str, str, str, str, str | None]


@dataclass(frozen=True, slots=True)
class Received:
    """What a batch of server resources did to the store."""

    stored: int
    held_back: tuple[str, ...]  # "Type/id" of local changes kept over the server's version
    skipped: int  # outside the working set, or not a resource
    stale: int = 0  # older than the version already stored (kept as stored)


def receive(
    s: Session, resources: Iterable[dict[str, Any]], *, sync_token: str | None = None
) -> Received:
    """Store server resources (``meta.versionId`` → ``server_version``, ``synced``).

    ``sync_token``, when given, is saved in the same transaction, so the cursor never runs
    ahead of the data it covers.
    """
    now = s.clock()
    skipped = 0
    with s.store.transaction(durable=False) as tx:
        members = {str(r[0]) for r in tx.execute("SELECT id FROM patients WHERE left_at IS NULL")}
        protected = _unconfirmed_local(tx)
        held: list[str] = []
        # (type, id) -> (row, its search rows, the Patient's list entry or None); a resource
        # sent twice in one batch is stored at its highest version
        batch: dict[tuple[str, str], tuple[Row, list[SearchRow], tuple[Any, ...] | None]] = {}
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
            meta = resource.get("meta")
            version = meta.get("versionId") if isinstance(meta, dict) else None
            row = (
                rtype,
                rid,
                patient,
                version if isinstance(version, str) else None,
                orjson.dumps(resource).decode("utf-8"),
                now,
            )
            search = [(rtype, rid, p, v, patient) for p, v in search_rows(resource)]
            person = (*display_of(resource), rid) if rtype == "Patient" else None
            seen = batch.get((rtype, rid))
            if seen is None or not _older(row[3], seen[0][3]):
                batch[(rtype, rid)] = (row, search, person)
        stale = _stale(tx, {k: entry[0][3] for k, entry in batch.items()})
        keys = [k for k in batch if k not in stale]
        LocalRecords(tx).store_synced(
            keys, [batch[k][0] for k in keys], [row for k in keys for row in batch[k][1]]
        )
        people = [person for k in keys if (person := batch[k][2]) is not None]
        if people:
            tx.executemany(
                "UPDATE patients SET display = ?, birth_date = ?, gender = ? WHERE id = ?", people
            )
        if sync_token is not None:
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('sync_token', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (sync_token,),
            )
    return Received(len(keys), tuple(held), skipped, len(stale))


def _number(version: str | None) -> int | None:
    return int(version) if version is not None and is_number(version) else None


def _older(version: str | None, than: str | None) -> bool:
    """True when both are server version numbers and ``version`` is the lower."""
    a, b = _number(version), _number(than)
    return a is not None and b is not None and a < b


def _stale(tx: Connection, incoming: dict[tuple[str, str], str | None]) -> set[tuple[str, str]]:
    """The keys whose stored ``server_version`` is newer than the one sent."""
    by_type: dict[str, list[str]] = {}
    for rtype, rid in incoming:
        by_type.setdefault(rtype, []).append(rid)
    out: set[tuple[str, str]] = set()
    for rtype, ids in by_type.items():
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            for rid, stored in LocalRecords(tx).server_versions(rtype, chunk):
                key = (rtype, rid)
                if _older(incoming[key], stored):
                    out.add(key)
    return out


def _unconfirmed_local(tx: Connection) -> set[tuple[str, str]]:
    """(type, id) of resources saved on this device whose own event is not yet confirmed."""
    return LocalRecords(tx).saved_with_events(UNCONFIRMED)
