"""The working set on the device, and purging what falls out of it (G5: least data on the device).

The device holds the patients the policy snapshot puts in its user's working set
(:meth:`bedside.device.offline.OfflinePolicy.working_set`) and nobody else. :func:`reconcile`
compares the store with the policy and acts:

* a patient no longer reachable at all (a care team ended, a consent or break-glass ran out, a
  pin whose only basis ended) is purged at once: ``access-ended``;
* a patient still reachable but out of the working set (discharged from the ward, unpinned) is
  marked with ``left_at`` and purged once ``clinical_grace_seconds`` have passed, so a nurse
  who finishes her notes after the patient left the ward still has the chart:
  ``left-working-set``;
* working-set patients get (or keep) a ``patients`` row with their bases and pin.

What a purge deletes, and what it never deletes (G2: nothing lost):

* resources, search rows and conflicts of the patient (conflicts are the server's review items,
  mirrored; the server keeps them);
* attachments the server confirmed (``synced_at`` set): rows, then files through the caller's
  callback. An attachment not yet synced is the only copy of a photo: it stays until synced;
* outbox events the server settled (``confirmed``, ``rejected``: the server holds the event and
  its review item). Events ``pending``, ``sending`` or ``needs-review`` always stay, with their
  body, so they are still sent and reviewed. The newest outbox row is never deleted, so the
  highest ``seq`` ever used stays in the table;
* drafts: a recorded draft whose event is settled or gone is deleted. An unrecorded draft is the
  user's work: it stays while the patient is still reachable (``left-working-set``,
  ``retention``) and is deleted when access ended (or on a wipe), because the user can no
  longer act on it: recording it would be refused here and rejected at sync.

Each purge runs in ONE transaction with its ``purge_log`` rows (one per reason, counts only)
and is logged as ``device.purge`` with the reason and counts, never an id. Attachment files are
deleted after the commit (a crash in between leaves ciphertext without a row, which
:func:`bedside.device.retention.enforce` sweeps). Called inside a caller's transaction, the
purge joins it and deletes the files at once: they are all server-confirmed copies.

The connection is the store's (``sqlite3``-compatible; the caller holds the store's lock).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from typing import Final

import structlog

from bedside.device.errors import DeviceError
from bedside.device.offline import UNCONFINED, OfflinePolicy
from bedside.device.records import LocalRecords

__all__ = [
    "ACCESS_ENDED",
    "LEFT_WORKING_SET",
    "REASONS",
    "RETENTION",
    "WIPE_REQUEST",
    "DeleteAttachment",
    "PurgeCounts",
    "PurgeReport",
    "PurgeRun",
    "held_patients",
    "purge",
    "purging",
    "reconcile",
]

#: Deletes one attachment file by id (``Attachments.delete``); absent files are not an error.
DeleteAttachment = Callable[[str], None]

LEFT_WORKING_SET: Final = "left-working-set"
ACCESS_ENDED: Final = "access-ended"
RETENTION: Final = "retention"
WIPE_REQUEST: Final = "wipe-request"
REASONS: Final = (LEFT_WORKING_SET, ACCESS_ENDED, RETENTION, WIPE_REQUEST)
#: Reasons after which the user can no longer act on the patient: unsent drafts go too.
_ACCESS_GONE: Final = frozenset({ACCESS_ENDED, WIPE_REQUEST})
#: Outbox states the server has settled; any other event is still owed to the server.
_SETTLED: Final = "('confirmed', 'rejected')"
_OWED: Final = f"state NOT IN {_SETTLED}"
_OWED_SEQS: Final = f"SELECT seq FROM outbox WHERE {_OWED}"

_log = structlog.get_logger("bedside.device")


@dataclass(frozen=True, slots=True)
class PurgeCounts:
    """What one purge deleted and kept, by kind. Counts only: safe to log and to show."""

    patients: int = 0
    resources: int = 0
    search: int = 0
    drafts: int = 0
    attachments: int = 0
    conflicts: int = 0
    outbox: int = 0  # settled events deleted
    outbox_kept: int = 0  # events still owed to the server (pending, sending, needs-review)
    attachments_kept: int = 0  # attachments not yet synced, kept

    def __add__(self, other: PurgeCounts) -> PurgeCounts:
        return PurgeCounts(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def deleted(self) -> int:
        """Rows and files deleted, patients included (0: nothing happened)."""
        kept = {"outbox_kept", "attachments_kept"}
        return sum(getattr(self, f.name) for f in fields(self) if f.name not in kept)


@dataclass(frozen=True, slots=True)
class PurgeReport:
    """The outcome of one purge run: counts per reason, and the working set's movements."""

    at: float
    by_reason: Mapping[str, PurgeCounts] = field(default_factory=dict)
    joined: int = 0  # patients that entered the working set
    leaving: int = 0  # patients out of the working set, kept for the clinical grace
    files_failed: int = 0  # attachment files the callback could not delete (swept later)

    @property
    def total(self) -> PurgeCounts:
        out = PurgeCounts()
        for counts in self.by_reason.values():
            out = out + counts
        return out


