"""What a pull reads from the store: the change feed in commit-safe order, and compartments.

Positions are ``(major, seq)`` (see :mod:`bedside.sync.pull_token`). The two backends differ
only in what ``major`` is and how the horizon is found:

* **PostgreSQL**: ``major`` is ``change_feed.txid``, the id of the transaction that wrote the
  row. The horizon is ``pg_snapshot_xmin(pg_current_snapshot())``, read first in the pull's
  transaction: every transaction with a smaller id has finished (committed or rolled back), so
  every row below the horizon is visible now and no row below it can appear later. Rows of
  transactions still running all lie at or above it and are left for a later pull.
* **SQLite**: one writer at a time, and ``seq`` is allocated under the write lock, so commit
  order is seq order: ``major`` is ``seq`` and the horizon is the highest committed seq + 1.

Window reads take positions in ``[lo, hi)`` of ``major`` after a position, ordered by
``(major, seq)``. Everything here is plain SQL on :class:`~bedside.store.base.Records`.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Final, TypeVar

from bedside.fhir.compartment import PATIENT_COMPARTMENT, indexed_params
from bedside.store.base import Records

__all__ = ["AccessChange", "Candidate", "FeedRow", "FeedSql"]

#: Change-feed operations that carry a resource version (others are access marks).
_WRITE_OPS: Final = ("create", "update", "delete")
_CHUNK: Final = 400
_T = TypeVar("_T")
#: A backfill page first reads windows of these many times ``limit`` resources in rid order
#: (see FeedSql.backfill): enough for a page when a tenth or more of the table is in the
#: patients' compartments; below that the compartments' index is the cheaper way.
_WINDOWS: Final = (2, 8)


@dataclass(frozen=True, slots=True)
class FeedRow:
    major: int
    seq: int
    rid: int
    type: str
    id: str
    version: int
    op: str


@dataclass(frozen=True, slots=True)
class Candidate:
    """A current resource in some patients' compartments (a backfill candidate)."""

    rid: int
    type: str
    id: str
    version: int


@dataclass(frozen=True, slots=True)
class AccessChange:
    seq: int
    kind: str
    patient: str
    actors: tuple[str, ...]
    types: tuple[str, ...]
    labels: tuple[str, ...]


@cache
def _compartment_keys() -> tuple[str, ...]:
    """Every index key that puts a resource in a Patient's compartment (all types)."""
    return tuple(sorted({k for t in PATIENT_COMPARTMENT for k in indexed_params(t)}))


def _marks(items: Collection[object]) -> str:
    return ", ".join("?" for _ in items)


