"""Rebuild the search index of stored resources after the search parameter table changed.

Index rows are written with each version (ADR 0002), so a parameter the table gains, or a path
it changes, has no rows for what was stored before: a search on it would miss those resources
and ``:missing=true`` would wrongly match them (hazard H-25). ``bedside admin reindex`` runs
this once after an upgrade that changes :mod:`bedside.fhir.search.definitions`.

Each batch is one write transaction that first takes the same per-resource locks as a FHIR
write (``res:Type/id``), so a write running at the same time either finishes before the batch
reads the resource or waits until the batch has committed: the index never ends up describing
an older version than the one stored. A batch is all or nothing, so an interrupted run leaves
every resource with either its old rows or its new ones, and may simply be run again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson

from bedside.fhir.search.extract import IndexRows, extract
from bedside.store.base import Records, Store

__all__ = ["BATCH", "reindex"]

#: Resources per transaction: short enough not to hold writers up for long.
BATCH = 500
#: Rows per INSERT statement (5 columns each: well under SQLite's variable limit).
_ROWS_PER_INSERT = 200

_TABLES: tuple[tuple[str, str, Callable[[IndexRows], Sequence[tuple[Any, ...]]]], ...] = (
    ("idx_token", "rid, param, system, code", lambda ix: ix.token),
    ("idx_string", "rid, param, norm, exact", lambda ix: ix.string),
    ("idx_date", "rid, param, low, high", lambda ix: ix.date),
    ("idx_reference", "rid, param, target_type, target", lambda ix: ix.reference),
    ("idx_quantity", "rid, param, value, system, code", lambda ix: ix.quantity),
)


def reindex(
    store: Store, *, batch: int = BATCH, progress: Callable[[int], None] | None = None
) -> int:
    """Recompute the index rows of every current, not deleted resource; returns how many."""
    after, done = 0, 0
    while True:
        with store.write() as session:
            records = session.records()
            found = records.rows(
                "SELECT rid, type, id FROM resources WHERE rid > ? ORDER BY rid LIMIT ?",
                (after, batch),
            )
            if not found:
                return done
            session.lock_all([f"res:{rtype}/{rid}" for _, rtype, rid in found])
            done += _rebuild(records, [int(r[0]) for r in found])
        after = int(found[-1][0])
        if progress is not None:
            progress(done)


def _rebuild(records: Records, rids: list[int]) -> int:
    marks = ", ".join("?" for _ in rids)
    # read after the locks: the current version as it is now, not as the first SELECT saw it
    current = records.rows(
        "SELECT r.rid, v.content FROM resources r JOIN resource_versions v"
        f" ON v.rid = r.rid AND v.version = r.version WHERE r.rid IN ({marks})",
        rids,
    )
    for table, _, _ in _TABLES:
        records.run(f"DELETE FROM {table} WHERE rid IN ({marks})", rids)
    count = 0
    for rid, content in current:
        if content is None:  # a delete keeps no index rows
            continue
        rows = extract(orjson.loads(bytes(content)))
        for table, cols, pick in _TABLES:
            for chunk in _chunks([(rid, *row) for row in pick(rows)]):
                values = ", ".join("(" + ", ".join(["?"] * len(chunk[0])) + ")" for _ in chunk)
                flat = [value for row in chunk for value in row]
                records.run(f"INSERT INTO {table} ({cols}) VALUES {values}", flat)
        count += 1
    return count


def _chunks(rows: list[tuple[Any, ...]]) -> Iterator[list[tuple[Any, ...]]]:
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        yield rows[start : start + _ROWS_PER_INSERT]
