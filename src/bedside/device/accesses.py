"""The device's access log: every local read, search and write decision, for the audit trail.

Offline, nobody on the server sees who opened which record, so the device writes each decision
itself (G7: who, what, when, on which purpose) into the encrypted ``accesses`` table; sync
uploads the rows as AuditEvents and marks them uploaded (:func:`pending`,
:func:`mark_uploaded`). A chart opening many resources is one row per type and outcome with a
``count``, not one per resource, so reading a long chart does not write thousands of rows.

Refused rows carry the sentence the user was shown, which never holds PHI; the patient and
resource ids are what an audit needs and stay inside the encrypted store until uploaded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from bedside.device.errors import Refused
from bedside.device.store import Connection, LocalStore

__all__ = ["OUTCOMES", "Access", "log", "log_reads", "mark_uploaded", "pending", "refusal"]

OUTCOMES: Final = ("permitted", "refused")
_COLUMNS: Final = "id, at, patient, type, resource_id, action, outcome, purpose, reason, count"


@dataclass(frozen=True, slots=True)
class Access:
    """One logged decision."""

    id: int
    at: float
    patient: str | None
    type: str
    resource_id: str | None
    action: str
    outcome: str
    purpose: str | None
    reason: str | None
    count: int

    @classmethod
    def from_row(cls, row: tuple[Any, ...]) -> Access:
        return cls(*row)


def log(
    conn: Connection,
    *,
    at: float,
    patient: str | None,
    rtype: str,
    action: str,
    outcome: str,
    resource_id: str | None = None,
    purpose: str | None = None,
    reason: str | None = None,
    count: int = 1,
) -> None:
    """Append one decision (inside the caller's transaction when there is one)."""
    if outcome not in OUTCOMES:
        raise ValueError(f"an access outcome is one of {OUTCOMES}")
    conn.execute(
        "INSERT INTO accesses (at, patient, type, resource_id, action, outcome, purpose, reason, "
        "count) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (at, patient, rtype, resource_id, action, outcome, purpose, reason, count),
    )


def log_reads(
    conn: Connection,
    *,
    at: float,
    reads: Iterable[tuple[str, str | None]],
    rtype: str,
    action: str = "search",
) -> None:
    """Append one permitted read of ``rtype`` per (patient, purpose) in ``reads`` (a list of
    many patients' data, such as the ward board), in one statement."""
    conn.executemany(
        "INSERT INTO accesses (at, patient, type, resource_id, action, outcome, purpose, reason, "
        "count) VALUES (?, ?, ?, NULL, ?, 'permitted', ?, NULL, 1)",
        [(at, patient, rtype, action, purpose) for patient, purpose in reads],
    )


def refusal(
    store: LocalStore,
    *,
    at: float,
    patient: str | None,
    rtype: str,
    action: str,
    purpose: str | None,
    reason: str,
) -> Refused:
    """Log a refused access in its own transaction; the :class:`Refused` for the caller to raise.

    Not durable (``synchronous = NORMAL``): nothing was read or written, and a killed process
    keeps the row all the same.
    """
    with store.transaction(durable=False) as tx:
        log(
            tx,
            at=at,
            patient=patient,
            rtype=rtype,
            action=action,
            outcome="refused",
            purpose=purpose,
            reason=reason,
        )
    return Refused(reason)


def pending(conn: Connection, limit: int = 1000) -> list[Access]:
    """The oldest decisions not yet uploaded, in order."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM accesses WHERE uploaded IS NULL ORDER BY id LIMIT ?", (limit,)
    ).fetchall()
    return [Access.from_row(tuple(r)) for r in rows]


def mark_uploaded(conn: Connection, ids: Iterable[int], at: float) -> None:
    """Record that the server has these decisions (sync calls this after its acknowledgement)."""
    conn.executemany(
        "UPDATE accesses SET uploaded = ? WHERE id = ? AND uploaded IS NULL",
        [(at, i) for i in ids],
    )
