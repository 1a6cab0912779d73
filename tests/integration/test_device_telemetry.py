"""Device telemetry over real HTTP with a real SQLCipher device home: each sync ends with a
PHI-free health report the server keeps as the device's latest, ``bedside device status``
shows the same figures, the metrics aggregate them, and a malformed or foreign report is
refused with a sentence and audited (docs/sync-protocol.md "Telemetry")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bedside.device.sync import report_health
from tests.conftest import BACKENDS
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, Phone, device_cli, enroll_phone, observation
from tests.integration._sync_world import audit_codes, new_ward, sql
from tests.integration.test_device_cli import PIN
from tests.integration.test_metrics import metrics_token, scrape


@pytest.fixture(scope="module", params=BACKENDS)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, str(request.param)) as s:
        yield s


@pytest.fixture(autouse=True)
def _lock_nodes() -> Iterator[None]:
    yield
    while OPENED:
        OPENED.pop().lock()


def kept(smart: Smart, device_id: str) -> dict[str, Any]:
    rows = sql(smart, "SELECT report FROM device_telemetry WHERE device_id = ?", device_id)
    assert len(rows) == 1
    found: dict[str, Any] = json.loads(rows[0][0])
    return found


def phone_for(smart: Smart, tmp_path: Path) -> Phone:
    ward, users = new_ward(smart, "nurse")
    return enroll_phone(smart, users[0][0], tmp_path / "home", ward.patient)


def test_each_sync_reports_the_devices_health_without_phi(smart: Smart, tmp_path: Path) -> None:
    phone = phone_for(smart, tmp_path)
    after_enrol = kept(smart, phone.device_id)
    assert after_enrol["outbox"]["pending"] == 0 and after_enrol["cache_age_s"] is not None
    phone.record("create", observation(phone.patient, 71))
    phone.record("create", observation(phone.patient, 72))
    unsent = phone.node.status()
    assert unsent.outbox and unsent.outbox["pending"] == 2
    with phone.remote() as remote:  # a report sent before the sync: two not yet received
        assert report_health(phone.node, remote, phone.token(remote))
    before = kept(smart, phone.device_id)
    assert before["outbox"]["pending"] == 2
    assert before["oldest_pending_age_s"] is not None and before["oldest_pending_age_s"] >= 0
    assert before["app_version"] and before["store_bytes"] > 0
    assert set(before["posture"]) == {"os", "disk_encryption", "screen_lock", "debugger", "root"}
    assert unsent.snapshot_expires is not None
    assert before["snapshot_expires_at"] == int(unsent.snapshot_expires)

    summary = phone.sync()
    assert summary.confirmed == 2
    report = kept(smart, phone.device_id)
    assert report["outbox"]["pending"] == 0 and report["outbox"]["confirmed"] >= 2
    assert report["oldest_pending_age_s"] is None
    assert report["last_error_codes"] == []
    text = json.dumps(report)
    for secret in (phone.patient, phone.username, "Synced", "Heart rate"):
        assert secret not in text
    assert ("device-telemetry", "0") in audit_codes(smart, phone.device_id)
    # the day's figures the console charts over time: the push and pull it just made, and the
    # backlog devices reported (two waiting before the sync), aggregated with no device named
    figures = {
        str(f): (int(n), int(peak))
        for f, n, peak in sql(smart, "SELECT figure, samples, peak FROM daily_figures")
    }
    assert figures["push-ms"][0] >= 1 and figures["push-ms"][1] > 0
    assert figures["pull-ms"][0] >= 1
    assert figures["unsent"][1] >= 2

    # the device shows the same figures locally
    out = device_cli("status", "--home", str(phone.node.home), "--pin-stdin", "--json", stdin=PIN)
    phone.node.unlock(PIN)  # the CLI's unlock locked this process's node out of date
    assert out.returncode == 0, out.stderr
    local = json.loads(out.stdout)
    assert local["outbox"] == report["outbox"]
    assert local["last_error_codes"] == report["last_error_codes"]
    assert local["store_bytes"] > 0 and local["cache_age_s"] is not None


def test_metrics_sum_what_devices_reported_and_name_none(smart: Smart, tmp_path: Path) -> None:
    token = metrics_token(smart)
    phone = phone_for(smart, tmp_path)
    phone.record("create", observation(phone.patient, 80))
    before, _ = scrape(smart, token)
    with phone.remote() as remote:
        assert report_health(phone.node, remote, phone.token(remote))
    after, text = scrape(smart, token)
    pending = ("bedside_device_outbox_events", (("state", "pending"),))
    assert after[pending] - before[pending] == 1
    assert after[("bedside_device_oldest_pending_age_seconds", ())] >= 0
    assert phone.device_id not in text and phone.username not in text


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"protocol": 1, "outbox": {"pending": -1}, "app_version": "1"}, "outbox.pending"),
        ({"protocol": 1, "outbox": {"lost": 1}, "app_version": "1"}, "outbox must map"),
        (
            {"protocol": 1, "outbox": {}, "app_version": "1", "last_error_codes": ["Ms Smith"]},
            "last_error_codes",
        ),
        ({"protocol": 1, "outbox": {}, "app_version": "1", "patient": "p1"}, "Unknown"),
        ({"protocol": 2, "outbox": {}, "app_version": "1"}, "protocol 1"),
        ([1, 2], "JSON object"),
    ],
)
def test_a_malformed_report_is_refused_with_a_sentence_and_nothing_kept(
    smart: Smart, tmp_path: Path, body: Any, words: str
) -> None:
    phone = phone_for(smart, tmp_path)
    good = kept(smart, phone.device_id)
    with phone.remote() as remote:
        token = phone.token(remote)
    r = httpx.post(
        f"{smart.root}/device/telemetry",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert r.status_code == 400, r.text
    assert words in r.json()["issue"][0]["diagnostics"]
    assert r.headers["cache-control"] == "no-store"
    assert kept(smart, phone.device_id) == good
    assert ("device-telemetry", "4") in audit_codes(smart, phone.device_id)


def test_only_a_registered_devices_token_may_report(smart: Smart) -> None:
    body = {"protocol": 1, "outbox": {}, "app_version": "1"}
    url = f"{smart.root}/device/telemetry"
    assert httpx.post(url, json=body, timeout=30).status_code == 401
    r = httpx.post(
        url, json=body, headers={"Authorization": f"Bearer {smart.operator_token}"}, timeout=30
    )
    assert r.status_code == 403, r.text
