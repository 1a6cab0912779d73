"""A consent decision recorded offline on a device (the clinician app's home-visit screen,
bedside.device.app.consent) is applied by the server only at commit: a permit for the
patient's community team is accepted and enforced from then on; a decision that would widen
its writer's own access (ADR 0009: everyone, sensitive parts included) is rejected with a
plain sentence, and nothing about who may see the record changed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bedside.device.app.consent import build_consent
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, enroll_phone
from tests.integration._sync_world import new_ward, read


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, "sqlite") as s:
        yield s


@pytest.fixture(autouse=True)
def _homes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BEDSIDE_DEVICE_KEYSTORE", "file")
    yield
    while OPENED:
        OPENED.pop().lock()


def test_a_consent_from_a_home_visit_applies_at_commit_and_cannot_widen_its_writer(
    smart: Smart, tmp_path: Path
) -> None:
    ward, users = new_ward(smart, "doctor")
    community = smart.create(
        {
            "resourceType": "CareTeam",
            "status": "active",
            "name": "Community nursing team",
            "subject": {"reference": f"Patient/{ward.patient}"},
        }
    )
    phone = enroll_phone(smart, users[0][0], tmp_path / "a", ward.patient)
    now = phone.node.clock()
    shares = build_consent(ward.patient, "permit", f"CareTeam/{community}", False, now)
    widens = build_consent(ward.patient, "permit", None, True, now)
    kept = phone.record("create", shares)
    refused = phone.record("create", widens)
    assert read(smart, f"/Consent?patient={ward.patient}").get("total", 0) == 0  # not yet

    done = phone.sync()
    assert (done.confirmed, done.rejected) == (1, 1), done
    states = {e.resource_id: e for e in phone.node.outbox()}
    assert states[kept].state == "confirmed"
    assert states[refused].state == "rejected"
    assert "would share more of a patient's record with you" in (states[refused].reason or "")
    stored = read(smart, f"/Consent/{kept}")
    assert stored["provision"]["actor"][0]["reference"]["reference"] == f"CareTeam/{community}"
    assert smart.get(f"/Consent/{refused}", smart.operator_token).status_code == 404
