"""The device node against real SQLCipher files: reads, writes, drafts, receive, snapshots.

Locking, expiry, wiping and encryption at rest are in test_device_node_lifecycle.py.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from bedside.auth.keys import SigningKeys, load_or_create
from bedside.device import DeviceError, Refused
from bedside.device.secret import ENV_KEYSTORE
from bedside.protocol.event import verify
from tests.integration._device_world import (
    DEVICE,
    HOUR,
    LOINC,
    USER,
    Clock,
    World,
    enroll,
    mint,
    patient,
    pulse,
)
from tests.integration._outbox import settle, take


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SigningKeys:
    return load_or_create(tmp_path_factory.mktemp("server"))


@pytest.fixture
def world(tmp_path: Path, keys: SigningKeys, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv(ENV_KEYSTORE, "file")
    w = enroll(tmp_path / "home", keys, Clock())
    w.node.receive([patient("p1", "Alba Quennell"), patient("p2", "Brin Ottaway")])
    yield w
    w.node.lock()


def count(w: World, table: str) -> int:
    with w.node._use(background=True) as s, s.store.reading() as conn:
        return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_enrolled_node_lists_its_working_set_with_names(world: World) -> None:
    listed = world.node.patients()
    assert [(p.id, p.display, p.basis) for p in listed] == [
        ("p1", "Alba Quennell", "care-team"),
        ("p2", "Brin Ottaway", "care-team"),
    ]
    assert world.node.refresh_token() is not None
    status = world.node.status()
    assert status.unlocked and status.mode == "normal" and status.working_set == 2


def test_write_reads_back_at_once_as_saved_on_device(world: World) -> None:
    done = world.node.record("create", pulse("p1", 88))
    assert done.type == "Observation" and done.state == "saved-on-device" and done.seq == 1
    item = world.node.read("Observation", done.id)
    assert item.local_state == "saved-on-device" and item.server_version is None
    assert item.resource["valueQuantity"]["value"] == 88
    chart = world.node.chart("p1", "Observation")
    assert [(i.id, i.local_state) for i in chart] == [(done.id, "saved-on-device")]
    assert [i.id for i in world.node.search("p1", "Observation", code=f"{LOINC}|8867-4")] == [
        done.id
    ]
    assert [i.id for i in world.node.search("p1", "Observation", code="8867-4")] == [done.id]
    assert world.node.search("p1", "Observation", code="9279-1") == []
    assert [
        i.id
        for i in world.node.search(
            "p1", "Observation", date_from="2027-01-15", date_to="2027-01-15", status="final"
        )
    ] == [done.id]
    assert world.node.search("p1", "Observation", date_from="2027-01-16") == []
    assert [i.type for i in world.node.chart("p2")] == ["Patient"]


def test_events_verify_with_the_device_key_in_contiguous_order(world: World) -> None:
    first = world.node.record("create", pulse("p1", 80))
    second = world.node.record("create", pulse("p2", 90))
    changed = world.node.read("Observation", first.id).resource
    changed["valueQuantity"]["value"] = 81
    third = world.node.record("update", changed)
    assert [first.seq, second.seq, third.seq] == [1, 2, 3]
    events = [verify(e.event, world.device_key.public_key()) for e in world.node.outbox()]
    assert [e.seq for e in events] == [1, 2, 3]
    assert {e.device for e in events} == {DEVICE} and {e.user for e in events} == {USER}
    assert [e.action for e in events] == ["create", "create", "update"]
    assert events[0].base_version is None
    assert events[2].base_version == "pending:1"  # its create is not confirmed yet
    assert events[2].resource_id == first.id and events[0].patient == "Patient/p1"
    assert events[0].device_time == "2027-01-15T08:00:00.000Z"
    assert {e.state for e in world.node.outbox()} == {"pending"}


def test_refused_write_leaves_no_row_anywhere(world: World) -> None:
    before = {t: count(world, t) for t in ("resources", "search", "outbox", "drafts")}
    with pytest.raises(Refused, match="not among your patients"):
        world.node.record("create", pulse("p-stranger", 70))
    with pytest.raises(Refused):
        world.node.add_attachment("p-stranger", "image/jpeg", b"\xff\xd8 photo")
    assert {t: count(world, t) for t in before} == before
    assert world.node.outbox() == []
    refused = [a for a in world.node.accesses() if a.outcome == "refused"]
    assert [(a.patient, a.action) for a in refused] == [
        ("p-stranger", "create"),
        ("p-stranger", "attach"),
    ]
    assert all(a.reason and "p-stranger" not in a.reason for a in refused)


def test_reads_outside_the_working_set_are_refused_and_logged(world: World) -> None:
    with pytest.raises(Refused):
        world.node.chart("p-stranger")
    world.node.chart("p1")
    log = world.node.accesses()
    assert [(a.patient, a.action, a.outcome) for a in log][-2:] == [
        ("p-stranger", "read", "refused"),
        ("p1", "read", "permitted"),
    ]


def test_break_glass_writes_carry_purpose_btg(tmp_path: Path, keys: SigningKeys) -> None:
    w = enroll(tmp_path / "home", keys, Clock(), patients=("p1",), glass=("p9",))
    done = w.node.record("create", pulse("p9", 120))
    event = w.node.outbox()[0].event
    assert event["purpose"] == "BTG" and event["resource_id"] == done.id
    assert [
        a.purpose for a in w.node.accesses() if a.patient == "p9"
    ] == []  # the event is the record
    w.node.chart("p9")
    assert [a.purpose for a in w.node.accesses() if a.patient == "p9"] == ["BTG"]
    w.node.lock()


def test_invalid_resource_and_unknown_update_are_refused_before_writing(world: World) -> None:
    bad = pulse("p1", 70)
    bad["valueQuantity"] = "seventy"
    with pytest.raises(DeviceError, match="cannot be saved"):
        world.node.record("create", bad)
    with pytest.raises(DeviceError, match="not on this device"):
        world.node.record("update", pulse("p1", 70, oid="missing"))
    with pytest.raises(DeviceError, match="action"):
        world.node.record("delete", pulse("p1", 70))
    assert world.node.outbox() == []


def test_drafts_are_kept_resumed_and_recorded_once(world: World) -> None:
    draft_id = world.node.save_draft(pulse("p1", 0))
    world.node.save_draft(pulse("p1", 77), draft_id=draft_id)
    assert [d.id for d in world.node.drafts()] == [draft_id]
    assert world.node.resume_draft(draft_id).resource["valueQuantity"]["value"] == 77
    done = world.node.record_draft(draft_id)
    assert world.node.drafts() == []
    with pytest.raises(DeviceError, match="draft"):
        world.node.record_draft(draft_id)
    assert [e.seq for e in world.node.outbox()] == [done.seq]
    other = world.node.save_draft(pulse("p2", 60))
    world.node.discard_draft(other)
    assert world.node.drafts() == []
    with pytest.raises(Refused):
        world.node.save_draft(pulse("p-stranger", 60))


def test_receive_holds_back_rows_changed_on_the_device(world: World) -> None:
    server = pulse("p1", 70, oid="o1", version="1")
    got = world.node.receive([server, pulse("p-stranger", 1, oid="o2", version="1")])
    assert (got.stored, got.skipped, got.held_back) == (1, 1, ())
    local = world.node.read("Observation", "o1").resource
    local["valueQuantity"]["value"] = 72
    world.node.record("update", local)
    assert world.node.outbox()[0].event["base_version"] == "1"
    newer = pulse("p1", 99, oid="o1", version="2")
    got = world.node.receive([newer])
    assert got.held_back == ("Observation/o1",) and got.stored == 0
    item = world.node.read("Observation", "o1")
    assert item.local_state == "saved-on-device" and item.resource["valueQuantity"]["value"] == 72
    [sent] = take(world.node, 10)
    settle(world.node, sent.seq, {"state": "confirmed", "version": "3"})
    assert world.node.read("Observation", "o1").local_state == "synced"
    got = world.node.receive([pulse("p1", 72, oid="o1", version="3")], sync_token="t-1")
    assert got.stored == 1 and got.held_back == ()
    item = world.node.read("Observation", "o1")
    assert (item.local_state, item.server_version) == ("synced", "3")


def test_receive_never_takes_a_resource_back_to_an_older_version(world: World) -> None:
    # a pull can lag behind what a push confirmed: v3 stored, then v2 arrives late
    got = world.node.receive([pulse("p1", 80, oid="o1", version="3")])
    assert (got.stored, got.stale) == (1, 0)
    world.node.receive([pulse("p1", 81, oid="o2", version="1")])
    late = world.node.receive(
        [pulse("p1", 60, oid="o1", version="2"), pulse("p1", 82, oid="o2", version="2")]
    )
    assert (late.stored, late.stale) == (1, 1)
    kept = world.node.read("Observation", "o1")
    assert kept.server_version == "3" and kept.resource["valueQuantity"]["value"] == 80
    found = {i.resource["id"]: i for i in world.node.search("p1", "Observation")}
    assert sorted(found) == ["o1", "o2"] and found["o1"].server_version == "3"
    assert world.node.read("Observation", "o2").resource["valueQuantity"]["value"] == 82
    # one batch sending a resource twice keeps its highest version, in any order
    twice = world.node.receive(
        [pulse("p1", 90, oid="o3", version="5"), pulse("p1", 91, oid="o3", version="4")]
    )
    assert twice.stored == 1
    assert world.node.read("Observation", "o3").server_version == "5"


def test_apply_snapshot_purges_a_patient_who_left(world: World) -> None:
    world.node.receive([pulse("p2", 65, oid="o-p2", version="1")])
    kept = world.node.record("create", pulse("p2", 66))
    world.clock.advance(60)
    report = world.node.apply_snapshot(mint(world.keys, world.clock(), patients=("p1",)))
    assert report.total.patients == 1
    assert [p.id for p in world.node.patients()] == ["p1"]
    with pytest.raises(Refused):
        world.node.chart("p2")
    assert count(world, "resources") == 1  # p1's Patient only
    assert [e.seq for e in world.node.outbox("pending")] == [kept.seq]  # still owed
    with pytest.raises(Refused):
        world.node.record("create", pulse("p2", 67))


def test_apply_snapshot_refuses_another_users_or_expired_snapshot(
    world: World, tmp_path: Path
) -> None:
    stale = mint(world.keys, world.clock() - 9 * HOUR)
    with pytest.raises(DeviceError, match="expired"):
        world.node.apply_snapshot(stale)
    foreign = load_or_create(tmp_path / "other-server")
    with pytest.raises(DeviceError, match="signature"):
        world.node.apply_snapshot(mint(foreign, world.clock()))
    assert [p.id for p in world.node.patients()] == ["p1", "p2"]


def test_attachments_round_trip_encrypted(world: World) -> None:
    photo = bytes(range(256)) * 8
    attachment_id = world.node.add_attachment("p1", "image/jpeg", photo)
    assert world.node.attachment(attachment_id) == ("image/jpeg", photo)
    assert photo not in (world.home / "attachments" / f"{attachment_id}.bin").read_bytes()


def test_two_threads_writing_get_contiguous_seqs(world: World) -> None:
    errors: list[BaseException] = []

    def write(pid: str) -> None:
        try:
            for i in range(15):
                world.node.record("create", pulse(pid, 60 + i))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in ("p1", "p2")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [e.seq for e in world.node.outbox()] == list(range(1, 31))
