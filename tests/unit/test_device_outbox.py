"""The outbox: contiguous signed events, and the pending → sending → settled state machine."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bedside.device.errors import DeviceError
from bedside.device.outbox import Outbox
from bedside.device.store import STORE_FILE, LocalStore
from bedside.protocol.event import verify

NOW = 1_800_000_000.0


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LocalStore]:
    s = LocalStore.open(tmp_path / STORE_FILE, secrets.token_bytes(32), create=True)
    yield s
    s.close()


@pytest.fixture
def outbox(store: LocalStore, key: Ed25519PrivateKey) -> Outbox:
    return Outbox(store, device="dev-1", user="u-1", key=key)


def obs(rid: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"text": "pulse"},
        "subject": {"reference": "Patient/p1"},
    }


def append(outbox: Outbox, rid: str, action: str = "create", base: str | None = None) -> int:
    with outbox.store.transaction() as tx:
        entry = outbox.append(
            tx,
            action=action,
            resource=obs(rid),
            patient="p1",
            base_version=base,
            purpose=None,
            at=NOW,
        )
    return entry.seq


def test_events_have_contiguous_seqs_and_verify_with_the_device_key(
    outbox: Outbox, key: Ed25519PrivateKey
) -> None:
    seqs = [append(outbox, f"o{i}") for i in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    entries = outbox.list()
    assert [e.state for e in entries] == ["pending"] * 5
    keys = {e.idempotency_key for e in entries}
    assert len(keys) == 5
    for entry in entries:
        event = verify(entry.event, key.public_key())
        assert event.seq == entry.seq
        assert event.device == "dev-1" and event.user == "u-1"
        assert event.patient == "Patient/p1"
        assert event.device_time == "2027-01-15T08:00:00.000Z"


def test_event_signed_by_another_key_does_not_verify(outbox: Outbox) -> None:
    append(outbox, "o1")
    from bedside.errors import EventError

    with pytest.raises(EventError):
        verify(outbox.list()[0].event, Ed25519PrivateKey.generate().public_key())


def test_append_outside_a_transaction_is_a_programming_error(outbox: Outbox) -> None:
    with pytest.raises(RuntimeError):
        outbox.append(
            outbox.store.conn,
            action="create",
            resource=obs("o1"),
            patient="p1",
            base_version=None,
            purpose=None,
            at=NOW,
        )


def test_rolled_back_append_leaves_no_gap(outbox: Outbox) -> None:
    append(outbox, "o1")
    with pytest.raises(RuntimeError), outbox.store.transaction() as tx:
        outbox.append(
            tx,
            action="create",
            resource=obs("o2"),
            patient="p1",
            base_version=None,
            purpose=None,
            at=NOW,
        )
        raise RuntimeError("the write failed after its event")
    assert append(outbox, "o3") == 2


def test_seq_never_reuses_a_number_after_confirmed_events_are_purged(outbox: Outbox) -> None:
    append(outbox, "o1")
    append(outbox, "o2")
    with outbox.store.transaction() as tx:
        tx.execute("DELETE FROM outbox")
    assert append(outbox, "o3") == 3


def test_take_moves_oldest_pending_to_sending_in_order(outbox: Outbox) -> None:
    for i in range(4):
        append(outbox, f"o{i}")
    taken = outbox.take(2, at=NOW + 1)
    assert [e.seq for e in taken] == [1, 2]
    assert all(e.state == "sending" for e in taken)
    assert [e.seq for e in outbox.take(10, at=NOW + 2)] == [3, 4]
    assert outbox.take(10, at=NOW + 3) == []


def test_settle_needs_a_sending_event_and_a_reason_unless_confirmed(outbox: Outbox) -> None:
    for i in range(3):
        append(outbox, f"o{i}")
    with pytest.raises(DeviceError, match="not being sent"):
        outbox.settle(1, {"state": "confirmed"}, at=NOW)
    outbox.take(3, at=NOW)
    with pytest.raises(DeviceError, match="reason"):
        outbox.settle(2, {"state": "rejected"}, at=NOW)
    with pytest.raises(DeviceError, match="confirmed, needs-review or rejected"):
        outbox.settle(2, {"state": "pending"}, at=NOW)
    done = outbox.settle(1, {"state": "confirmed", "version": "1"}, at=NOW)
    assert done.state == "confirmed" and done.result == {"state": "confirmed", "version": "1"}
    rejected = outbox.settle(2, {"state": "rejected", "reason": "No permission."}, at=NOW)
    assert rejected.reason == "No permission."
    review = outbox.settle(3, {"state": "needs-review", "reason": "Changed on server."}, at=NOW)
    assert review.state == "needs-review"
    with pytest.raises(DeviceError, match="not being sent"):
        outbox.settle(1, {"state": "confirmed"}, at=NOW)
    with pytest.raises(DeviceError, match="no event 9"):
        outbox.settle(9, {"state": "confirmed"}, at=NOW)
    assert outbox.counts() == {
        "pending": 0,
        "sending": 0,
        "confirmed": 1,
        "needs-review": 1,
        "rejected": 1,
    }
    assert [e.seq for e in outbox.list("rejected")] == [2]


def test_reset_sending_returns_unanswered_events_to_pending_with_the_same_key(
    outbox: Outbox,
) -> None:
    append(outbox, "o1")
    append(outbox, "o2")
    first = outbox.take(2, at=NOW)
    assert outbox.reset_sending(at=NOW + 5) == 2
    again = outbox.take(2, at=NOW + 6)
    assert [e.event for e in again] == [e.event for e in first]  # byte-for-byte the same event


def test_confirmed_version_marks_the_local_copy_synced_once_nothing_else_waits(
    outbox: Outbox,
) -> None:
    with outbox.store.transaction() as tx:
        tx.execute(
            "INSERT INTO resources (type, id, patient, local_state, body, updated) "
            "VALUES ('Observation', 'o1', 'p1', 'saved-on-device', '{}', 0)"
        )
    append(outbox, "o1")
    append(outbox, "o1", action="update", base="pending:1")
    outbox.take(1, at=NOW)
    outbox.settle(1, {"state": "confirmed", "version": "1"}, at=NOW)
    row = outbox.store.conn.execute("SELECT server_version, local_state FROM resources").fetchone()
    assert tuple(row) == ("1", "saved-on-device")  # the update still waits
    outbox.take(1, at=NOW)
    outbox.settle(2, {"state": "confirmed", "version": "2"}, at=NOW)
    row = outbox.store.conn.execute("SELECT server_version, local_state FROM resources").fetchone()
    assert tuple(row) == ("2", "synced")


def test_unknown_state_filter_is_refused(outbox: Outbox) -> None:
    with pytest.raises(DeviceError):
        outbox.list("lost")


def test_a_pushs_answers_settle_together_and_a_bad_one_stops_there(outbox: Outbox) -> None:
    for i in range(4):
        append(outbox, f"o{i}")
    outbox.take(4, at=NOW)
    with pytest.raises(DeviceError, match="reason"):
        outbox.settle_many(
            [
                (1, {"state": "confirmed", "version": "1"}),
                (2, {"state": "confirmed", "version": "1"}),
                (3, {"state": "rejected"}),  # no reason: cannot be recorded
                (4, {"state": "confirmed", "version": "1"}),
            ],
            at=NOW,
        )
    states = {e.seq: e.state for e in outbox.list()}
    assert states == {1: "confirmed", 2: "confirmed", 3: "sending", 4: "sending"}


def test_a_records_events_are_found_by_index_not_by_scanning_the_outbox(
    outbox: Outbox, store: LocalStore
) -> None:
    """Every local write and confirmation asks Outbox.unconfirmed / create_seq: a scan of the
    whole outbox there made a push of N events cost O(N^2) on the device."""
    append(outbox, "o1")
    with store.transaction() as tx:
        for sql in (
            "SELECT 1 FROM outbox WHERE type = ? AND resource_id = ? AND state IN "
            "('pending', 'sending', 'needs-review') LIMIT 1",
            "SELECT seq FROM outbox WHERE type = ? AND resource_id = ? AND action = 'create' "
            "ORDER BY seq LIMIT 1",
        ):
            plan = " ".join(
                str(row[-1])
                for row in tx.execute(f"EXPLAIN QUERY PLAN {sql}", ("Observation", "o1"))
            )
            assert "USING INDEX outbox_resource" in plan, plan
