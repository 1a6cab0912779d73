"""The device node's lifecycle on real files: inactivity and quick unlock, snapshot expiry
(read-only, then locked until an online sign-in), PIN attempts, wiping, encryption at rest."""

from __future__ import annotations

import json
import os
import secrets
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bedside.auth.keys import SigningKeys, load_or_create
from bedside.device import (
    DeviceError,
    KeysLocked,
    Locked,
    Node,
    NotEnrolled,
    Refused,
    Ticker,
    WrongPin,
)
from bedside.device.keys import KeyFile
from bedside.device.secret import ENV_KEYSTORE
from tests.integration._device_world import (
    HOUR,
    OFFLINE,
    Clock,
    World,
    enroll,
    mint,
    new_pin,
    patient,
    pulse,
)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SigningKeys:
    return load_or_create(tmp_path_factory.mktemp("server"))


@pytest.fixture
def world(tmp_path: Path, keys: SigningKeys, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv(ENV_KEYSTORE, "file")
    w = enroll(tmp_path / "home", keys, Clock())
    w.node.receive([patient("p1", "Alba Quennell")])
    yield w
    w.node.lock()


@pytest.fixture
def full_unlocks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Counts unlocks that went through the key file (argon2id), not the quick path."""
    calls: list[str] = []
    original = KeyFile.unlock

    def counting(self: KeyFile, pin: str) -> bytes:
        calls.append(pin)
        return original(self, pin)

    monkeypatch.setattr(KeyFile, "unlock", counting)
    return calls


def wrong(pin: str) -> str:
    while (other := new_pin()) == pin:
        pass
    return other


def test_inactivity_locks_and_a_quick_unlock_skips_the_key_file(
    world: World, full_unlocks: list[str]
) -> None:
    world.clock.advance(OFFLINE.inactivity_seconds - 1)
    world.node.patients()  # a use: the idle timer starts again
    world.clock.advance(OFFLINE.inactivity_seconds + 1)
    with pytest.raises(Locked, match="without use"):
        world.node.chart("p1")
    assert not world.node.unlocked
    with pytest.raises(Locked):
        world.node.chart("p1")
    world.clock.advance(60)
    world.node.unlock(world.pin)
    assert full_unlocks == []  # within quick_unlock_seconds: no key derivation
    assert sorted(p.id for p in world.node.patients()) == ["p1", "p2"]


def test_the_devices_own_timer_locks_it_when_idle_without_any_call_from_the_app(
    world: World,
) -> None:
    with Ticker(world.node, every=0.02):
        time.sleep(0.1)
        assert world.node.unlocked  # ticks are not uses, and not idle yet
        world.clock.advance(OFFLINE.inactivity_seconds + 1)
        deadline = time.monotonic() + 5
        while world.node.unlocked and time.monotonic() < deadline:
            time.sleep(0.02)
    assert not world.node.unlocked
    with pytest.raises(ValueError):
        Ticker(world.node, every=0)


def test_wrong_pin_on_the_quick_path_falls_back_and_counts(
    world: World, full_unlocks: list[str]
) -> None:
    world.clock.advance(OFFLINE.inactivity_seconds + 1)
    world.node.status()  # notices the idle time and locks
    assert not world.node.unlocked
    bad = wrong(world.pin)
    with pytest.raises(WrongPin) as refused:
        world.node.unlock(bad)
    assert refused.value.attempts_left == OFFLINE.pin_attempts - 1  # limit from the snapshot
    assert full_unlocks == [bad]
    world.node.unlock(world.pin)  # still quick: the right PIN after a typo
    assert full_unlocks == [bad]
    assert KeyFile.open(world.home).status().failed == 1  # quick path did not reset it


def test_quick_unlock_ends_after_its_window_and_after_an_explicit_lock(
    world: World, full_unlocks: list[str]
) -> None:
    world.clock.advance(OFFLINE.inactivity_seconds + OFFLINE.quick_unlock_seconds + 10)
    world.node.unlock(world.pin)
    assert full_unlocks == [world.pin]
    world.node.lock()
    world.node.unlock(world.pin)
    assert full_unlocks == [world.pin, world.pin]


def test_pin_attempts_from_the_snapshot_lock_the_keys(world: World) -> None:
    world.node.lock()
    for left in range(OFFLINE.pin_attempts - 1, 0, -1):
        with pytest.raises(WrongPin) as refused:
            world.node.unlock(wrong(world.pin))
        assert refused.value.attempts_left == left
    with pytest.raises(KeysLocked):
        world.node.unlock(wrong(world.pin))
    with pytest.raises(KeysLocked):
        world.node.unlock(world.pin)
    world.node.unlock_with_escrow(world.escrow_key, "246810")
    assert sorted(p.id for p in world.node.patients()) == ["p1", "p2"]


def test_expired_snapshot_is_read_only_then_locked_until_an_online_sign_in(
    world: World,
) -> None:
    done = world.node.record("create", pulse("p1", 80))
    world.clock.advance(8 * HOUR + 1)  # past exp (and idle)
    with pytest.raises(Locked):
        world.node.chart("p1")
    status = world.node.unlock(world.pin)
    assert status.mode == "read-only"
    with pytest.raises(Refused, match="read but not record"):
        world.node.record("create", pulse("p1", 81))
    with pytest.raises(Refused, match="read but not record"):
        world.node.add_attachment("p1", "image/png", b"png")
    assert world.node.read("Observation", done.id).resource["valueQuantity"]["value"] == 80
    assert len(world.node.outbox()) == 1

    world.clock.advance(OFFLINE.grace_seconds)  # past exp + grace
    with pytest.raises(KeysLocked):
        world.node.unlock(world.pin)
    key_file = json.loads((world.home / "keys.json").read_text())
    assert key_file.get("pin") is None  # the PIN wrap is gone
    assert KeyFile.open(world.home).status().locked
    with pytest.raises(KeysLocked):
        world.node.unlock(world.pin)

    with pytest.raises(DeviceError, match="expired"):
        world.node.unlock_with_escrow(world.escrow_key, "135790")  # no fresh snapshot
    assert KeyFile.open(world.home).status().locked  # nothing changed
    fresh = mint(world.keys, world.clock())
    status = world.node.unlock_with_escrow(
        world.escrow_key, "135790", snapshot_jws=fresh, jwks=world.jwks()
    )
    assert status.mode == "normal" and not status.keys.locked
    world.node.record("create", pulse("p1", 82))
    world.node.lock()
    world.node.unlock("135790")
    assert [e.seq for e in world.node.outbox()] == [1, 2]


def test_expiry_while_unlocked_locks_out_at_the_next_call(world: World) -> None:
    for _ in range(int((8 * HOUR + OFFLINE.grace_seconds) // 200) + 1):
        world.clock.advance(200)  # busy all along: never idle
        try:
            world.node.patients()
        except KeysLocked:
            break
    else:
        pytest.fail("the node never locked")
    assert KeyFile.open(world.home).status().locked


def test_wipe_destroys_keys_store_attachments_and_device_file(world: World) -> None:
    world.node.add_attachment("p1", "image/jpeg", b"photo")
    world.node.wipe()
    assert sorted(p.name for p in world.home.iterdir()) == []
    with pytest.raises(NotEnrolled):
        Node(world.home)
    with pytest.raises(NotEnrolled):
        world.node.patients()


def test_wipe_works_while_locked(world: World) -> None:
    world.node.lock()
    world.node.wipe()
    assert not (world.home / "keys.json").exists() and not (world.home / "store.db").exists()


def _files_touched(root: Path, since: float) -> Iterator[Path]:
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            try:
                if path.is_file() and path.stat().st_mtime >= since:
                    yield path
            except OSError:
                continue


def _leaks(paths: Iterator[Path], secrets_: list[bytes]) -> list[str]:
    found = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError:
            continue
        found += [f"{path}: {s[:12]!r}" for s in secrets_ if s in data]
    return found


def test_nothing_readable_at_rest(
    tmp_path: Path, keys: SigningKeys, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.setenv(ENV_KEYSTORE, "file")
    started = time.time() - 1
    name = "Quaxworth" + secrets.token_hex(6)
    note = "canary note " + secrets.token_hex(8)
    photo = b"\xff\xd8\xff\xe0JFIF" + secrets.token_bytes(4096)
    w = enroll(tmp_path / "home", keys, Clock())
    w.node.receive([patient("p1", f"Zebedee {name}")])
    w.node.record("create", pulse("p1", 91, note=note))
    w.node.record("update", {**patient("p1", f"Zebedee {name}-Smith"), "meta": {}})
    attachment_id = w.node.add_attachment("p1", "image/jpeg", photo)
    w.node.save_draft(pulse("p1", 92, note=note + " draft"))
    canaries = [name.encode(), note.encode(), photo[:64], photo[-64:]]
    canaries.append((w.node.refresh_token() or "missing").encode())
    assert w.node.attachment(attachment_id)[1] == photo
    # open (data in the WAL) and after locking (checkpointed into the database)
    assert _leaks(_files_touched(w.home, 0), canaries) == []
    w.node.lock()
    assert _leaks(_files_touched(w.home, 0), canaries) == []
    assert _leaks(_files_touched(Path(tempfile.gettempdir()), started), canaries) == []
    out = capsys.readouterr()
    assert all(c.decode(errors="ignore") not in out.out + out.err for c in canaries[:2])
    device_json = json.loads((w.home / "device.json").read_text())
    assert set(device_json) == {
        "version",
        "install_id",
        "device_id",
        "server",
        "user",
        "client_id",
        "app_version",
        "enrolled_at",
    }
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in w.home.iterdir()}
    assert set(modes.values()) <= {"0o600", "0o700"}
    (w.home / "control.txt").write_bytes(b"x" + canaries[0] + b"x")  # the scan does see plaintext
    assert len(_leaks(_files_touched(w.home, 0), canaries)) == 1
