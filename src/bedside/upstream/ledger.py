"""The upstream module's own tables (schema 0010): what each source delivered, where each
FHIR pull stopped, source ids already matched, dead letters and held variants.

Only this module runs SQL on them; every function takes an open :class:`Records` so callers
choose the transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from bedside.store.base import Records

__all__ = [
    "DeadLetter",
    "SourceHealth",
    "add_dead_letter",
    "counts",
    "dead_letter",
    "dead_letters",
    "health",
    "hold_variant",
    "local_refs",
    "mark",
    "marks",
    "note_ref",
    "note_seen",
    "resolve_dead_letter",
    "retried",
    "seen",
    "variants",
]


def seen(db: Records, source: str, entity: str) -> str | None:
    """The digest of ``entity`` as it was last written from ``source``, or None."""
    row = db.one(
        "SELECT digest FROM upstream_seen WHERE source = ? AND entity = ?", [source, entity]
    )
    return str(row[0]) if row else None


def note_seen(db: Records, source: str, entity: str, digest: str, written: int, now: int) -> None:
    db.run(
        "INSERT INTO upstream_seen (source, entity, digest, written, seen_at)"
        " VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (source, entity) DO UPDATE SET digest = excluded.digest,"
        " written = excluded.written, seen_at = excluded.seen_at",
        [source, entity, digest, written, now],
    )


def marks(db: Records, source: str) -> dict[str, str]:
    rows = db.rows("SELECT resource_type, mark FROM upstream_marks WHERE source = ?", [source])
    return {str(t): str(m) for t, m in rows}


def mark(db: Records, source: str, rtype: str, value: str, now: int) -> None:
    db.run(
        "INSERT INTO upstream_marks (source, resource_type, mark, pulled_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (source, resource_type) DO UPDATE SET mark = excluded.mark,"
        " pulled_at = excluded.pulled_at",
        [source, rtype, value, now],
    )


def local_refs(db: Records, source: str) -> dict[str, str]:
    rows = db.rows("SELECT source_ref, local_ref FROM upstream_refs WHERE source = ?", [source])
    return {str(s): str(loc) for s, loc in rows}


def note_ref(db: Records, source: str, source_ref: str, local_ref: str) -> None:
    db.run(
        "INSERT INTO upstream_refs (source, source_ref, local_ref) VALUES (?, ?, ?)"
        " ON CONFLICT (source, source_ref) DO UPDATE SET local_ref = excluded.local_ref",
        [source, source_ref, local_ref],
    )


@dataclass(frozen=True, slots=True)
class DeadLetter:
    id: str
    source: str
    entity: str
    message: bytes
    reason: str
    attempts: int
    state: str
    received_at: int

    def summary(self) -> dict[str, Any]:
        """What `upstream status` lists: never the message itself (it holds PHI)."""
        return {
            "id": self.id,
            "entity": self.entity,
            "reason": self.reason,
            "attempts": self.attempts,
            "state": self.state,
            "received_at": self.received_at,
        }


_DL = "id, source, entity, message, reason, attempts, state, received_at"


def _letter(row: tuple[Any, ...]) -> DeadLetter:
    return DeadLetter(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        bytes(row[3]),
        str(row[4]),
        int(row[5]),
        str(row[6]),
        int(row[7]),
    )


def add_dead_letter(
    db: Records, source: str, entity: str, message: bytes, reason: str, now: int
) -> str:
    """Keep a message that failed mapping; one open letter per message id and source."""
    row = db.one(
        "SELECT id FROM upstream_dead_letters WHERE source = ? AND entity = ? AND state = 'open'"
        " AND message = ?",
        [source, entity, message],
    )
    if row:
        db.run(
            "UPDATE upstream_dead_letters SET attempts = attempts + 1, reason = ? WHERE id = ?",
            [reason, row[0]],
        )
        return str(row[0])
    letter_id = "d-" + secrets.token_hex(8)
    db.run(
        f"INSERT INTO upstream_dead_letters ({_DL}) VALUES (?, ?, ?, ?, ?, 1, 'open', ?)",
        [letter_id, source, entity, message, reason, now],
    )
    return letter_id


def dead_letters(db: Records, source: str, *, state: str | None = "open") -> list[DeadLetter]:
    sql = f"SELECT {_DL} FROM upstream_dead_letters WHERE source = ?"
    args: list[object] = [source]
    if state is not None:
        sql += " AND state = ?"
        args.append(state)
    return [_letter(r) for r in db.rows(sql + " ORDER BY received_at, id", args)]


def dead_letter(db: Records, letter_id: str) -> DeadLetter | None:
    row = db.one(f"SELECT {_DL} FROM upstream_dead_letters WHERE id = ?", [letter_id])
    return _letter(row) if row else None


def retried(db: Records, letter_id: str, reason: str, now: int) -> None:
    db.run(
        "UPDATE upstream_dead_letters SET attempts = attempts + 1, reason = ?, retried_at = ?"
        " WHERE id = ?",
        [reason, now, letter_id],
    )


def resolve_dead_letter(db: Records, letter_id: str, now: int) -> None:
    """A retry went through: the letter stays, marked resolved (never deleted)."""
    db.run(
        "UPDATE upstream_dead_letters SET state = 'resolved', attempts = attempts + 1,"
        " retried_at = ? WHERE id = ?",
        [now, letter_id],
    )


def hold_variant(
    db: Records, source: str, rtype: str, rid: str, entity: str, content: bytes, now: int
) -> None:
    db.run(
        "INSERT INTO upstream_variants (source, resource_type, resource_id, entity, content,"
        " received_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (source, resource_type, resource_id)"
        " DO UPDATE SET entity = excluded.entity, content = excluded.content,"
        " received_at = excluded.received_at",
        [source, rtype, rid, entity, content, now],
    )


def variants(db: Records, rtype: str, rid: str) -> list[tuple[str, str, bytes]]:
    """(source, entity, content) of every held value of one record."""
    rows = db.rows(
        "SELECT source, entity, content FROM upstream_variants"
        " WHERE resource_type = ? AND resource_id = ? ORDER BY source",
        [rtype, rid],
    )
    return [(str(s), str(e), bytes(c)) for s, e, c in rows]


def counts(db: Records, source: str) -> dict[str, int]:
    """Plain numbers for `upstream status` and, later, the metrics endpoint."""
    seen_row = db.one(
        "SELECT COUNT(*), COALESCE(SUM(written), 0) FROM upstream_seen WHERE source = ?", [source]
    )
    open_row = db.one(
        "SELECT COUNT(*) FROM upstream_dead_letters WHERE source = ? AND state = 'open'", [source]
    )
    held = db.one("SELECT COUNT(*) FROM upstream_variants WHERE source = ?", [source])
    return {
        "delivered": int(seen_row[0]) if seen_row else 0,
        "resources_written": int(seen_row[1]) if seen_row else 0,
        "dead_letters_open": int(open_row[0]) if open_row else 0,
        "variants_held": int(held[0]) if held else 0,
    }


@dataclass(frozen=True, slots=True)
class SourceHealth:
    """Counts and times of one source, for ``/metrics`` and the console: never an id of a
    message or anything from one."""

    delivered: int = 0
    resources_written: int = 0
    last_delivered_at: int | None = None
    dead_letters_open: int = 0
    oldest_open_at: int | None = None
    last_pull_at: int | None = None
    variants_held: int = 0


def health(db: Records) -> dict[str, SourceHealth]:
    """Every source with anything in the tables, in four grouped reads."""
    found: dict[str, dict[str, Any]] = {}
    for src, n, written, last in db.rows(
        "SELECT source, COUNT(*), COALESCE(SUM(written), 0), MAX(seen_at) FROM upstream_seen"
        " GROUP BY source"
    ):
        found.setdefault(str(src), {}).update(
            delivered=int(n), resources_written=int(written), last_delivered_at=int(last)
        )
    for src, n, oldest in db.rows(
        "SELECT source, COUNT(*), MIN(received_at) FROM upstream_dead_letters"
        " WHERE state = 'open' GROUP BY source"
    ):
        found.setdefault(str(src), {}).update(dead_letters_open=int(n), oldest_open_at=int(oldest))
    for src, last in db.rows("SELECT source, MAX(pulled_at) FROM upstream_marks GROUP BY source"):
        found.setdefault(str(src), {}).update(last_pull_at=int(last))
    for src, n in db.rows("SELECT source, COUNT(*) FROM upstream_variants GROUP BY source"):
        found.setdefault(str(src), {}).update(variants_held=int(n))
    return {name: SourceHealth(**values) for name, values in sorted(found.items())}
