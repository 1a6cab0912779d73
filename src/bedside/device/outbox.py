"""The outbox: the device's signed events, in sequence, each with its sync state (G1, G2).

Every local write appends one event in the same transaction as the write itself, so a resource
saved on the device always has its event and an event always has its resource, whatever crashes
in between. The event gets the next ``seq`` (1, 2, 3 ... without gaps, kept in ``meta.next_seq``
so purging confirmed events never reuses a number), a random idempotency key, and the device's
Ed25519 signature (:mod:`bedside.protocol.event`); the signed JSON is stored exactly as it will be
sent, so a re-send is byte-for-byte the first send.

States (docs/device.md)::

    pending ──take──▶ sending ──settle──▶ confirmed | needs-review | rejected
       ▲                 │
       └──reset_sending──┘  (at open: a send the process did not see answered)

An event leaves ``sending`` only with the server's answer for it (:meth:`Outbox.settle`); a
lost answer means the event is sent again under the same key and the server returns its first
result (G2).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bedside.device.errors import DeviceError
from bedside.device.records import LocalRecords
from bedside.device.store import Connection, LocalStore
from bedside.protocol.event import Event, format_time, sign

__all__ = [
    "SETTLED",
    "STATES",
    "UNCONFIRMED",
    "Outbox",
    "OutboxEntry",
]

STATES: Final = ("pending", "sending", "confirmed", "needs-review", "rejected")
#: The states a server answer moves an event to.
SETTLED: Final = ("confirmed", "needs-review", "rejected")
#: Events whose local version the server has not accepted yet: it must not be overwritten.
UNCONFIRMED: Final = ("pending", "sending", "needs-review")
_COLUMNS: Final = (
    "seq, idempotency_key, patient, type, resource_id, action, state, reason, event, "
    "created, updated, result"
)


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """One event in the outbox, as the app lists it and sync sends it."""

    seq: int
    idempotency_key: str
    patient: str | None
    type: str
    resource_id: str
    action: str
    state: str
    reason: str | None
    event: dict[str, Any]  # the signed wire form (with ``sig``)
    created: float
    updated: float
    result: dict[str, Any] | None

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> OutboxEntry:
        return cls(
            seq=int(row[0]),
            idempotency_key=str(row[1]),
            patient=row[2],
            type=str(row[3]),
            resource_id=str(row[4]),
            action=str(row[5]),
            state=str(row[6]),
            reason=row[7],
            event=orjson.loads(row[8]),
            created=float(row[9]),
            updated=float(row[10]),
            result=orjson.loads(row[11]) if row[11] is not None else None,
        )


class Outbox:
    """The outbox of one enrolled device and user, over the open store."""

    def __init__(
        self, store: LocalStore, *, device: str, user: str, key: Ed25519PrivateKey
    ) -> None:
        self.store = store
        self.device = device
        self.user = user
        self._key = key

    def append(
        self,
        tx: Connection,
        *,
        action: str,
        resource: dict[str, Any],
        patient: str | None,
        base_version: str | None,
        purpose: str | None,
        at: float,
    ) -> OutboxEntry:
        """Sign and append the event for a write, inside the writer's transaction ``tx``."""
        if not tx.in_transaction:
            raise RuntimeError("Outbox.append must run inside the write's transaction")
        seq = self._next_seq(tx)
        event = Event(
            device=self.device,
            seq=seq,
            idempotency_key=secrets.token_urlsafe(24),
            device_time=format_time(at),
            user=self.user,
            patient=f"Patient/{patient}" if patient else None,
            action=action,
            resource_type=str(resource["resourceType"]),
            resource_id=str(resource["id"]),
            base_version=base_version,
            resource=resource,
            purpose=purpose,
        )
        signed = sign(event, self._key)
        tx.execute(
            f"INSERT INTO outbox ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, 'pending', NULL, ?, ?, ?, "
            "NULL)",
            (
                seq,
                event.idempotency_key,
                patient,
                event.resource_type,
                event.resource_id,
                action,
                orjson.dumps(signed).decode("utf-8"),
                at,
                at,
            ),
        )
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('next_seq', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(seq + 1),),
        )
        return self._get(tx, seq)

    @staticmethod
    def _next_seq(tx: Connection) -> int:
        row = tx.execute("SELECT value FROM meta WHERE key = 'next_seq'").fetchone()
        top = tx.execute("SELECT COALESCE(MAX(seq), 0) FROM outbox").fetchone()[0]
        return max(int(row[0]) if row else 1, int(top) + 1)

    def take(self, n: int, *, at: float) -> list[OutboxEntry]:
        """The ``n`` oldest pending events, now marked ``sending`` (in seq order)."""
        with self.store.transaction() as tx:
            rows = tx.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE state = 'pending' ORDER BY seq LIMIT ?",
                (max(0, n),),
            ).fetchall()
            seqs = [r[0] for r in rows]
            tx.executemany(
                "UPDATE outbox SET state = 'sending', updated = ? WHERE seq = ?",
                [(at, s) for s in seqs],
            )
            return [self._get(tx, s) for s in seqs]

    def settle(self, seq: int, result: Mapping[str, Any], *, at: float) -> OutboxEntry:
        """Record the server's answer for event ``seq`` (which must be ``sending``).

        ``result`` is the server's per-event result: ``state`` is one of :data:`SETTLED`,
        ``reason`` a sentence (required for needs-review and rejected), and for a confirmed
        write ``version`` the resource's new server versionId, which makes the local copy
        ``synced`` once no other unconfirmed event for it remains. It is stored whole.
        """
        return self.settle_many([(seq, result)], at=at)[0]

    def settle_many(
        self, answers: Sequence[tuple[int, Mapping[str, Any]]], *, at: float
    ) -> list[OutboxEntry]:
        """:meth:`settle` for a push's answers, in order, in one transaction (one disk sync
        for the batch, not one per event). An answer that cannot be recorded stops there: the
        ones before it are kept, and it and the rest stay ``sending`` (sent again next time,
        when the server answers them again byte for byte)."""
        settled: list[OutboxEntry] = []
        refused: DeviceError | None = None
        with self.store.transaction() as tx:
            for seq, result in answers:
                try:
                    settled.append(self._settle_one(tx, seq, result, at))
                except DeviceError as exc:
                    refused = exc
                    break
        if refused is not None:
            raise refused
        return settled

    def _settle_one(
        self, tx: Connection, seq: int, result: Mapping[str, Any], at: float
    ) -> OutboxEntry:
        state = result.get("state")
        reason = result.get("reason")
        if state not in SETTLED:
            raise DeviceError(
                f"A sync result must say confirmed, needs-review or rejected, not {state!r}."
            )
        if state != "confirmed" and not (isinstance(reason, str) and reason.strip()):
            raise DeviceError(f"A {state} sync result must give the reason.")
        body = orjson.dumps(dict(result)).decode("utf-8")
        row = tx.execute("SELECT state, type, resource_id FROM outbox WHERE seq = ?", (seq,))
        found = row.fetchone()
        if found is None:
            raise DeviceError(f"There is no event {seq} in the outbox.")
        if found[0] != "sending":
            raise DeviceError(f"Event {seq} is {found[0]}, not being sent: it cannot be settled.")
        tx.execute(
            "UPDATE outbox SET state = ?, reason = ?, result = ?, updated = ? WHERE seq = ?",
            (state, reason if isinstance(reason, str) else None, body, at, seq),
        )
        version = result.get("version")
        if state == "confirmed" and isinstance(version, str) and version:
            self._confirm_resource(tx, str(found[1]), str(found[2]), version)
        return self._get(tx, seq)

    @staticmethod
    def _confirm_resource(tx: Connection, rtype: str, rid: str, version: str) -> None:
        LocalRecords(tx).confirm(
            rtype, rid, version, still_local=Outbox.unconfirmed(tx, rtype, rid)
        )

    def requeue(self, seqs: Iterable[int], *, at: float) -> int:
        """``sending`` events back to ``pending``: the server deferred them, or never answered."""
        chosen = sorted(set(seqs))
        if not chosen:
            return 0
        marks = ",".join("?" * len(chosen))
        with self.store.transaction() as tx:
            return int(
                tx.execute(
                    f"UPDATE outbox SET state = 'pending', updated = ? "
                    f"WHERE state = 'sending' AND seq IN ({marks})",
                    (at, *chosen),
                ).rowcount
            )

    def review_settled(
        self, tx: Connection, seq: int, result: Mapping[str, Any], at: float
    ) -> bool:
        """A review item's outcome for event ``seq`` (``needs-review`` → confirmed | rejected).

        Runs inside the caller's transaction (a pulled page); False when the event is not
        waiting for review (already settled, or purged), so a repeated page changes nothing.
        """
        state = result.get("state")
        if state not in ("confirmed", "rejected"):
            raise DeviceError(f"A review outcome must say confirmed or rejected, not {state!r}.")
        row = tx.execute("SELECT state, type, resource_id FROM outbox WHERE seq = ?", (seq,))
        found = row.fetchone()
        if found is None or found[0] != "needs-review":
            return False
        reason = result.get("reason")
        tx.execute(
            "UPDATE outbox SET state = ?, reason = ?, result = ?, updated = ? WHERE seq = ?",
            (
                state,
                reason if isinstance(reason, str) else None,
                orjson.dumps(dict(result)).decode("utf-8"),
                at,
                seq,
            ),
        )
        version = result.get("version")
        if state == "confirmed" and isinstance(version, str) and version:
            self._confirm_resource(tx, str(found[1]), str(found[2]), version)
        return True

    def reset_sending(self, *, at: float) -> int:
        """Every ``sending`` event back to ``pending`` (run at open); how many there were."""
        with self.store.transaction() as tx:
            cur = tx.execute(
                "UPDATE outbox SET state = 'pending', updated = ? WHERE state = 'sending'", (at,)
            )
            return int(cur.rowcount)

    def list(self, state: str | None = None) -> list[OutboxEntry]:
        """Events in seq order, all or those in ``state``."""
        if state is not None and state not in STATES:
            raise DeviceError(f"An outbox state is one of {', '.join(STATES)}.")
        with self.store.reading() as conn:
            if state is None:
                rows = conn.execute(f"SELECT {_COLUMNS} FROM outbox ORDER BY seq").fetchall()
            else:
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM outbox WHERE state = ? ORDER BY seq", (state,)
                ).fetchall()
        return [OutboxEntry.from_row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """How many events are in each state (every state listed, zeros included)."""
        with self.store.reading() as conn:
            rows = conn.execute("SELECT state, count(*) FROM outbox GROUP BY state").fetchall()
        found = {str(s): int(c) for s, c in rows}
        return {s: found.get(s, 0) for s in STATES}

    @staticmethod
    def unconfirmed(tx: Connection, rtype: str, rid: str) -> bool:
        """Whether a local change to this resource still waits for the server."""
        row = tx.execute(
            "SELECT 1 FROM outbox WHERE type = ? AND resource_id = ? AND state IN "
            "('pending', 'sending', 'needs-review') LIMIT 1",
            (rtype, rid),
        ).fetchone()
        return row is not None

    @staticmethod
    def create_seq(tx: Connection, rtype: str, rid: str) -> int | None:
        """The seq of this device's create event for a resource, if it made one."""
        row = tx.execute(
            "SELECT seq FROM outbox WHERE type = ? AND resource_id = ? AND action = 'create' "
            "ORDER BY seq LIMIT 1",
            (rtype, rid),
        ).fetchone()
        return int(row[0]) if row is not None else None

    @staticmethod
    def _get(tx: Connection, seq: int) -> OutboxEntry:
        row = tx.execute(f"SELECT {_COLUMNS} FROM outbox WHERE seq = ?", (seq,)).fetchone()
        return OutboxEntry.from_row(row)
