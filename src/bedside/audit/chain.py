"""The hash-chained audit log: :class:`AuditLog`, Bedside's :class:`~bedside.audit.entry.Auditor`.

Every AuditEvent gets the next position ``n`` and
``hash = SHA-256(prev_hash as 64 hex ASCII bytes || content)``, where ``content`` is the
canonical JSON of the event (``event.canonical``) and ``prev_hash`` the hash of record ``n - 1``
(64 zeros for record 1). ``audit_head`` holds the last position and hash; appenders lock it, so
positions are contiguous and the chain is linear even with several server processes on one
PostgreSQL database. ``verify.py`` walks the chain back.

Two ways in:

* :meth:`AuditLog.append` inside the caller's write transaction: a FHIR write and its audit
  record commit together or not at all. The head lock is then held until that transaction ends.
* :meth:`AuditLog.submit` for reads: group commit. One writer thread per AuditLog takes every
  entry queued while the previous batch was committing and appends them all in one transaction,
  so under load many requests share one commit (one fsync), and when idle a request pays one.
  ``submit`` returns only after its entries are committed, and raises if they were not: a
  response is never sent for an access that was not recorded.
"""

from __future__ import annotations

import hashlib
import logging
import os
import queue
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from bedside.audit.entry import AuditEntry, Auditor, NullAuditor
from bedside.audit.event import canonical, indexed, to_audit_event
from bedside.errors import StoreError
from bedside.store.base import Records, Store

log = logging.getLogger("bedside.audit")

GENESIS: Final = "0" * 64  # prev_hash of record 1
MAX_BATCH: Final = 2000  # entries per group commit; more wait for the next one
_ROWS_PER_INSERT: Final = 100  # multi-row INSERTs: 14 columns x 100 stays under SQLite's limit
_MAX_PARAMS: Final = 30_000  # PostgreSQL allows 65,535 parameters in one statement
_LOG_COLUMNS: Final = (
    "n, recorded, recorded_ms, action, subtype, outcome, user_ref, subject, client_id, device,"
    " purpose, content, prev_hash, hash"
)


def link_hash(prev_hash: str, content: bytes) -> str:
    """The chain formula: SHA-256 over the previous hash (hex, ASCII) then the content."""
    return hashlib.sha256(prev_hash.encode("ascii") + content).hexdigest()


def _insert(records: Records, table: str, cols: str, rows: list[tuple[object, ...]]) -> None:
    """Multi-row INSERT: one round trip per hundred rows on PostgreSQL, not one per row."""
    width = len(cols.split(","))
    one = "(" + ", ".join("?" for _ in range(width)) + ")"
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        args = [value for row in chunk for value in row]
        records.run(f"INSERT INTO {table} ({cols}) VALUES {', '.join([one] * len(chunk))}", args)


def _write_at_once(
    records: Records,
    log_rows: list[tuple[object, ...]],
    patient_rows: list[tuple[object, ...]],
    n: int,
    head_hash: str,
) -> None:
    """PostgreSQL: the rows and the new head in one statement (data-modifying CTEs)."""
    marks = "(" + ", ".join("?" for _ in range(14)) + ")"
    parts = [f"l AS (INSERT INTO audit_log ({_LOG_COLUMNS}) VALUES "]
    parts.append(", ".join([marks] * len(log_rows)) + ")")
    if patient_rows:
        parts.append(", p AS (INSERT INTO audit_patients (patient, n) VALUES ")
        parts.append(", ".join(["(?, ?)"] * len(patient_rows)) + ")")
    sql = "WITH " + "".join(parts) + " UPDATE audit_head SET n = ?, hash = ? WHERE id = 1"
    args = [v for row in log_rows for v in row] + [v for row in patient_rows for v in row]
    records.run(sql, [*args, n, head_hash])


@dataclass
class _Pending:
    """Entries one ``submit`` call waits on."""

    entries: Sequence[AuditEntry]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


_STOP: Final = object()


