"""Offline break-glass on a real device (SQLCipher home, server-signed snapshot, test clock):
refused outside the working set, opened with the PIN and a reason, time limited, every view
logged as BTG, refused when the policy forbids it, and stopped when the grant has not reached
the server within the policy's window (docs/clinician-app.md "Break-glass")."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bedside.auth.caller import Caller
from bedside.auth.keys import SigningKeys, load_or_create
from bedside.auth.scopes import ScopeSet
from bedside.device import DeviceError, Refused
from bedside.device.accesses import pending
from bedside.device.breakglass import NO_REASON, NOT_ALLOWED
from bedside.device.errors import WrongPin
from bedside.device.secret import ENV_KEYSTORE
from bedside.policy.model import AccessView, PatientAccess
from bedside.policy.snapshot import sign_snapshot, snapshot
from tests.integration._device_world import (
    DEVICE,
    HOUR,
    ISSUER,
    RULES,
    USER,
    Clock,
    World,
    enroll,
    mint,
    patient,
    pulse,
)

REASON = "Collapsed in the corridor; no notes to hand"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SigningKeys:
    return load_or_create(tmp_path_factory.mktemp("server"))


@pytest.fixture
def world(tmp_path: Path, keys: SigningKeys, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    """p3 was among the doctor's patients, then the care relationship ended (the device purged
    their data at once: G5); p9 was never on the device."""
    monkeypatch.setenv(ENV_KEYSTORE, "file")
    w = enroll(tmp_path / "home", keys, Clock(), patients=("p1", "p2", "p3"))
    w.node.receive([patient("p1", "Alba Quennell"), patient("p3", "Cato Rendell")])
    w.node.receive([pulse("p3", 88, oid="o-p3", version="1")])
    w.node.apply_snapshot(mint(keys, w.clock(), patients=("p1", "p2")))
    yield w
    w.node.lock()


def forbidding(keys: SigningKeys, now: float) -> str:
    """A snapshot from a policy without offline break-glass."""
    rules = replace(RULES, break_glass_offline=False)
    view = AccessView(
        "doctor",
        True,
        rules.role("doctor").permissions,
        relations=(PatientAccess("p1", "care-team", "CareTeam/ct-p1"),),
        sensitive=rules.sensitive,
        now=now,
    )
    caller = Caller(
        USER,
        ScopeSet.parse("user/*.cruds"),
        client_id="bedside-device",
        fhir_user="Practitioner/d1",
        role="doctor",
        device=DEVICE,
    )
    return sign_snapshot(snapshot(view, caller, issuer=ISSUER, rules=rules, now=now), keys)


def btg_reads(w: World, pid: str) -> list[str]:
    return [
        a.action
        for a in w.node.accesses()
        if a.patient == pid and a.purpose == "BTG" and a.outcome == "permitted"
    ]


def test_outside_the_working_set_is_refused_and_logged(world: World) -> None:
    with pytest.raises(Refused, match="not among your patients"):
        world.node.chart("p3")
    state = world.node.glass("p3")
    assert not state.reached and state.grant is None and state.offer is None
    assert (state.minutes, state.sync_hours, state.held) == (30, 12, 0)
    assert state.name is None  # purged: not even the name is left
    refused = [a for a in world.node.accesses() if a.patient == "p3" and a.outcome == "refused"]
    assert refused and refused[-1].reason and "not among your patients" in refused[-1].reason


def test_break_glass_needs_the_pin_and_a_reason(world: World) -> None:
    wrong = "000000" if world.pin != "000000" else "111111"
    with pytest.raises(WrongPin):
        world.node.break_glass("p3", wrong, REASON)
    with pytest.raises(DeviceError, match=NO_REASON):
        world.node.break_glass("p3", world.pin, "   ")
    with pytest.raises(Refused):
        world.node.chart("p3")  # nothing opened
    assert world.node.glass_outgoing() == ([], [])


def test_break_glass_opens_what_the_device_holds_logs_each_view_and_ends(world: World) -> None:
    grant = world.node.break_glass("p3", world.pin, "  " + REASON + "\n")
    assert grant.reason == REASON and grant.expires - grant.started == 30 * 60
    assert world.node.chart("p3") == []  # only what it holds: nothing, since the purge
    assert world.node.chart("p3", "Observation") == []
    assert world.node.glass("p3").grant == grant
    assert "break-glass" in btg_reads(world, "p3") and "read" in btg_reads(world, "p3")
    sent, carried = world.node.glass_outgoing()
    assert [g["id"] for g in sent] == [grant.id] and sent[0]["reason"] == REASON
    assert [v["action"] for v in sent[0]["views"]] == ["read", "read"] and len(carried) == 2
    # a patient never on the device: the glass opens on nothing, honestly
    other = world.node.break_glass("p9", world.pin, REASON)
    assert world.node.chart("p9") == [] and world.node.glass("p9").held == 0
    assert other.patient == "p9"
    # 31 minutes later: the access has ended
    world.clock.advance(31 * 60)
    world.node.unlock(world.pin)  # the idle lock (5 minutes) came first
    with pytest.raises(Refused):
        world.node.chart("p3")
    assert world.node.glass("p3").grant is None


def test_refused_when_the_policy_forbids_offline_break_glass(
    world: World, keys: SigningKeys
) -> None:
    world.node.apply_snapshot(forbidding(keys, world.clock()))
    assert world.node.glass("p3").offer == NOT_ALLOWED
    with pytest.raises(DeviceError, match="does not allow break-glass"):
        world.node.break_glass("p3", world.pin, REASON)
    assert world.node.glass_outgoing() == ([], [])


def test_stopped_when_not_synced_within_the_window_until_the_server_has_it(
    world: World, keys: SigningKeys
) -> None:
    grant = world.node.break_glass("p3", world.pin, REASON)
    for _ in range(3):  # 12 hours offline: the snapshot renewed as if by a pull on the way
        world.clock.advance(4 * HOUR + 60)
        world.node.unlock(world.pin)
        world.node.apply_snapshot(mint(keys, world.clock(), patients=("p1", "p2")))
    state = world.node.glass("p3")
    assert state.offer and "not reached the server within 12 hours" in state.offer
    with pytest.raises(DeviceError, match="Break-glass is stopped"):
        world.node.break_glass("p3", world.pin, REASON)
    sent, carried = world.node.glass_outgoing()
    assert [g["id"] for g in sent] == [grant.id]  # still waiting to go, first
    world.node.glass_settle([{"id": grant.id, "state": "recorded", "late": True}], carried)
    assert world.node.glass("p3").offer is None  # the server has it: break-glass again
    assert world.node.glass_outgoing() == ([], [])
    assert not [a for a in pending_btg(world) if a.action == "read"]


def pending_btg(w: World) -> list:  # type: ignore[type-arg]
    with w.node._use(background=True) as s, s.store.reading() as conn:
        return [a for a in pending(conn) if a.purpose == "BTG"]
