"""A device store with a few patients' data, for the working-set and retention tests.

Each seeded patient gets one of everything the purge rules tell apart: a patient row, two
resources with search rows, a conflict, drafts (unsent, recorded and confirmed, recorded and
pending), outbox events in every state, and two attachments (one the server confirmed, with a
real encrypted file, and one not yet synced).
"""

from __future__ import annotations

import secrets
import sqlite3
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from bedside.device.attachments import Attachments

NOW = 1_700_000_000.0
HOUR = 3600
SCHEMA = resources.files("bedside.device").joinpath("schema.sql").read_text("utf-8")
TABLES = ("patients", "resources", "search", "drafts", "outbox", "conflicts", "attachments")


def memory_store() -> sqlite3.Connection:
    """A plain in-memory SQLite store with the device schema, in autocommit like LocalStore."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.executescript(SCHEMA)
    return conn


@dataclass
class Seeded:
    patient: str
    attachment: str  # synced: purged with the patient
    unsynced: str  # not yet synced: always kept
    seqs: dict[str, int] = field(default_factory=dict)  # state -> outbox seq


def seed(conn: sqlite3.Connection, files: Attachments, patient: str, *, at: float = NOW) -> Seeded:
    run = conn.execute
    run(
        "INSERT INTO patients (id, display, basis, joined) VALUES (?, ?, 'care-team', ?)",
        (patient, f"Name of {patient}", at),
    )
    for rtype, rid in (("Patient", patient), ("Observation", f"obs-{patient}")):
        run(
            "INSERT INTO resources (type, id, patient, local_state, body, updated)"
            " VALUES (?, ?, ?, 'synced', '{}', ?)",
            (rtype, rid, patient, at),
        )
        run(
            "INSERT INTO search (patient, type, param, value, id) VALUES (?, ?, 'status', 'x', ?)",
            (patient, rtype, rid),
        )
    seqs = {state: event(conn, patient, state, at=at) for state in STATES}
    drafts = [(None, "unsent"), (seqs["confirmed"], "recorded"), (seqs["pending"], "owed")]
    for seq, kind in drafts:
        run(
            "INSERT INTO drafts (id, patient, type, body, created, updated, outbox_seq)"
            " VALUES (?, ?, 'Observation', '{}', ?, ?, ?)",
            (f"{kind}-{patient}", patient, at, at, seq),
        )
    run(
        "INSERT INTO conflicts (id, outbox_seq, patient, type, resource_id, state, created)"
        " VALUES (?, ?, ?, 'Observation', 'o', 'open', ?)",
        (f"c-{patient}", seqs["needs-review"], patient, at),
    )
    synced = attachment(conn, files, patient, synced_at=at)
    unsynced = attachment(conn, files, patient, synced_at=None)
    return Seeded(patient, synced, unsynced, seqs)


STATES = ("confirmed", "pending", "sending", "needs-review", "rejected")


def event(conn: sqlite3.Connection, patient: str | None, state: str, *, at: float = NOW) -> int:
    seq = int(conn.execute("SELECT coalesce(max(seq), 0) + 1 FROM outbox").fetchone()[0])
    conn.execute(
        "INSERT INTO outbox (seq, idempotency_key, patient, type, resource_id, action, state,"
        " event, created, updated) VALUES (?, ?, ?, 'Observation', 'o', 'create', ?, '{}', ?, ?)",
        (seq, secrets.token_hex(8), patient, state, at, at),
    )
    return seq


def attachment(
    conn: sqlite3.Connection, files: Attachments, patient: str | None, *, synced_at: float | None
) -> str:
    attachment_id = files.put(b"wound photo")
    conn.execute(
        "INSERT INTO attachments (id, patient, content_type, size, sha256, created, synced_at)"
        " VALUES (?, ?, 'image/jpeg', 11, 'x', ?, ?)",
        (attachment_id, patient, NOW, synced_at),
    )
    return attachment_id


def counts(conn: sqlite3.Connection, patient: str) -> dict[str, int]:
    """Rows of ``patient`` in each table."""
    out = {}
    for table in TABLES:
        column = "id" if table == "patients" else "patient"
        row = conn.execute(f"SELECT count(*) FROM {table} WHERE {column} = ?", (patient,))
        out[table] = int(row.fetchone()[0])
    return out


def states(conn: sqlite3.Connection, patient: str) -> set[str]:
    rows = conn.execute("SELECT state FROM outbox WHERE patient = ?", (patient,))
    return {str(r[0]) for r in rows}


def purge_log(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT at, reason, patients, resources, drafts, attachments FROM purge_log ORDER BY rowid"
    ).fetchall()


def attachments_home(tmp_path: Path) -> Attachments:
    return Attachments(tmp_path / "home", secrets.token_bytes(32))