class PurgeRun:
    """The changes of one transaction: purges, working-set marks, files to delete after it."""

    def __init__(self, conn: sqlite3.Connection, now: float) -> None:
        self.conn = conn
        self.now = now
        self.counts: dict[str, PurgeCounts] = {}
        self.files: list[str] = []
        self.joined = 0
        self.leaving = 0
        self.files_failed = 0

    def add(self, reason: str, counts: PurgeCounts) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown purge reason {reason!r}")
        self.counts[reason] = self.counts.get(reason, PurgeCounts()) + counts

    def purge(self, patients: Iterable[str], reason: str) -> PurgeCounts:
        """Delete everything of ``patients`` the device may delete (module docstring)."""
        total = PurgeCounts()
        for patient in sorted(set(patients)):
            total = total + self._purge_one(patient, reason)
        if total.patients:
            self.add(reason, total)
        return total

    def _purge_one(self, patient: str, reason: str) -> PurgeCounts:
        def delete(sql: str) -> int:
            return int(self.conn.execute(sql, (patient,)).rowcount)

        def count(sql: str) -> int:
            return int(self.conn.execute(sql, (patient,)).fetchone()[0])

        synced = "FROM attachments WHERE patient = ? AND synced_at IS NOT NULL"
        self.files.extend(str(r[0]) for r in self.conn.execute(f"SELECT id {synced}", (patient,)))
        drafts = "DELETE FROM drafts WHERE patient = ?"
        if reason not in _ACCESS_GONE:  # keep unsent drafts and drafts whose event is owed
            drafts += f" AND outbox_seq IS NOT NULL AND outbox_seq NOT IN ({_OWED_SEQS})"
        delete("DELETE FROM patients WHERE id = ?")
        resources, search = LocalRecords(self.conn).drop_patient(patient)
        return PurgeCounts(
            patients=1,
            resources=resources,
            search=search,
            drafts=delete(drafts),
            attachments=delete(f"DELETE {synced}"),
            conflicts=delete("DELETE FROM conflicts WHERE patient = ?"),
            outbox=delete(
                f"DELETE FROM outbox WHERE patient = ? AND state IN {_SETTLED}"
                " AND seq < (SELECT max(seq) FROM outbox)"  # the newest seq stays in the table
            ),
            outbox_kept=count(f"SELECT count(*) FROM outbox WHERE patient = ? AND {_OWED}"),
            attachments_kept=count(
                "SELECT count(*) FROM attachments WHERE patient = ? AND synced_at IS NULL"
            ),
        )

    def reconcile(self, policy: OfflinePolicy, pinned: Iterable[str] | None = None) -> None:
        """Purge who the policy no longer reaches, then mark the working set and purge who left
        it more than a clinical grace ago (module docstring). ``pinned`` defaults to the
        snapshot's ``pins``."""
        self.end_access(policy)
        self.mark(policy, pinned)

    def end_access(self, policy: OfflinePolicy) -> None:
        """Purge (``access-ended``) every patient held here whom ``policy`` no longer reaches."""
        if policy.unlimited:
            return
        reach = policy.reachable(self.now)
        held = held_patients(self.conn, drafts=True)
        self.purge((p for p in held if p not in reach), ACCESS_ENDED)

    def mark(self, policy: OfflinePolicy, pinned: Iterable[str] | None = None) -> None:
        """Rows for the working set; ``left_at`` for the others, purged after the grace."""
        now, conn = self.now, self.conn
        rows = {str(r[0]): r[1] for r in conn.execute("SELECT id, left_at FROM patients")}
        reach = policy.reachable(now)
        pins = policy.pins if pinned is None else frozenset(pinned)
        keep = policy.working_set(now, pins)
        for patient in sorted(keep):
            if patient not in rows or rows[patient] is not None:
                self.joined += 1  # new, or back after leaving: joined again now
            conn.execute(
                "INSERT INTO patients (id, basis, pinned, joined) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET basis = excluded.basis,"
                " pinned = excluded.pinned, left_at = NULL,"
                " joined = CASE WHEN patients.left_at IS NULL THEN patients.joined"
                " ELSE excluded.joined END",
                (patient, _basis(reach, patient), int(patient in pins), now),
            )
        grace = policy.settings.clinical_grace_seconds
        due: list[str] = []
        for patient in sorted(held_patients(conn) - keep):
            left_at = rows.get(patient)
            if left_at is None:
                left_at = now
                conn.execute(
                    "INSERT INTO patients (id, basis, pinned, joined, left_at)"
                    " VALUES (?, ?, 0, ?, ?)"
                    " ON CONFLICT (id) DO UPDATE SET basis = excluded.basis, pinned = 0,"
                    " left_at = excluded.left_at",
                    (patient, _basis(reach, patient), now, now),
                )
            if float(left_at) + grace <= now:
                due.append(patient)
            else:
                self.leaving += 1
        self.purge(due, LEFT_WORKING_SET)

    def report(self) -> PurgeReport:
        return PurgeReport(
            self.now, dict(self.counts), self.joined, self.leaving, self.files_failed
        )

    def _write_log(self) -> None:
        for reason, c in sorted(self.counts.items()):
            self.conn.execute(
                "INSERT INTO purge_log (at, reason, patients, resources, drafts, attachments)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (self.now, reason, c.patients, c.resources, c.drafts, c.attachments),
            )

    def _delete_files(self, delete_attachment: DeleteAttachment) -> None:
        for attachment_id in self.files:
            try:
                delete_attachment(attachment_id)
            except (OSError, DeviceError):
                self.files_failed += 1  # the row is gone; retention sweeps the orphan file


