"""The device's local repository: every statement on its ``resources`` and ``search`` tables.

``resources`` holds one row per record on the device (the server's synced version or the
device's own saved one, with its patient, ``server_version``, ``local_state`` and body);
``search`` holds the rows :mod:`bedside.device.index` derives from it, which the chart's
searches and the ward board read. Other device modules ask :class:`LocalRecords`, bound to the
connection (or transaction) they hold, by name; none of them writes either table's SQL.

A full row is ``ROW``'s columns in order: ``(type, id, patient, server_version, local_state,
body, updated, provenance)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

__all__ = ["ROW", "LocalRecords", "Match"]

ROW: Final = "type, id, patient, server_version, local_state, body, updated, provenance"

_SYNCED_UPSERT: Final = (
    "INSERT INTO resources (type, id, patient, server_version, local_state, body, "
    "updated, provenance) VALUES (?, ?, ?, ?, 'synced', ?, ?, NULL) "
    "ON CONFLICT (type, id) DO UPDATE SET patient = excluded.patient, "
    "server_version = excluded.server_version, local_state = 'synced', "
    "body = excluded.body, updated = excluded.updated, provenance = NULL"
)
_LOCAL_UPSERT: Final = (
    "INSERT INTO resources (type, id, patient, server_version, local_state, body, updated, "
    "provenance) VALUES (?, ?, ?, NULL, ?, ?, ?, ?) ON CONFLICT (type, id) DO UPDATE SET "
    "patient = excluded.patient, local_state = excluded.local_state, body = excluded.body, "
    "updated = excluded.updated, provenance = excluded.provenance"
)


def _marks(items: Sequence[object]) -> str:
    return ",".join("?" * len(items))


@dataclass(frozen=True, slots=True)
class Match:
    """One search criterion on ``param``: the value equals ``low`` (``high`` None), or lies in
    ``[low, high)``, or in ``[low, high]`` when ``inclusive``."""

    param: str
    low: str
    high: str | None = None
    inclusive: bool = False


class LocalRecords:
    """Named statements on ``resources`` and ``search``, on one connection."""

    def __init__(self, conn: Any) -> None:
        self._c = conn

    # --- reads -----------------------------------------------------------------------------

    def row(self, rtype: str, rid: str) -> tuple[Any, ...] | None:
        """The full row (``ROW``) of ``rtype/rid``, or None."""
        found = self._c.execute(
            f"SELECT {ROW} FROM resources WHERE type = ? AND id = ?", (rtype, rid)
        ).fetchone()
        return tuple(found) if found is not None else None

    def of_patient(self, patient: str, rtype: str | None = None) -> list[Any]:
        """The patient's full rows (of ``rtype``), by type, newest first, then id."""
        sql = f"SELECT {ROW} FROM resources WHERE patient = ?"
        args: list[Any] = [patient]
        if rtype is not None:
            sql += " AND type = ?"
            args.append(rtype)
        return list(self._c.execute(sql + " ORDER BY type, updated DESC, id", args).fetchall())

    def search(self, patient: str, rtype: str, matches: Sequence[Match]) -> list[Any]:
        """The patient's full ``rtype`` rows matching every criterion, newest first."""
        base = "SELECT id FROM search WHERE patient = ? AND type = ? AND param = ? AND "
        parts: list[str] = []
        args: list[Any] = []
        for m in matches:
            if m.high is None:
                parts.append(base + "value = ?")
                args += [patient, rtype, m.param, m.low]
            else:
                parts.append(
                    base
                    + ("value >= ? AND value <= ?" if m.inclusive else "value >= ? AND value < ?")
                )
                args += [patient, rtype, m.param, m.low, m.high]
        sql = f"SELECT {ROW} FROM resources WHERE patient = ? AND type = ?"
        params: list[Any] = [patient, rtype]
        if parts:
            sql += " AND id IN (" + " INTERSECT ".join(parts) + ")"
            params += args
        return list(self._c.execute(sql + " ORDER BY updated DESC, id", params).fetchall())

    def owner(self, rtype: str, rid: str) -> tuple[str | None, str | None] | None:
        """``(patient, server_version)`` of ``rtype/rid``, or None when it is not here."""
        found = self._c.execute(
            "SELECT patient, server_version FROM resources WHERE type = ? AND id = ?",
            (rtype, rid),
        ).fetchone()
        return (found[0], found[1]) if found is not None else None

    def bodies_of(self, patient: str) -> list[tuple[str, str, Any]]:
        """``(type, id, body)`` of each of the patient's records."""
        rows = self._c.execute("SELECT type, id, body FROM resources WHERE patient = ?", (patient,))
        return [(str(t), str(i), b) for t, i, b in rows.fetchall()]

    def bodies(self, rtype: str, ids: Sequence[str]) -> list[tuple[str, Any, Any]]:
        """``(id, patient, body)`` of the ``rtype`` records among ``ids``."""
        return [
            (str(i), p, b)
            for i, p, b in self._c.execute(
                f"SELECT id, patient, body FROM resources WHERE type = ? AND id IN ({_marks(ids)})",
                (rtype, *ids),
            )
        ]

    def count_of(self, patient: str) -> int:
        """How many records the device holds for ``patient``."""
        found = self._c.execute(
            "SELECT COUNT(*) FROM resources WHERE patient = ?", (patient,)
        ).fetchone()
        return int(found[0]) if found else 0

    def server_versions(self, rtype: str, ids: Sequence[str]) -> list[tuple[str, str]]:
        """``(id, server_version)`` of the ``rtype`` records among ``ids`` that have one."""
        return [
            (str(i), str(v))
            for i, v in self._c.execute(
                f"SELECT id, server_version FROM resources WHERE type = ? AND id IN "
                f"({_marks(ids)}) AND server_version IS NOT NULL",
                (rtype, *ids),
            )
        ]

    def saved_with_events(self, states: Sequence[str]) -> set[tuple[str, str]]:
        """(type, id) of records saved on this device with an outbox event in ``states``."""
        return {
            (str(r[0]), str(r[1]))
            for r in self._c.execute(
                "SELECT r.type, r.id FROM outbox o JOIN resources r "
                "ON r.type = o.type AND r.id = o.resource_id "
                f"WHERE o.state IN ({_marks(states)}) AND r.local_state = 'saved-on-device'",
                tuple(states),
            )
        }

    def synced_document(self, patient: str, containing: str) -> str | None:
        """The id of a synced DocumentReference of the patient whose body contains the text."""
        found = self._c.execute(
            "SELECT id FROM resources WHERE type = 'DocumentReference' AND patient = ?"
            " AND local_state = 'synced' AND body LIKE ? LIMIT 1",
            (patient, f"%{containing}%"),
        ).fetchone()
        return str(found[0]) if found is not None else None

    def documents(self, patient: str, containing: str) -> list[Any]:
        """``(id, body, local_state, trouble)`` of the patient's DocumentReferences whose body
        contains the text, newest first; ``trouble`` is the state of an event of it that was
        rejected or waits in review (None: none)."""
        return list(
            self._c.execute(
                "SELECT r.id, r.body, r.local_state, "
                "(SELECT min(o.state) FROM outbox o WHERE o.type = r.type AND o.resource_id = r.id "
                " AND o.state IN ('rejected', 'needs-review')) "
                "FROM resources r WHERE r.type = 'DocumentReference' AND r.patient = ? "
                "AND r.body LIKE ? ORDER BY r.updated DESC",
                (patient, f"%{containing}%"),
            ).fetchall()
        )

    def held_patients(self, *, drafts: bool = False) -> set[str]:
        """Patients with a row or clinical data on the device; with ``drafts``, also those
        with only drafts left."""
        sql = (
            "SELECT id FROM patients"
            " UNION SELECT patient FROM resources WHERE patient IS NOT NULL"
            " UNION SELECT patient FROM conflicts WHERE patient IS NOT NULL"
            " UNION SELECT patient FROM attachments WHERE patient IS NOT NULL"
            " AND synced_at IS NOT NULL"
        )
        if drafts:
            sql += " UNION SELECT patient FROM drafts WHERE patient IS NOT NULL"
        return {str(r[0]) for r in self._c.execute(sql)}

    def latest_with_code(
        self, patients: Sequence[str], rtype: str, code: str, void: Sequence[str]
    ) -> list[str]:
        """Per patient, the id of the newest (by ``date``) ``rtype`` with ``code`` whose status
        is none of ``void``."""
        return [
            str(r[0])
            for r in self._c.execute(
                "SELECT c.id, max(d.value) FROM search c JOIN search d ON d.type = c.type "
                "AND d.id = c.id AND d.param = 'date' "
                f"WHERE c.patient IN ({_marks(patients)}) AND c.type = ? AND c.param = 'code' "
                "AND c.value = ? AND NOT EXISTS (SELECT 1 FROM search v WHERE v.type = c.type "
                f"AND v.id = c.id AND v.param = 'status' AND v.value IN ({_marks(void)})) "
                "GROUP BY c.patient",
                (*patients, rtype, code, *void),
            ).fetchall()
        ]

    def with_status(self, patients: Sequence[str], rtype: str, status: str) -> list[Any]:
        """``(patient, body)`` of the patients' ``rtype`` records whose status is ``status``."""
        return list(
            self._c.execute(
                "SELECT r.patient, r.body FROM search s JOIN resources r ON r.type = s.type "
                f"AND r.id = s.id WHERE s.patient IN ({_marks(patients)}) AND s.type = ? "
                "AND s.param = 'status' AND s.value = ?",
                (*patients, rtype, status),
            )
        )

    # --- writes ----------------------------------------------------------------------------

    def store_synced(
        self,
        keys: Sequence[tuple[str, str]],
        rows: Iterable[Sequence[Any]],
        search: Iterable[Sequence[Any]],
    ) -> None:
        """Replace ``keys``' rows with the server's versions: ``rows`` are ``(type, id,
        patient, server_version, body, updated)``, ``search`` ``(type, id, param, value,
        patient)``."""
        self._c.executemany("DELETE FROM search WHERE type = ? AND id = ?", keys)
        self._c.executemany(_SYNCED_UPSERT, rows)
        self._c.executemany(
            "INSERT INTO search (type, id, param, value, patient) VALUES (?, ?, ?, ?, ?)", search
        )

    def save_local(self, row: Sequence[Any]) -> None:
        """Store the device's own version: ``(type, id, patient, local_state, body, updated,
        provenance)`` (no server version until the server confirms it)."""
        self._c.execute(_LOCAL_UPSERT, tuple(row))

    def reindex(
        self, rtype: str, rid: str, patient: str | None, rows: Iterable[tuple[str, str]]
    ) -> None:
        """Replace a record's search rows with ``(param, value)`` rows."""
        self._c.execute("DELETE FROM search WHERE type = ? AND id = ?", (rtype, rid))
        self._c.executemany(
            "INSERT INTO search (patient, type, param, value, id) VALUES (?, ?, ?, ?, ?)",
            [(patient, rtype, param, value, rid) for param, value in rows],
        )

    def confirm(self, rtype: str, rid: str, version: str, *, still_local: bool) -> None:
        """The server accepted the record at ``version``; it is ``synced`` unless another
        local change of it is still unconfirmed (``still_local``)."""
        self._c.execute(
            "UPDATE resources SET server_version = ?, "
            "local_state = CASE WHEN ? THEN local_state ELSE 'synced' END "
            "WHERE type = ? AND id = ?",
            (version, still_local, rtype, rid),
        )

    def drop(self, rtype: str, rid: str) -> int:
        """Delete one record and its search rows; how many records went (0 or 1)."""
        self._c.execute("DELETE FROM search WHERE type = ? AND id = ?", (rtype, rid))
        return int(
            self._c.execute(
                "DELETE FROM resources WHERE type = ? AND id = ?", (rtype, rid)
            ).rowcount
        )

    def drop_patient(self, patient: str) -> tuple[int, int]:
        """Delete the patient's records, then their search rows: ``(records, search rows)``."""
        records = int(
            self._c.execute("DELETE FROM resources WHERE patient = ?", (patient,)).rowcount
        )
        search = int(self._c.execute("DELETE FROM search WHERE patient = ?", (patient,)).rowcount)
        return records, search

    def watch(self, table: str, types: Sequence[str]) -> None:
        """Temporary triggers on this connection: the patient of every row of ``types``
        inserted, changed or deleted (by any writer) goes into the temporary ``table`` (``*``
        for a row of no patient). (No ``OR IGNORE`` in the body: an outer upsert's conflict
        handling would override it.)"""
        kinds = ", ".join(f"'{t}'" for t in types)
        self._c.execute(f"CREATE TEMP TABLE IF NOT EXISTS {table} (patient TEXT PRIMARY KEY)")
        for event, row in (
            ("INSERT", "NEW"),
            ("UPDATE", "NEW"),
            ("UPDATE", "OLD"),
            ("DELETE", "OLD"),
        ):
            self._c.execute(
                f"CREATE TEMP TRIGGER IF NOT EXISTS {table}_{event.lower()}_{row.lower()} "
                f"AFTER {event} ON main.resources WHEN {row}.type IN ({kinds}) "
                f"BEGIN INSERT INTO {table} (patient) SELECT COALESCE({row}.patient, '*') "
                f"WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE patient = "
                f"COALESCE({row}.patient, '*')); END"
            )
