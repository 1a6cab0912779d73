"""The ``health_links`` and ``health_link_tickets`` tables (migration 0011): the only SQL of
SMART Health Links.

Wrong passcodes count down with one conditional UPDATE, so two guesses at once cannot both use
the last attempt, and the count is committed even though the request is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import orjson

from bedside.store.base import Records

__all__ = [
    "LinkRow",
    "add_ticket",
    "by_id",
    "by_patient",
    "end",
    "insert",
    "spend_attempt",
    "ticket_link",
]

_COLUMNS: Final = (
    "id, patient, owner, label, what, passcode_hash, attempts_left, exp, status, created_at,"
    " ended_at, content_type, file"
)


@dataclass(frozen=True, slots=True)
class LinkRow:
    id: str
    patient: str
    owner: str
    label: str | None
    what: tuple[str, ...]
    passcode_hash: str | None
    attempts_left: int
    exp: int | None
    status: str  # active, revoked, disabled
    created_at: int
    ended_at: int | None
    content_type: str
    file: str


def _row(r: tuple[object, ...]) -> LinkRow:
    return LinkRow(
        str(r[0]),
        str(r[1]),
        str(r[2]),
        None if r[3] is None else str(r[3]),
        tuple(orjson.loads(str(r[4]))),
        None if r[5] is None else str(r[5]),
        int(r[6]),  # type: ignore[call-overload]
        None if r[7] is None else int(r[7]),  # type: ignore[call-overload]
        str(r[8]),
        int(r[9]),  # type: ignore[call-overload]
        None if r[10] is None else int(r[10]),  # type: ignore[call-overload]
        str(r[11]),
        str(r[12]),
    )


def insert(db: Records, link: LinkRow) -> None:
    db.run(
        f"INSERT INTO health_links ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            link.id,
            link.patient,
            link.owner,
            link.label,
            orjson.dumps(list(link.what)).decode(),
            link.passcode_hash,
            link.attempts_left,
            link.exp,
            link.status,
            link.created_at,
            link.ended_at,
            link.content_type,
            link.file,
        ],
    )


def by_id(db: Records, link_id: str) -> LinkRow | None:
    found = db.one(f"SELECT {_COLUMNS} FROM health_links WHERE id = ?", [link_id])
    return _row(found) if found is not None else None


def by_patient(db: Records, patient: str) -> list[LinkRow]:
    """The patient's links, newest first."""
    rows = db.rows(
        f"SELECT {_COLUMNS} FROM health_links WHERE patient = ? ORDER BY created_at DESC, id",
        [patient],
    )
    return [_row(r) for r in rows]


def spend_attempt(db: Records, link_id: str, now: int) -> int | None:
    """Use one passcode attempt of an active link; the attempts left (0 disables it), or None
    when the link was not active any more."""
    changed = db.run(
        "UPDATE health_links SET attempts_left = attempts_left - 1"
        " WHERE id = ? AND status = ? AND attempts_left > 0",
        [link_id, "active"],
    )
    if not changed:
        return None
    found = db.one("SELECT attempts_left FROM health_links WHERE id = ?", [link_id])
    left = int(found[0]) if found is not None else 0
    if left <= 0:
        db.run(
            "UPDATE health_links SET status = ?, ended_at = ? WHERE id = ? AND status = ?",
            ["disabled", now, link_id, "active"],
        )
    return left


def end(db: Records, link_id: str, patient: str, now: int) -> bool:
    """Revoke one of ``patient``'s active links; False if there is no such active link."""
    changed = db.run(
        "UPDATE health_links SET status = ?, ended_at = ? WHERE id = ? AND patient = ?"
        " AND status = ?",
        ["revoked", now, link_id, patient, "active"],
    )
    return bool(changed)


def add_ticket(db: Records, digest: str, link_id: str, expires_at: int, now: int) -> None:
    """Keep a file ticket's digest; tickets past their time are cleared on the way."""
    db.run("DELETE FROM health_link_tickets WHERE expires_at <= ?", [now])
    db.run(
        "INSERT INTO health_link_tickets (digest, link_id, expires_at) VALUES (?, ?, ?)",
        [digest, link_id, expires_at],
    )


def ticket_link(db: Records, digest: str, now: int) -> str | None:
    """The link a live ticket opens, or None."""
    found = db.one(
        "SELECT link_id FROM health_link_tickets WHERE digest = ? AND expires_at > ?",
        [digest, now],
    )
    return str(found[0]) if found is not None else None