class AuditLog:
    """The audit trail in the ``audit_log`` / ``audit_patients`` / ``audit_head`` tables.

    ``server`` is the FHIR base URL, recorded in every event as the observer's site. Build one
    per process (the writer thread starts on the first ``submit``, so a log built before a fork
    is still usable in the child) and :meth:`close` it before closing the store.
    """

    enabled = True

    def __init__(self, store: Store, *, server: str) -> None:
        self.store = store
        self.server = server
        self._for_update = " FOR UPDATE" if store.dialect == "postgresql" else ""
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Pending | object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._closed = False

    # --- in the caller's transaction --------------------------------------------------------

    def append(self, records: Records, entries: Sequence[AuditEntry]) -> None:
        """Chain ``entries`` in the caller's open write transaction.

        The head row is locked first (PostgreSQL ``FOR UPDATE``; a SQLite write transaction is
        already exclusive), so concurrent appenders in any process take turns and each sees the
        head the previous one committed.
        """
        if not entries:
            return
        head = records.one(f"SELECT n, hash FROM audit_head WHERE id = 1{self._for_update}")
        if head is None:
            raise StoreError("the audit chain head is missing; the schema is not migrated")
        n, prev = int(head[0]), str(head[1])
        log_rows: list[tuple[object, ...]] = []
        patient_rows: list[tuple[object, ...]] = []
        for entry in entries:
            n += 1
            event = to_audit_event(entry, n, server=self.server)
            content = canonical(event)
            digest = link_hash(prev, content)
            fields = indexed(event)
            log_rows.append((n, *fields.columns(), content, prev, digest))
            patient_rows.extend((pid, n) for pid in dict.fromkeys(fields.patients))
            prev = digest
        if self._one_statement(log_rows, patient_rows):
            _write_at_once(records, log_rows, patient_rows, n, prev)
            return
        _insert(records, "audit_log", _LOG_COLUMNS, log_rows)
        if patient_rows:
            _insert(records, "audit_patients", "patient, n", patient_rows)
        records.run("UPDATE audit_head SET n = ?, hash = ? WHERE id = 1", (n, prev))

    def _one_statement(
        self, log_rows: list[tuple[object, ...]], patient_rows: list[tuple[object, ...]]
    ) -> bool:
        """On PostgreSQL a batch of ordinary size is written in one statement: the head stays
        locked for fewer round trips, which is what other processes appending wait on."""
        params = 14 * len(log_rows) + 2 * len(patient_rows)
        return bool(self._for_update) and params <= _MAX_PARAMS

    # --- group commit -------------------------------------------------------------------------

    def submit(self, entries: Sequence[AuditEntry]) -> None:
        """Append ``entries`` in the next group commit; return once it has committed.

        Raises :class:`StoreError` when the batch could not be committed (the caller must then
        not serve the request) or when the log is closed.
        """
        if not entries:
            return
        pending = _Pending(entries)
        self._enqueue(pending)
        pending.done.wait()
        if pending.error is not None:
            raise StoreError("the audit record could not be written") from pending.error

    def _enqueue(self, pending: _Pending) -> None:
        # Under the lock, so nothing can be queued behind close()'s stop marker.
        with self._lock:
            if self._closed:
                raise StoreError("the audit log is closed")
            if self._pid != os.getpid():  # forked: the parent's thread does not exist here
                self._pid = os.getpid()
                self._queue = queue.SimpleQueue()
                self._thread = None
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue,), name="bedside-audit", daemon=True
                )
                self._thread.start()
            self._queue.put(pending)

    def _run(self, q: queue.SimpleQueue[_Pending | object]) -> None:
        """The writer: block for one item, take whatever else is queued, commit it all."""
        stopping = False
        while not stopping:
            batch: list[_Pending] = []
            size = 0
            item = q.get()
            while True:
                if item is _STOP:
                    stopping = True
                elif isinstance(item, _Pending):
                    batch.append(item)
                    size += len(item.entries)
                if size >= MAX_BATCH:
                    break
                try:
                    item = q.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._commit(batch)

    def _commit(self, batch: list[_Pending]) -> None:
        try:
            self._write([e for p in batch for e in p.entries])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:
                # One request's entries must not sink the others': retry each on its own.
                log.warning(
                    "audit group commit failed; retrying one by one",
                    extra={"error_type": type(exc).__name__},
                )
                for p in batch:
                    try:
                        self._write(p.entries)
                    except Exception as one:
                        p.error = one
        except BaseException as exc:  # the thread is dying: nobody may wait forever
            for p in batch:
                p.error = exc
            raise
        finally:
            for p in batch:
                p.done.set()

    def _write(self, entries: Sequence[AuditEntry]) -> None:
        with self.store.records(write=True) as records:
            self.append(records, entries)

    def close(self) -> None:
        """Commit what is queued, then stop the writer thread. Later submits raise."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread if self._pid == os.getpid() else None
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None:
            thread.join()


def auditor_from_env(store: Store, server: str) -> Auditor:
    """The server's auditor: an :class:`AuditLog`, or with ``BEDSIDE_AUDIT=off`` none at all.

    Turning audit off exists only so ``bench/audit.py`` can measure what auditing costs; a server
    running that way keeps no record of who saw what, so it says so loudly.
    """
    if os.environ.get("BEDSIDE_AUDIT", "").strip().lower() == "off":
        log.warning(
            "AUDIT IS OFF (BEDSIDE_AUDIT=off): no access is being recorded. "
            "This setting is for benchmarks only; never run a real server this way."
        )
        return NullAuditor()
    return AuditLog(store, server=server)


__all__ = ["GENESIS", "MAX_BATCH", "AuditLog", "auditor_from_env", "link_hash"]
