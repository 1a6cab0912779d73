"""Walk the audit chain and say whether it is intact, and if not, where it first breaks.

The walk reads ``audit_head`` first and then the records up to it, a page at a time in order of
``n``, so it runs in constant memory and a server appending meanwhile does not disturb it (rows up
to the head it read were committed with that head). For each record it checks, in this order:

1. the position: ``n`` follows the previous one (1, 2, 3, ...), else a record is missing;
2. the hash: ``SHA-256(prev_hash || content)`` equals the stored ``hash``;
3. the link: ``prev_hash`` equals the previous record's ``hash`` (64 zeros for record 1);
4. the content names its own position (``id``), so a record moved to another ``n`` is caught;
5. the searchable columns equal what the content says (``event.indexed``), so a column edited to
   hide a record from a search is caught.

Then that the head's hash is the last record's, that no record lies past the head, and that the
``audit_patients`` rows are exactly the patients each record's content names (the patient-facing
view of the log depends on them). What it cannot detect is in docs/audit.md: someone with write
access to the database who rewrites the whole chain from the tampered record on, head included.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bedside.audit.chain import GENESIS, link_hash
from bedside.audit.event import Indexed, indexed
from bedside.store.base import Records

PAGE: Final = 500
_SELECT: Final = (
    "SELECT n, recorded, recorded_ms, action, subtype, outcome, user_ref, subject, client_id,"
    " device, purpose, content, prev_hash, hash FROM audit_log"
)
_MOD: Final = 1 << 256


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    checked: int  # records found intact before the first broken one (all of them when ok)
    first_broken: int | None  # the position of the first broken record
    reason: str  # plain words: "record 17's content does not match its hash"


class _Broken(Exception):
    """The first problem found; ``checked`` defaults to the records before ``n``."""

    def __init__(self, n: int | None, reason: str, checked: int | None = None) -> None:
        super().__init__(reason)
        self.n = n
        self.reason = reason
        self.checked = checked if checked is not None else max((n or 1) - 1, 0)


def _link_digest(patient: str, n: int) -> int:
    """One (patient, record) link as a number; their sum mod 2**256 fingerprints the set."""
    raw = hashlib.sha256(f"{patient}\x00{n}".encode()).digest()
    return int.from_bytes(raw, "big")


def _pages(records: Records, sql: str, after: int, upto: int) -> Iterator[list[tuple[Any, ...]]]:
    while True:
        rows = records.rows(sql, (after, upto, PAGE))
        if not rows:
            return
        yield rows
        after = int(rows[-1][0])


def _check_record(row: tuple[Any, ...], expected_n: int, prev: str) -> Indexed:
    n = int(row[0])
    content = bytes(row[11])
    prev_hash, stored = str(row[12]), str(row[13])
    if n > expected_n:
        raise _Broken(expected_n, f"record {expected_n} is missing")
    if n < expected_n:
        raise _Broken(n, f"record {n} is out of sequence (expected record {expected_n})")
    if not hmac.compare_digest(link_hash(prev_hash, content), stored):
        raise _Broken(n, f"record {n}'s content does not match its hash")
    if not hmac.compare_digest(prev_hash, prev):
        previous = f"record {n - 1}" if n > 1 else "the start of the chain"
        raise _Broken(n, f"record {n} does not link to {previous} (a record was altered)")
    try:
        event = orjson.loads(content)
        fields = indexed(event)
    except (orjson.JSONDecodeError, KeyError, IndexError, TypeError, ValueError):
        raise _Broken(n, f"record {n}'s content is not an audit event") from None
    if event.get("id") != str(n):
        raise _Broken(n, f"record {n} holds the content of record {event.get('id')}")
    stored_columns = (str(row[1]), int(row[2]), *row[3:11])
    if tuple(stored_columns) != fields.columns():
        raise _Broken(n, f"record {n}'s search columns do not match its content")
    return fields


def _walk(records: Records, head_n: int) -> tuple[str, int, int]:
    """Check records 1..head_n; return the last hash, the count, and the patient fingerprint."""
    prev, expected, links = GENESIS, 1, 0
    sql = f"{_SELECT} WHERE n > ? AND n <= ? ORDER BY n LIMIT ?"
    for rows in _pages(records, sql, 0, head_n):
        for row in rows:
            fields = _check_record(row, expected, prev)
            for pid in dict.fromkeys(fields.patients):
                links = (links + _link_digest(pid, expected)) % _MOD
            prev = str(row[13])
            expected += 1
    if expected <= head_n:
        raise _Broken(expected, f"record {expected} is missing")
    return prev, expected - 1, links


def _patient_links(records: Records, head_n: int) -> Iterator[tuple[str, int]]:
    """audit_patients rows up to the head, a page at a time in primary-key order."""
    patient, n = "", -1
    while True:
        rows = records.rows(
            "SELECT patient, n FROM audit_patients WHERE (patient, n) > (?, ?) AND n <= ?"
            " ORDER BY patient, n LIMIT ?",
            (patient, n, head_n, PAGE),
        )
        if not rows:
            return
        for row in rows:
            yield str(row[0]), int(row[1])
        patient, n = str(rows[-1][0]), int(rows[-1][1])


def _first_bad_link(records: Records, head_n: int) -> int | None:
    """The lowest record whose patient rows differ from its content (the slow, exact pass that
    runs only after the fingerprints disagreed)."""
    worst: int | None = None
    cache: dict[int, tuple[str, ...]] = {}

    def named(n: int) -> tuple[str, ...] | None:
        if n not in cache:
            row = records.one("SELECT content FROM audit_log WHERE n = ?", (n,))
            if row is None:
                return None
            cache[n] = indexed(orjson.loads(bytes(row[0]))).patients
        return cache[n]

    for patient, n in _patient_links(records, head_n):  # rows that should not be there
        names = named(n)
        if names is None or patient not in names:
            worst = n if worst is None else min(worst, n)
    sql = "SELECT n, content FROM audit_log WHERE n > ? AND n <= ? ORDER BY n LIMIT ?"
    for rows in _pages(records, sql, 0, head_n if worst is None else worst - 1):
        for row in rows:  # rows that are missing
            n = int(row[0])
            for pid in indexed(orjson.loads(bytes(row[1]))).patients:
                if (
                    records.one(
                        "SELECT 1 FROM audit_patients WHERE patient = ? AND n = ?", (pid, n)
                    )
                    is None
                ):
                    return n
    return worst


def verify(records: Records) -> VerifyResult:
    """Check the whole chain. Give it a read transaction's records for a consistent snapshot
    (``with store.read() as s: verify(s.records())``); plain autocommit records work too."""
    head = records.one("SELECT n, hash FROM audit_head WHERE id = 1")
    if head is None:
        return VerifyResult(False, 0, None, "the audit chain head is missing")
    head_n, head_hash = int(head[0]), str(head[1])
    checked = 0
    try:
        last_hash, checked, expected_links = _walk(records, head_n)
        if not hmac.compare_digest(last_hash, head_hash):
            raise _Broken(head_n, f"the chain head does not match record {head_n}", checked)
        beyond = records.one("SELECT MIN(n) FROM audit_log WHERE n > ?", (head_n,))
        if beyond is not None and beyond[0] is not None:
            now = records.one("SELECT n FROM audit_head WHERE id = 1")
            if now is None or int(now[0]) < int(beyond[0]):
                extra = int(beyond[0])
                raise _Broken(extra, f"record {extra} lies past the chain head", checked)
        links = 0
        for patient, n in _patient_links(records, head_n):
            links = (links + _link_digest(patient, n)) % _MOD
        if links != expected_links:
            bad = _first_bad_link(records, head_n)
            if bad is None:
                raise _Broken(None, "the patient index does not match the records", checked)
            raise _Broken(bad, f"record {bad}'s patient index does not match its content")
    except _Broken as broken:
        return VerifyResult(False, broken.checked, broken.n, broken.reason)
    return VerifyResult(True, checked, None, f"{checked} records intact")


__all__ = ["PAGE", "VerifyResult", "verify"]
