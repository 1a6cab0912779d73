"""The hash-chained audit log on real SQLite and PostgreSQL: appending in the caller's
transaction, group commit from many threads and from two logs on one database, and tampering
that the verifier must name."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager

import orjson
import pytest

from bedside.audit.chain import GENESIS, AuditLog, auditor_from_env, link_hash
from bedside.audit.entry import SUCCESS, AuditEntry, NullAuditor
from bedside.audit.verify import verify
from bedside.errors import StoreError
from bedside.store import Store, open_store
from bedside.store.base import Records
from tests.conftest import PgSchema

SERVER = "http://bedside.test/fhir"


def entry(i: int, patients: tuple[str, ...] = ("p1",)) -> AuditEntry:
    return AuditEntry(
        subtype="read",
        action="R",
        outcome=SUCCESS,
        recorded_ms=1_767_225_600_000 + i,
        user_ref="Practitioner/9",
        subject="u-9",
        client_id="ward-app",
        patients=patients,
        entities=(f"Observation/{i}/_history/1",),
    )


def check(store: Store) -> tuple[bool, int, int | None, str]:
    with store.read() as session:
        r = verify(session.records())
    return r.ok, r.checked, r.first_broken, r.reason


def run(store: Store, sql: str, args: Sequence[object] = ()) -> None:
    with store.records(write=True) as db:
        db.run(sql, args)


@pytest.fixture
def log(store: Store) -> Iterator[AuditLog]:
    audit = AuditLog(store, server=SERVER)
    yield audit
    audit.close()


def test_append_chains_records_in_the_callers_transaction(store: Store, log: AuditLog) -> None:
    with store.write() as session:
        log.append(session.records(), [entry(1), entry(2, ("p1", "p2"))])
    with store.records() as db:
        rows = db.rows("SELECT n, content, prev_hash, hash, user_ref FROM audit_log ORDER BY n")
        head = db.one("SELECT n, hash FROM audit_head WHERE id = 1")
        links = db.rows("SELECT patient, n FROM audit_patients ORDER BY n, patient")
    assert [r[0] for r in rows] == [1, 2]
    assert rows[0][2] == GENESIS
    assert rows[0][3] == link_hash(GENESIS, bytes(rows[0][1]))
    assert rows[1][2] == rows[0][3]
    assert head == (2, rows[1][3])
    assert orjson.loads(bytes(rows[1][1]))["id"] == "2"
    assert rows[0][4] == "Practitioner/9"
    assert links == [("p1", 1), ("p1", 2), ("p2", 2)]
    assert check(store) == (True, 2, None, "2 records intact")


def test_append_rolls_back_with_the_write_it_audits(store: Store, log: AuditLog) -> None:
    with pytest.raises(RuntimeError), store.write() as session:
        log.append(session.records(), [entry(1)])
        raise RuntimeError("the FHIR write failed")
    with store.records() as db:
        assert db.one("SELECT COUNT(*) FROM audit_log") == (0,)
        assert db.one("SELECT n, hash FROM audit_head WHERE id = 1") == (0, GENESIS)


def test_submit_is_durable_on_return_and_empty_submit_writes_nothing(
    store: Store, log: AuditLog
) -> None:
    log.submit([])
    with store.records() as db:
        assert db.one("SELECT n FROM audit_head WHERE id = 1") == (0,)
    log.submit([entry(1), entry(2)])
    with store.records() as db:  # another connection sees it: committed
        assert db.one("SELECT n FROM audit_head WHERE id = 1") == (2,)
    assert check(store)[0]


def test_concurrent_submits_from_eight_threads_keep_one_contiguous_chain(
    store: Store, log: AuditLog
) -> None:
    per_thread, errors = 25, []

    def work(t: int) -> None:
        try:
            for i in range(per_thread):
                log.submit([entry(t * 1000 + i, (f"p{t}",))] * (1 + i % 3))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    expected = 8 * sum(1 + i % 3 for i in range(per_thread))
    with store.records() as db:
        ns = [r[0] for r in db.rows("SELECT n FROM audit_log ORDER BY n")]
    assert ns == list(range(1, expected + 1))
    assert check(store) == (True, expected, None, f"{expected} records intact")


class CountingStore:
    """Counts write transactions: what group commit saves."""

    def __init__(self, inner: Store) -> None:
        self.inner = inner
        self.dialect = inner.dialect
        self.writes = 0

    def records(self, *, write: bool = False) -> AbstractContextManager[Records]:
        if write:
            self.writes += 1
        return self.inner.records(write=write)


def test_submits_queued_while_a_commit_is_blocked_share_the_next_commit(store: Store) -> None:
    counting = CountingStore(store)
    log = AuditLog(counting, server=SERVER)  # type: ignore[arg-type]
    lock = " FOR UPDATE" if store.dialect == "postgresql" else ""
    threads = [threading.Thread(target=log.submit, args=([entry(i)],)) for i in range(6)]
    with store.records(write=True) as db:  # hold the chain head: the writer must wait
        db.one(f"SELECT n FROM audit_head WHERE id = 1{lock}")
        threads[0].start()
        while counting.writes < 1:  # the writer took the first submit and is now blocked
            threading.Event().wait(0.01)
        for th in threads[1:]:
            th.start()
        while log._queue.qsize() < 5:  # the other five are queued behind it
            threading.Event().wait(0.01)
    for th in threads:
        th.join()
    log.close()
    assert counting.writes == 2  # six requests, two commits
    assert check(store) == (True, 6, None, "6 records intact")


class FailingStore:
    dialect = "sqlite"

    @contextmanager
    def records(self, *, write: bool = False) -> Iterator[Records]:
        raise StoreError("disk full")
        yield  # pragma: no cover


def test_submit_raises_when_its_batch_was_not_committed() -> None:
    log = AuditLog(FailingStore(), server=SERVER)  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="could not be written"):
        log.submit([entry(1)])
    log.close()


def test_close_flushes_and_later_submits_are_refused(store: Store) -> None:
    log = AuditLog(store, server=SERVER)
    log.submit([entry(1)])
    log.close()
    log.close()  # idempotent
    with pytest.raises(StoreError, match="closed"):
        log.submit([entry(2)])
    assert check(store)[:2] == (True, 1)


def test_two_audit_logs_on_one_postgresql_database_stay_one_chain(pg_schema: PgSchema) -> None:
    stores = [open_store(pg_schema.url), open_store(pg_schema.url)]
    logs = [AuditLog(s, server=SERVER) for s in stores]
    errors: list[Exception] = []

    def work(k: int) -> None:
        try:
            for i in range(30):
                if i % 3 == 0:  # in a write transaction, as an audited FHIR write does
                    with stores[k % 2].write() as session:
                        logs[k % 2].append(session.records(), [entry(i), entry(i + 1)])
                else:
                    logs[k % 2].submit([entry(k * 100 + i)])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    for log in logs:
        log.close()
    assert errors == []
    expected = 6 * (10 * 2 + 20)
    assert check(stores[0]) == (True, expected, None, f"{expected} records intact")
    for s in stores:
        s.close()


def test_auditor_from_env_turns_audit_off_only_when_asked(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BEDSIDE_AUDIT", "off")
    assert isinstance(auditor_from_env(store, SERVER), NullAuditor)
    monkeypatch.delenv("BEDSIDE_AUDIT")
    auditor = auditor_from_env(store, SERVER)
    assert isinstance(auditor, AuditLog) and auditor.enabled
    auditor.close()


# --- tampering ------------------------------------------------------------------------------


@pytest.fixture
def ten(store: Store, log: AuditLog) -> Store:
    log.submit([entry(i, (f"p{i % 3}",)) for i in range(1, 11)])
    assert check(store) == (True, 10, None, "10 records intact")
    return store


def _content(store: Store, n: int) -> dict[str, object]:
    with store.records() as db:
        row = db.one("SELECT content FROM audit_log WHERE n = ?", (n,))
    assert row is not None
    return dict(orjson.loads(bytes(row[0])))


def test_changed_content_is_named(ten: Store) -> None:
    event = _content(ten, 5)
    event["outcome"] = "4"
    run(ten, "UPDATE audit_log SET content = ? WHERE n = 5", (orjson.dumps(event),))
    assert check(ten) == (False, 4, 5, "record 5's content does not match its hash")


def test_changed_content_with_a_recomputed_hash_breaks_the_next_link(ten: Store) -> None:
    event = _content(ten, 5)
    event["outcome"] = "4"
    raw = orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
    with ten.records(write=True) as db:
        prev = db.one("SELECT prev_hash FROM audit_log WHERE n = 5")
        assert prev is not None
        db.run(
            "UPDATE audit_log SET content = ?, hash = ?, outcome = '4' WHERE n = 5",
            (raw, link_hash(prev[0], raw)),
        )
    ok, checked, broken, reason = check(ten)
    assert (ok, checked, broken) == (False, 5, 6)
    assert reason.startswith("record 6 does not link to record 5")


def test_a_deleted_middle_record_is_named(ten: Store) -> None:
    run(ten, "DELETE FROM audit_log WHERE n = 4")
    assert check(ten) == (False, 3, 4, "record 4 is missing")


def test_a_deleted_last_record_is_named(ten: Store) -> None:
    run(ten, "DELETE FROM audit_log WHERE n = 10")
    assert check(ten) == (False, 9, 10, "record 10 is missing")


def test_swapped_records_are_named(ten: Store) -> None:
    with ten.records(write=True) as db:
        db.run("UPDATE audit_log SET n = -3 WHERE n = 3")
        db.run("UPDATE audit_log SET n = 3 WHERE n = 6")
        db.run("UPDATE audit_log SET n = 6 WHERE n = -3")
    ok, checked, broken, reason = check(ten)
    assert (ok, checked, broken) == (False, 2, 3)
    assert reason.startswith("record 3 does not link to record 2")


def test_an_edited_search_column_is_named(ten: Store) -> None:
    run(ten, "UPDATE audit_log SET user_ref = 'Practitioner/1' WHERE n = 7")
    assert check(ten) == (False, 6, 7, "record 7's search columns do not match its content")


def test_a_removed_patient_link_is_named(ten: Store) -> None:
    run(ten, "DELETE FROM audit_patients WHERE n = 8")
    assert check(ten)[:3] == (False, 7, 8)
    assert check(ten)[3] == "record 8's patient index does not match its content"


def test_an_added_patient_link_is_named(ten: Store) -> None:
    run(ten, "INSERT INTO audit_patients (patient, n) VALUES ('someone-else', 6)")
    assert check(ten)[2:] == (6, "record 6's patient index does not match its content")


def test_a_head_that_does_not_match_the_last_record_is_named(ten: Store) -> None:
    run(ten, "UPDATE audit_head SET hash = ? WHERE id = 1", ("f" * 64,))
    assert check(ten)[2:] == (10, "the chain head does not match record 10")


def test_a_record_past_the_head_is_named(ten: Store) -> None:
    with ten.records(write=True) as db:
        db.run("UPDATE audit_head SET n = 9, hash = (SELECT hash FROM audit_log WHERE n = 9)")
    assert check(ten)[2:] == (10, "record 10 lies past the chain head")


def test_a_batch_too_big_for_one_statement_is_chained_the_same(store: Store, log: AuditLog) -> None:
    log.submit([entry(i, ("p1", "p2")) for i in range(2500)])
    assert check(store) == (True, 2500, None, "2500 records intact")
    with store.records() as db:
        assert db.one("SELECT COUNT(*) FROM audit_patients") == (5000,)