class FeedSql:
    """The pull's queries for one dialect (``sqlite`` or ``postgresql``)."""

    def __init__(self, dialect: str) -> None:
        self.postgres = dialect == "postgresql"
        self.major = "f.txid" if self.postgres else "f.seq"
        self._arg = "CAST(? AS xid8)" if self.postgres else "?"

    def _m(self, value: int) -> object:
        """A ``major`` value as a query argument (xid8 travels as text)."""
        return str(value) if self.postgres else value

    def horizon(self, db: Records) -> int:
        """The current horizon. Call it first in the transaction (see the module docstring)."""
        if self.postgres:
            row = db.one("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
        else:
            row = db.one("SELECT COALESCE(MAX(seq), 0) + 1 FROM change_feed")
        assert row is not None
        return int(row[0])

    def _window(self, lo: int, hi: int, after: tuple[int, int] | None) -> tuple[str, list[object]]:
        m, a = self.major, self._arg
        text = f"{m} >= {a} AND {m} < {a}"
        args: list[object] = [self._m(lo), self._m(hi)]
        if after is not None:
            text += f" AND ({m} > {a} OR ({m} = {a} AND f.seq > ?))"
            args += [self._m(after[0]), self._m(after[0]), after[1]]
        return text, args

    def _in_compartments(self, patients: Collection[str]) -> tuple[str, list[object]]:
        """Feed rows whose resource is (now) in one of the patients' compartments, or rows of a
        resource now deleted: it has no index rows, and its tombstone is checked on the version
        before the page's first row for it (bedside.sync.pull), so those rows come too."""
        keys = _compartment_keys()
        who = sorted(patients)
        people = _marks(who)
        text = (
            "(f.op = 'delete' OR EXISTS (SELECT 1 FROM resources r WHERE r.rid = f.rid"
            f" AND r.deleted = ?) OR (f.type = 'Patient' AND f.id IN ({people})) OR EXISTS"
            f" (SELECT 1 FROM idx_reference x WHERE x.rid = f.rid AND x.param IN ({_marks(keys)})"
            f" AND x.target IN ({people}) AND x.target_type = 'Patient'))"
        )
        return text, [True, *who, *keys, *who]

    def delta(
        self,
        db: Records,
        lo: int,
        hi: int,
        after: tuple[int, int] | None,
        patients: Collection[str],
        limit: int,
    ) -> list[FeedRow]:
        """Up to ``limit`` write rows in the window after ``after`` for the patients."""
        if not patients:
            return []
        window, args = self._window(lo, hi, after)
        where, more = self._in_compartments(patients)
        major = f"{self.major}::text" if self.postgres else self.major
        rows = db.rows(
            f"SELECT {major}, f.seq, f.rid, f.type, f.id, f.version, f.op FROM change_feed f"
            f" WHERE {window} AND f.op IN ({_marks(_WRITE_OPS)}) AND {where}"
            f" ORDER BY {self.major}, f.seq LIMIT ?",
            [*args, *_WRITE_OPS, *more, limit],
        )
        return [
            FeedRow(int(mj), int(s), int(rid), str(t), str(i), int(v), str(op))
            for mj, s, rid, t, i, v, op in rows
        ]

    def writes_after(
        self, db: Records, hi: int, after: tuple[int, int], rtype: str, limit: int
    ) -> list[FeedRow]:
        """Up to ``limit`` write rows of ``rtype`` after position ``after`` and below the
        horizon ``hi``, in commit-safe order: what a Subscription's dispatcher reads next."""
        window, args = self._window(after[0], hi, after)
        major = f"{self.major}::text" if self.postgres else self.major
        rows = db.rows(
            f"SELECT {major}, f.seq, f.rid, f.type, f.id, f.version, f.op FROM change_feed f"
            f" WHERE {window} AND f.type = ? AND f.op IN ({_marks(_WRITE_OPS)})"
            f" ORDER BY {self.major}, f.seq LIMIT ?",
            [*args, rtype, *_WRITE_OPS, limit],
        )
        return [
            FeedRow(int(mj), int(s), int(rid), str(t), str(i), int(v), str(op))
            for mj, s, rid, t, i, v, op in rows
        ]

    def delta_count(self, db: Records, lo: int, hi: int, patients: Collection[str]) -> int:
        if not patients:
            return 0
        window, args = self._window(lo, hi, None)
        where, more = self._in_compartments(patients)
        row = db.one(
            f"SELECT COUNT(*) FROM change_feed f WHERE {window}"
            f" AND f.op IN ({_marks(_WRITE_OPS)}) AND {where}",
            [*args, *_WRITE_OPS, *more],
        )
        return int(row[0]) if row else 0

    def access_changes(self, db: Records, lo: int, hi: int) -> list[AccessChange]:
        """``access_changes`` rows whose change-feed position lies in the window."""
        window, args = self._window(lo, hi, None)
        rows = db.rows(
            "SELECT a.seq, a.kind, a.patient, a.actors, a.types, a.labels FROM access_changes a"
            f" JOIN change_feed f ON f.seq = a.seq WHERE {window} ORDER BY {self.major}, f.seq",
            args,
        )
        return [
            AccessChange(
                int(seq),
                str(kind),
                str(patient),
                tuple(json.loads(actors)),
                tuple(json.loads(types)),
                tuple(json.loads(labels)),
            )
            for seq, kind, patient, actors, types, labels in rows
        ]

    # --- backfill: the current state of some patients' compartments ---------------------------

    def _compartment_rids(self, patients: Collection[str]) -> tuple[str, list[object]]:
        keys = _compartment_keys()
        who = sorted(patients)
        text = (
            f"r.deleted = ? AND ((r.type = 'Patient' AND r.id IN ({_marks(who)})) OR r.rid IN"
            f" (SELECT x.rid FROM idx_reference x WHERE x.param IN ({_marks(keys)})"
            f" AND x.target IN ({_marks(who)}) AND x.target_type = 'Patient'))"
        )
        return text, [False, *who, *keys, *who]

    def backfill(
        self, db: Records, patients: Collection[str], after_rid: int | None, limit: int
    ) -> list[Candidate]:
        """Up to ``limit`` current resources of the patients' compartments, by rid.

        Two ways to the same answer. The compartments' index finds every resource of the
        patients and sorts them by rid: its cost grows with the compartments, and a first sync
        of a large working set pays it again for every page (quadratic in the working set).
        So the current resources right after ``after_rid`` are read first, a window at a time
        (``_WINDOWS``), with the compartment references in the window's rid range: when the
        patients' resources are dense in the table (a large working set), the windows hold the
        whole page, and the page costs the windows. Windows are contiguous in rid order from
        ``after_rid``, so the matches they hold are exactly the first ones of the answer; when
        they hold fewer than ``limit`` (sparse patients), the compartments' index gives the
        rest, after the last window.
        """
        if not patients:
            return []
        keys = _compartment_keys()
        who = sorted(patients)
        wanted = set(who)
        after = after_rid if after_rid is not None else -1
        found: list[Any] = []
        for size in _WINDOWS:
            window = db.rows(
                "SELECT r.rid, r.type, r.id, r.version FROM resources r"
                " WHERE r.rid > ? AND r.deleted = ? ORDER BY r.rid LIMIT ?",
                [after, False, size * limit],
            )
            if not window:
                return _candidates(found)  # nothing current after the position
            last = int(window[-1][0])
            linked = {
                int(r[0])
                for r in db.rows(
                    "SELECT DISTINCT x.rid FROM idx_reference x WHERE x.rid > ? AND x.rid <= ?"
                    f" AND x.param IN ({_marks(keys)}) AND x.target IN ({_marks(who)})"
                    " AND x.target_type = 'Patient'",
                    [after, last, *keys, *who],
                )
            }
            found += [
                row
                for row in window
                if int(row[0]) in linked or (row[1] == "Patient" and row[2] in wanted)
            ]
            if len(found) >= limit or len(window) < size * limit:
                return _candidates(found[:limit])
            after = last
        where, args = self._compartment_rids(patients)
        rows = db.rows(
            f"SELECT r.rid, r.type, r.id, r.version FROM resources r WHERE {where}"
            " AND r.rid > ? ORDER BY r.rid LIMIT ?",
            [*args, after, limit - len(found)],
        )
        return _candidates([*found, *rows])

    def backfill_count(self, db: Records, patients: Collection[str]) -> int:
        if not patients:
            return 0
        where, args = self._compartment_rids(patients)
        row = db.one(f"SELECT COUNT(*) FROM resources r WHERE {where}", args)
        return int(row[0]) if row else 0

    def owners(
        self, db: Records, rids: Sequence[int], patients: Collection[str]
    ) -> dict[int, set[str]]:
        """Which of ``patients`` hold each of ``rids`` in their compartment."""
        keys = _compartment_keys()
        wanted = set(patients)
        out: dict[int, set[str]] = {}
        for chunk in _chunks(sorted(set(rids)), _CHUNK):
            for rid, target in db.rows(
                f"SELECT x.rid, x.target FROM idx_reference x WHERE x.rid IN ({_marks(chunk)})"
                f" AND x.param IN ({_marks(keys)}) AND x.target_type = 'Patient'",
                [*chunk, *keys],
            ):
                if str(target) in wanted:
                    out.setdefault(int(rid), set()).add(str(target))
        return out

    # --- content -----------------------------------------------------------------------------

    def contents(
        self, db: Records, wanted: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], Any]:
        """The stored content (bytes, None for a delete) of each ``(rid, version)``."""
        out: dict[tuple[int, int], Any] = {}
        for chunk in _chunks(sorted(set(wanted)), _CHUNK):
            # each backend's fastest form (a page of 1,000: PostgreSQL 118 ms with the OR list,
            # 22 ms with VALUES; SQLite 3.5 ms with the OR list, 148 ms with VALUES)
            if self.postgres:
                pairs = ", ".join("(?, ?)" for _ in chunk)
                where = f"(rid, version) IN (VALUES {pairs})"
            else:
                where = " OR ".join("(rid = ? AND version = ?)" for _ in chunk)
            args = [x for pair in chunk for x in pair]
            for rid, version, content in db.rows(
                f"SELECT rid, version, content FROM resource_versions WHERE {where}", args
            ):
                out[(int(rid), int(version))] = None if content is None else bytes(content)
        return out


def _candidates(rows: Sequence[Any]) -> list[Candidate]:
    return [Candidate(int(rid), str(t), str(i), int(v)) for rid, t, i, v in rows]


def _chunks(items: Sequence[_T], size: int) -> Iterator[Sequence[_T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
