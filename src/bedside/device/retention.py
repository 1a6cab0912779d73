"""Retention on the device: each data class kept only as long as the policy allows (G5).

:func:`enforce` runs at unlock and on a timer (the node's), with the snapshot's ``offline``
settings, in one transaction (:func:`bedside.device.workingset.purging`):

1. The working set is reconciled (:meth:`~bedside.device.workingset.PurgeRun.reconcile`), so a
   break-glass or consent entry that ran out while offline is purged on time
   (``access-ended``), and patients out of the working set for ``clinical_grace_seconds`` are
   purged (``left-working-set``).
2. Attachments the server confirmed ``attachment_retention_seconds`` ago are deleted, rows and
   files: the server has them, and the app fetches them again when online. Unsynced
   attachments are never touched here.
3. Outbox events the server confirmed more than ``clinical_grace_seconds`` ago are deleted,
   with the drafts that recorded them: the server holds the signed event and its audit trail,
   and a confirmed body is never sent again. (Compacting the body in place was rejected: the
   node and sync read ``outbox.event`` as a signed event, and a half-row is a trap.) The
   newest outbox row always stays, so the highest ``seq`` ever used stays visible. Events
   pending, sending, needing review or rejected stay: they are owed to the server or to the
   user.
4. A device locked for a whole clinical grace after its grace period (``exp`` +
   ``grace_seconds`` + ``clinical_grace_seconds`` passed without an online sign-in) purges
   every patient (``retention``): a lost or abandoned device should not keep charts forever.
   Unsent drafts and everything owed to the server stay, as for any non-final purge.
5. Optionally, attachment files without a row (a crash between a purge's commit and its file
   deletions) are deleted: pass ``stored`` = ``Attachments.ids()`` when no attachment is being
   added at the same time.

Counts go to ``purge_log`` (reason ``retention`` for 2, 3, 4, 5) and to the ``device.purge``
log line, never an id.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from bedside.device.offline import Mode, OfflinePolicy
from bedside.device.workingset import (
    RETENTION,
    DeleteAttachment,
    PurgeCounts,
    PurgeReport,
    PurgeRun,
    held_patients,
    purging,
)

__all__ = ["abandoned", "enforce"]


def enforce(
    conn: sqlite3.Connection,
    policy: OfflinePolicy,
    now: float,
    delete_attachment: DeleteAttachment,
    *,
    pinned: Iterable[str] | None = None,
    stored: Iterable[str] | None = None,
) -> PurgeReport:
    """Apply every retention rule at ``now`` (module docstring), in one transaction."""
    with purging(conn, now, delete_attachment) as run:
        run.end_access(policy)
        if abandoned(policy, now):
            run.purge(held_patients(conn), RETENTION)
        else:
            run.mark(policy, pinned)
        _expire_attachments(run, policy.settings.attachment_retention_seconds)
        _expire_confirmed_events(run, policy.settings.clinical_grace_seconds)
        if stored is not None:
            _sweep_orphans(run, stored)
    return run.report()


def abandoned(policy: OfflinePolicy, now: float) -> bool:
    """True when the device has stayed locked for a clinical grace past its read-only grace."""
    s = policy.settings
    end = policy.expires + s.grace_seconds + s.clinical_grace_seconds
    return policy.mode(now) is Mode.LOCKED and policy.to_server(now) >= end


def _expire_attachments(run: PurgeRun, keep_seconds: int) -> None:
    """Delete attachments synced at least ``keep_seconds`` ago (rows now, files after commit)."""
    where = "FROM attachments WHERE synced_at IS NOT NULL AND synced_at + ? <= ?"
    args = (keep_seconds, run.now)
    ids = [str(r[0]) for r in run.conn.execute(f"SELECT id {where}", args)]
    if ids:
        run.conn.execute(f"DELETE {where}", args)
        run.files.extend(ids)
        run.add(RETENTION, PurgeCounts(attachments=len(ids)))


def _expire_confirmed_events(run: PurgeRun, keep_seconds: int) -> None:
    """Delete events confirmed at least ``keep_seconds`` ago, and the drafts that made them."""
    old = (
        "SELECT seq FROM outbox WHERE state = 'confirmed' AND updated + ? <= ?"
        " AND seq < (SELECT max(seq) FROM outbox)"
    )
    args = (keep_seconds, run.now)
    drafts = run.conn.execute(f"DELETE FROM drafts WHERE outbox_seq IN ({old})", args).rowcount
    events = run.conn.execute(f"DELETE FROM outbox WHERE seq IN ({old})", args).rowcount
    if drafts or events:
        run.add(RETENTION, PurgeCounts(drafts=drafts, outbox=events))


def _sweep_orphans(run: PurgeRun, stored: Iterable[str]) -> None:
    """Queue for deletion the attachment files that no row refers to."""
    rows = {str(r[0]) for r in run.conn.execute("SELECT id FROM attachments")}
    orphans = sorted(set(stored) - rows - set(run.files))
    if orphans:
        run.files.extend(orphans)
        run.add(RETENTION, PurgeCounts(attachments=len(orphans)))
