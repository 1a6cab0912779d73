"""Graduated compliance end to end (issue 19): a real enrolled device reports its posture at
each sync; under a policy whose [posture] makes "disk encryption off" read-only, a write the
device recorded while its disk was encrypted is rejected at commit once it reports the disk
off, with a plain reason, and stays on the device as rejected; the device then refuses new
writes itself and says why; the console data names the step."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bedside.device import Refused
from bedside.device import posture as device_posture
from bedside.fleet import registry, telemetry
from bedside.policy.posture import assess
from bedside.policy.rules import PolicyRules
from bedside.store import open_store
from bedside.sync.posture_check import device_step
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, enroll_phone, observation
from tests.integration._sync_world import new_ward
from tests.integration.test_device_cli import PIN

POLICY = Path(__file__).resolve().parents[2] / "src" / "bedside" / "policy" / "default.toml"
STRICT = {'disk_encryption = "warn"': 'disk_encryption = "read-only"'}


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    text = POLICY.read_text("utf-8")
    for old, new in STRICT.items():
        assert old in text
        text = text.replace(old, new)
    policy = tmp_path_factory.mktemp("policy") / "policy.toml"
    policy.write_text(text)
    with smart_server(tmp_path_factory, "sqlite", "--policy", str(policy)) as s:
        shutil.copy(policy, s.server.data_dir / "policy.toml")  # where step_on_server reads it
        yield s


@pytest.fixture(autouse=True)
def _homes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BEDSIDE_DEVICE_KEYSTORE", "file")
    monkeypatch.setattr(device_posture, "debugger", lambda: False)
    yield
    while OPENED:
        OPENED.pop().lock()


def step_on_server(smart: Smart, device_id: str) -> str:
    """The step the console shows, from what the device last reported."""
    store = open_store(smart.database)
    try:
        with store.records() as db:
            device = registry.get(db, device_id)
            assert device is not None and telemetry.latest(db, device_id) is not None
            rules = PolicyRules.load(smart.server.data_dir / "policy.toml")
            return device_step(db, device, rules.posture)[0]
    finally:
        store.close()


def test_the_server_rejects_at_read_only_and_the_write_stays_rejected_on_the_device(
    smart: Smart, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(device_posture, "disk_encryption", lambda home: True)
    ward, users = new_ward(smart, "nurse")
    phone = enroll_phone(smart, users[0][0], tmp_path / "home", ward.patient)
    node = phone.node
    assert node.posture_step()[0] == "none"
    first = phone.record("create", observation(ward.patient, 70))  # recorded while compliant
    monkeypatch.setattr(device_posture, "disk_encryption", lambda home: False)  # then not
    summary = phone.sync()
    assert summary.rejected == 1
    (entry,) = [e for e in node.outbox() if e.event["resource_id"] == first]
    assert entry.state == "rejected"
    assert "disk encryption is off" in str(entry.result.get("reason"))
    assert "read-only" in str(entry.result.get("reason"))
    # the device now applies the same step itself, with the reason in plain words
    assert step_on_server(smart, phone.device_id) == "read-only"
    node.lock()
    node.unlock(PIN)  # a new session: the device's own facts, checked again
    step, banner = node.posture_step()
    assert step == "read-only" and "disk encryption is off" in banner
    with pytest.raises(Refused, match="read-only until that is fixed"):
        node.record("create", observation(ward.patient, 71))


def test_the_steps_are_graduated_and_the_strictest_wins() -> None:
    rules = PolicyRules.default().posture
    assert assess({"disk_encryption": False}, rules) == ("warn", ["disk encryption is off"])
    assert assess({"debugger": True, "screen_lock": False}, rules)[0] == "no-new-documentation"
    assert assess({"disk_encryption": True, "screen_lock": True}, rules) == ("none", [])
    assert assess({}, rules) == ("none", [])  # unknown is "none" by default
