"""How a version is written: its ``resources`` and ``resource_versions`` rows, its search index
rows and its change-feed position, all in the session's transaction (see
:meth:`bedside.store.base.Session.apply`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from bedside.store.base import Write

if TYPE_CHECKING:
    from bedside.store.session import Cursor, Dialect

__all__ = ["apply", "mark"]

#: The search index tables, each with its columns after ``rid``.
_INDEX = (
    ("idx_token", "rid, param, system, code"),
    ("idx_string", "rid, param, norm, exact"),
    ("idx_date", "rid, param, low, high"),
    ("idx_reference", "rid, param, target_type, target"),
    ("idx_quantity", "rid, param, value, system, code"),
)


def apply(cur: Cursor, d: Dialect, writes: Sequence[Write]) -> list[int]:
    """Store new versions with their index rows; return their change-feed positions."""
    if not writes:
        return []
    seqs = d.allocate(cur, "seq", len(writes))
    new = [w for w in writes if w.rid is None]
    new_rids = iter(d.allocate(cur, "rid", len(new))) if new else iter(())
    rids: list[int] = []
    for w in writes:
        rids.append(w.rid if w.rid is not None else next(new_rids))
    inserts, updates, reindex = [], [], []
    for w, rid, seq in zip(writes, rids, seqs, strict=True):
        if w.rid is None:
            inserts.append((rid, w.type, w.id, w.version, w.deleted, w.last_updated, seq, seq))
        else:
            updates.append((w.version, w.deleted, w.last_updated, seq, seq, rid))
            reindex.append((rid,))
    if inserts:
        d.insert(
            cur,
            "resources",
            "rid, type, id, version, deleted, last_updated, seq, created_seq",
            inserts,
        )
    if updates:
        cur.executemany(
            d.sql(
                "UPDATE resources SET version = ?, deleted = ?, last_updated = ?, seq = ?,"
                # re-creating a deleted resource makes it new to paging snapshots
                " created_seq = CASE WHEN deleted THEN ? ELSE created_seq END"
                " WHERE rid = ?"
            ),
            updates,
        )
        for table, _ in _INDEX:
            cur.executemany(d.sql(f"DELETE FROM {table} WHERE rid = ?"), reindex)
    d.insert(
        cur,
        "resource_versions",
        "rid, version, deleted, last_updated, seq, method, content",
        [
            (rid, w.version, w.deleted, w.last_updated, seq, w.method, w.content)
            for w, rid, seq in zip(writes, rids, seqs, strict=True)
        ],
    )
    d.insert(
        cur,
        "change_feed",
        "seq, rid, type, id, version, op, recorded_at",
        [
            (seq, rid, w.type, w.id, w.version, _op(w), w.last_updated)
            for w, rid, seq in zip(writes, rids, seqs, strict=True)
        ],
    )
    _write_index(cur, d, writes, rids)
    return seqs


def mark(cur: Cursor, d: Dialect, op: str, about: tuple[str, str, int], recorded_at: str) -> int:
    """Put a non-write event (e.g. ``access-revoked``) about ``(type, id, version)`` in the
    change feed; return its seq. The event names the resource's ``rid`` (0 when that is not
    stored)."""
    rtype, rid, version = about
    seq = d.allocate(cur, "seq", 1)[0]
    cur.execute(d.sql("SELECT rid FROM resources WHERE type = ? AND id = ?"), (rtype, rid))
    found = cur.fetchone()
    cur.execute(
        d.sql(
            "INSERT INTO change_feed (seq, rid, type, id, version, op, recorded_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
        ),
        (seq, int(found[0]) if found else 0, rtype, rid, version, op, recorded_at),
    )
    return seq


def _write_index(cur: Cursor, d: Dialect, writes: Sequence[Write], rids: Sequence[int]) -> None:
    token: list[tuple[object, ...]] = []
    string: list[tuple[object, ...]] = []
    date: list[tuple[object, ...]] = []
    ref: list[tuple[object, ...]] = []
    qty: list[tuple[object, ...]] = []
    for w, rid in zip(writes, rids, strict=True):
        ix = w.index
        if ix is None:
            continue
        token.extend((rid, *t) for t in ix.token)
        string.extend((rid, *t) for t in ix.string)
        date.extend((rid, *t) for t in ix.date)
        ref.extend((rid, *t) for t in ix.reference)
        qty.extend((rid, *t) for t in ix.quantity)
    for (table, cols), rows in zip(_INDEX, (token, string, date, ref, qty), strict=True):
        if rows:
            d.insert(cur, table, cols, rows)


def _op(w: Write) -> str:
    if w.deleted:
        return "delete"
    return "create" if w.version == 1 else "update"
