"""Medication administration and escalation from the app, synced to a real `bedside serve`
(issue 19): a dose given and then marked entered in error, the right dose, and a concern
about a NEWS2 land on the server exactly once, each version with its Provenance naming the
device; the default policy lets a nurse and a doctor write MedicationAdministration and
Communication at sync, and keeps MedicationRequest read-only for nurses, on the device and on
the server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from bedside.clinical import administration as rules
from bedside.device.app import Gate, build_app
from bedside.device.app.pages import Pages
from bedside.device.app.syncer import Syncer
from bedside.device.errors import Refused
from tests.integration._app_world import COMPLETE
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, Phone, enroll_phone
from tests.integration._sync_world import enrol, new_id, new_ward, push, results

PORT = 8124


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


class App:
    """The clinician app in-process over an enrolled phone's node."""

    def __init__(self, phone: Phone, home: Path) -> None:
        self.gate = Gate(PORT)
        pages = Pages(phone.node, self.gate, Syncer(phone.node), home)
        self.client = TestClient(build_app(pages), base_url=f"http://127.0.0.1:{PORT}")
        self.client.get(self.gate.launch_url().split(str(PORT), 1)[1], follow_redirects=False)

    def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        answer = self.client.post(
            path, data={"csrf": self.gate.csrf, **data}, follow_redirects=False
        )
        assert answer.status_code == 303, answer.text
        return answer


def order(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "Clarithromycin 500 mg tablets"},
        "dosageInstruction": [
            {
                "text": "500 mg twice a day",
                "timing": {"repeat": {"frequency": 2, "period": 1, "periodUnit": "d"}},
                "route": {"text": "Oral"},
                "doseAndRate": [{"doseQuantity": {"value": 500, "unit": "mg"}}],
            }
        ],
        "subject": {"reference": f"Patient/{patient}"},
    }


def provenance_count(smart: Smart, rtype: str, rid: str, device: str) -> int:
    found = smart.get("/Provenance", smart.operator_token, target=f"{rtype}/{rid}").json()
    entries = [e["resource"] for e in found.get("entry", [])]
    assert all({"reference": f"Device/{device}"} in [a["who"] for a in p["agent"]] for p in entries)
    return len(entries)


def test_a_dose_its_correction_the_right_dose_and_a_concern_land_once_with_provenance(
    smart: Smart, tmp_path: Path
) -> None:
    ward, users = new_ward(smart, "nurse")
    pid = ward.patient
    rx = smart.create(order(pid))
    home = tmp_path / "nurse"
    phone = enroll_phone(smart, users[0][0], home, pid)
    phone.sync_until(lambda: any(i.id == rx for i in phone.node.chart(pid, "MedicationRequest")))
    app = App(phone, home)
    give = {"patient": pid, "outcome": "given", "dose": "500 mg", "route": "Oral"}
    app.post(f"/patients/{pid}/meds/{rx}", {**give, "time": "08:00"})
    (wrong,) = [i.resource for i in phone.node.chart(pid, "MedicationAdministration")]
    app.post(
        f"/patients/{pid}/meds/given/{wrong['id']}/error", {"patient": pid, "reason": "wrong time"}
    )
    app.post(f"/patients/{pid}/meds/{rx}", {**give, "time": "08:30"})  # not a duplicate now
    app.post(f"/patients/{pid}/observe", {**COMPLETE, "patient": pid, "draft": ""})
    total = next(
        i.id for i in phone.node.chart(pid, "Observation") if i.resource.get("valueInteger") == 6
    )
    app.post(f"/patients/{pid}/escalate", {"patient": pid, "news2": total, "message": "Febrile"})
    assert {e.state for e in phone.node.outbox()} == {"pending"}

    first = phone.sync()
    second = phone.sync()  # nothing more to send: exactly once
    assert first.rejected == 0 and first.needs_review == 0, first
    assert second.sent == 0
    assert {e.state for e in phone.node.outbox()} == {"confirmed"}

    token = smart.operator_token
    stored = smart.get("/MedicationAdministration", token, patient=pid).json()
    doses = {e["resource"]["id"]: e["resource"] for e in stored.get("entry", [])}
    assert len(doses) == 2 and wrong["id"] in doses
    assert doses[wrong["id"]]["status"] == "entered-in-error"
    assert doses[wrong["id"]]["meta"]["versionId"] == "2"
    (right,) = [d for d in doses.values() if d["id"] != wrong["id"]]
    assert right["status"] == "completed"
    assert right["request"] == {"reference": f"MedicationRequest/{rx}"}
    assert right["performer"] == [{"actor": {"reference": f"Practitioner/{users[0][2]}"}}]
    assert right["dosage"]["dose"] == {"value": 500, "unit": "mg"}
    history = smart.get(f"/MedicationAdministration/{wrong['id']}/_history", token).json()
    assert [e["resource"]["status"] for e in history["entry"]] == ["entered-in-error", "completed"]
    device = phone.device_id
    assert provenance_count(smart, "MedicationAdministration", wrong["id"], device) == 2
    assert provenance_count(smart, "MedicationAdministration", right["id"], device) == 1
    concerns = smart.get("/Communication", token, subject=f"Patient/{pid}").json()
    (concern,) = [e["resource"] for e in concerns.get("entry", [])]
    assert concern["reasonReference"] == [{"reference": f"Observation/{total}"}]
    assert concern["recipient"][0]["reference"] == f"CareTeam/{ward.care_team}"
    assert concern["priority"] == "urgent"
    assert provenance_count(smart, "Communication", concern["id"], device) == 1


def test_the_default_policy_at_sync_nurse_and_doctor_write_doses_and_concerns_not_orders(
    smart: Smart, tmp_path: Path
) -> None:
    ward, users = new_ward(smart, "nurse", "doctor")
    pid = ward.patient
    rx = smart.create(order(pid))
    request = order(pid) | {"id": rx}
    for user in users:
        device = enrol(smart, user)
        dose = rules.build(
            request_id=rx,
            request=request,
            patient=pid,
            outcome="given",
            effective="2026-12-04T08:00:00Z",
            dose="500 mg",
            route="Oral",
            performer=f"Practitioner/{user[2]}",
        ) | {"id": new_id()}
        concern = {
            "resourceType": "Communication",
            "id": new_id(),
            "status": "completed",
            "subject": {"reference": f"Patient/{pid}"},
            "payload": [{"contentString": "Worried"}],
        }
        new_order = order(pid) | {"id": new_id()}
        events = [
            device.event("create", dose, patient=pid),
            device.event("create", concern, patient=pid),
            device.event("create", new_order, patient=pid),
        ]
        out = [(r["state"], r.get("code")) for r in results(push(smart, device, events))]
        if user[0].startswith("nurse"):
            assert out == [("confirmed", None), ("confirmed", None), ("rejected", "not-permitted")]
        else:
            assert out == [("confirmed", None)] * 3

    nurse = enroll_phone(smart, users[0][0], tmp_path / "nurse", pid)
    nurse.sync_until(lambda: any(i.id == rx for i in nurse.node.chart(pid, "MedicationRequest")))
    with pytest.raises(Refused):  # the device refuses before anything is queued
        nurse.record("create", order(pid))
    with pytest.raises(Refused):
        nurse.edit("MedicationRequest", rx, status="stopped")
