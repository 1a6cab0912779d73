"""`bedside support device|user` against a real server's data after real pushes: the event
lifecycle by seq and idempotency key, review items, grants and the last health report,
PHI-free by default; `--reason` shows patient ids and is audited with them (docs/support.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BACKENDS
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_world import (
    SyncDevice,
    enrol,
    new_id,
    new_ward,
    observation,
    push,
    read,
    results,
    sql,
)


@pytest.fixture(scope="module", params=BACKENDS)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, str(request.param)) as s:
        yield s


def support(smart: Smart, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "bedside",
            "support",
            *args,
            "--data-dir",
            str(smart.server.data_dir),
            "--database",
            smart.database,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "250", "NO_COLOR": "1"},
    )


def as_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert proc.returncode == 0, proc.stderr
    found: dict[str, Any] = json.loads(proc.stdout)
    return found


@pytest.fixture(scope="module")
def world(smart: Smart) -> tuple[str, SyncDevice, list[dict[str, Any]]]:
    """A device that pushed: a confirmed observation, a conflict, a rejection."""
    ward, users = new_ward(smart, "doctor", "doctor")
    a, b = (enrol(smart, u) for u in users)
    seen = {k: v for k, v in read(smart, f"/Patient/{ward.patient}").items() if k != "meta"}
    phone = {**seen, "telecom": [{"system": "phone", "value": "0100"}]}
    (first,) = results(push(smart, a, [a.event("update", phone, base="1")]))
    assert first["state"] == "confirmed"
    sent = [
        b.event("create", observation(ward.patient), patient=ward.patient),
        b.event("update", {**seen, "telecom": [{"system": "phone", "value": "0199"}]}, base="1"),
        b.event("create", {"resourceType": "Organization", "id": new_id(), "name": "Ward 7"}),
    ]
    out = results(push(smart, b, sent))
    assert [r["state"] for r in out] == ["confirmed", "needs-review", "rejected"]
    return ward.patient, b, sent


def support_entries(smart: Smart) -> list[dict[str, Any]]:
    rows = sql(smart, "SELECT content FROM audit_log ORDER BY n")
    events = [json.loads(bytes(c)) for (c,) in rows]
    return [e for e in events if e["subtype"][0]["code"] == "support-read"]


def test_a_device_is_shown_without_patient_detail_by_default(
    smart: Smart, world: tuple[str, SyncDevice, list[dict[str, Any]]]
) -> None:
    patient, device, sent = world
    report = as_json(support(smart, "device", device.device_id, "--json"))
    events = {e["seq"]: e for e in report["events"]}
    assert events[1]["lifecycle"] == ["received", "applied"]
    assert events[1]["idempotency_key"] == sent[0]["idempotency_key"]
    assert events[2]["lifecycle"] == ["received", "sent to review (conflict)"]
    assert events[3]["lifecycle"] == ["received", "rejected (read-only-type)"]
    (item,) = report["review_items"]
    assert item["state"] == "open" and item["fields"] == ["telecom"] and "patient" not in item
    assert report["device"]["status"] == "active"
    assert [g["state"] for g in report["grants"]] == ["live"]
    assert report["last_push"]["at"]
    text = support(smart, "device", device.device_id)
    assert text.returncode == 0, text.stderr
    assert "sent to review (conflict)" in text.stdout
    for shown in (json.dumps(report), text.stdout):
        assert patient not in shown and "Synced" not in shown and "0199" not in shown
    before = len(support_entries(smart))
    assert before >= 2 and all(not e.get("entity") for e in support_entries(smart))


def test_a_reason_shows_patient_ids_and_is_audited_with_them(
    smart: Smart, world: tuple[str, SyncDevice, list[dict[str, Any]]]
) -> None:
    patient, device, _ = world
    refused = support(smart, "device", device.device_id, "--reason", "why")
    assert refused.returncode == 1 and "--reason must say why" in refused.stderr
    reason = "Ward 7 asked why an edit is stuck"
    report = as_json(support(smart, "device", device.device_id, "--reason", reason, "--json"))
    (item,) = report["review_items"]
    assert item["patient"] == patient and item["resource"] == f"Patient/{patient}"
    last = support_entries(smart)[-1]
    assert [e["what"]["reference"] for e in last["entity"] if "what" in e] == [f"Patient/{patient}"]
    assert "patient detail" in last["outcomeDesc"] and reason not in last["outcomeDesc"]


def test_a_user_shows_every_grant_and_device_and_an_unknown_one_a_sentence(
    smart: Smart, world: tuple[str, SyncDevice, list[dict[str, Any]]]
) -> None:
    _, device, _ = world
    report = as_json(support(smart, "user", device.username, "--json"))
    assert report["user"]["username"] == device.username and report["user"]["role"] == "doctor"
    assert [d["device_id"] for d in report["devices"]] == [device.device_id]
    assert {g["state"] for g in report["grants"]} >= {"live"}
    assert all(len(g["grant"]) == 8 for g in report["grants"])
    missing = support(smart, "device", "no-such-device")
    assert missing.returncode == 1 and "No device no-such-device is registered." in missing.stderr