@contextmanager
def purging(
    conn: sqlite3.Connection, now: float, delete_attachment: DeleteAttachment
) -> Iterator[PurgeRun]:
    """One purge transaction: yields a :class:`PurgeRun`; on a clean exit writes the
    ``purge_log`` rows, commits, deletes the attachment files and logs each reason."""
    outer = conn.in_transaction
    if not outer:
        conn.execute("BEGIN IMMEDIATE")
    run = PurgeRun(conn, now)
    try:
        yield run
        run._write_log()
    except BaseException:
        if not outer:
            conn.rollback()
        raise
    if not outer:
        conn.commit()
    run._delete_files(delete_attachment)
    for reason, c in sorted(run.counts.items()):
        _log.info(
            "device.purge",
            reason=reason,
            patients=c.patients,
            resources=c.resources,
            search=c.search,
            drafts=c.drafts,
            attachments=c.attachments,
            conflicts=c.conflicts,
            outbox=c.outbox,
            outbox_kept=c.outbox_kept,
            attachments_kept=c.attachments_kept,
        )


def purge(
    conn: sqlite3.Connection,
    patients: Iterable[str],
    reason: str,
    delete_attachment: DeleteAttachment,
    *,
    now: float | None = None,
) -> PurgeReport:
    """Purge ``patients`` now for ``reason`` (one of :data:`REASONS`), in one transaction."""
    if reason not in REASONS:
        raise ValueError(f"unknown purge reason {reason!r}")
    with purging(conn, time.time() if now is None else now, delete_attachment) as run:
        run.purge(patients, reason)
    return run.report()


def reconcile(
    conn: sqlite3.Connection,
    policy: OfflinePolicy,
    now: float,
    delete_attachment: DeleteAttachment,
    *,
    pinned: Iterable[str] | None = None,
) -> PurgeReport:
    """Mark the working set and purge who left it, per ``policy`` at ``now`` (one transaction).

    Call it after every new snapshot and sync; :func:`bedside.device.retention.enforce` calls it
    at unlock and on a timer, so break-glass and consent entries end on time while offline.
    """
    with purging(conn, now, delete_attachment) as run:
        run.reconcile(policy, pinned)
    return run.report()


def held_patients(conn: sqlite3.Connection, *, drafts: bool = False) -> set[str]:
    """Patients with a row or clinical data on the device; with ``drafts``, also those with
    only drafts left (kept user work: they count when access ends, not for the grace)."""
    return LocalRecords(conn).held_patients(drafts=drafts)


def _basis(reach: Mapping[str, list[str]], patient: str) -> str:
    """The ``patients.basis`` text: the bases still reaching the patient, comma-separated."""
    return ",".join(reach.get(patient) or [UNCONFINED])
