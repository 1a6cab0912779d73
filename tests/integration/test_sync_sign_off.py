"""Notes and sign-offs end to end (issue 19): real device homes (SQLCipher, enrolled through the
server's sign-in) and a real `bedside serve` on loopback.

A nurse's progress note, written as the app writes it (a draft, then recorded), is accepted by
the server at sync under the default policy. Two doctors then sign off the same note and the
same discharge summary on two devices while offline: after both sync, each document is signed
exactly once (by the doctor who synced first) and the other doctor's sign-off waits in the
doctors' review queue, never applied; the device of the second says "needs review". A nurse's
device refuses a sign-off before anything is queued, and the server refuses one pushed anyway
(G3).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bedside.device import Refused
from bedside.device.notes import note_resource, note_text, signed_off
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, Phone, enroll_phone, versions
from tests.integration._sync_world import enrol, new_ward, push, read, results, review_cli


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


def discharge_summary(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "Composition",
        "status": "preliminary",
        "type": {"coding": [{"system": "http://loinc.org", "code": "18842-5"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "date": "2026-12-03T10:00:00Z",
        "author": [{"display": "Ward 7 team"}],
        "title": "Discharge summary",
    }


def sign_off(phone: Phone, rtype: str, rid: str) -> None:
    current = phone.node.read(rtype, rid).resource
    signer = phone.node.practitioner()
    phone.record("update", signed_off(current, signer, at=phone.node.clock()))


def test_two_doctors_signing_the_same_documents_offline_end_with_one_sign_off_each(
    smart: Smart, tmp_path: Path
) -> None:
    ward, users = new_ward(smart, "nurse", "doctor", "doctor")
    patient = ward.patient
    summary = smart.create(discharge_summary(patient))
    nurse, first, second = (enroll_phone(smart, u[0], tmp_path / u[0], patient) for u in users)

    # the nurse writes a note as the app does: kept as a draft, then recorded (G1)
    node = nurse.node
    draft = node.save_draft(
        note_resource(
            patient, "Mobilising with a frame.", author=node.practitioner(), at=time.time()
        ),
        patient=patient,
    )
    note = node.record_draft(draft).id
    nurse.sync()
    assert nurse.states()[note] == "confirmed"  # the server accepts a nurse's note (policy)
    stored = read(smart, f"/DocumentReference/{note}")
    assert stored["docStatus"] == "preliminary" and note_text(stored) == "Mobilising with a frame."
    assert stored["author"] == [{"reference": f"Practitioner/{ward.practitioners[0]}"}]

    # a nurse is not offered, and cannot record, a sign-off
    assert not node.may("update", "DocumentReference") and node.may("create", "DocumentReference")
    with pytest.raises(Refused):
        sign_off(nurse, "DocumentReference", note)

    for doctor in (first, second):
        doctor.sync_until(lambda d=doctor: any(i.id == note for i in d.node.chart(patient)))
        assert doctor.node.may("update", "DocumentReference")
        # both offline: each signs both documents
        sign_off(doctor, "DocumentReference", note)
        sign_off(doctor, "Composition", summary)

    first.sync()
    second.sync()
    assert first.states()[note] == first.states()[summary] == "confirmed"
    assert second.states()[note] == second.states()[summary] == "needs-review"

    signed_note = read(smart, f"/DocumentReference/{note}")
    assert signed_note["docStatus"] == "final"
    assert signed_note["authenticator"] == {"reference": f"Practitioner/{ward.practitioners[1]}"}
    signed_summary = read(smart, f"/Composition/{summary}")
    assert signed_summary["status"] == "final"
    assert [a["party"] for a in signed_summary["attester"]] == [
        {"reference": f"Practitioner/{ward.practitioners[1]}"}
    ]
    assert versions(smart, "DocumentReference", [note]) == 2  # created, signed: never twice
    assert versions(smart, "Composition", [summary]) == 2

    listed = json.loads(review_cli(smart, "list", "--role", "doctor", "--json"))["items"]
    wanted = {f"DocumentReference/{note}", f"Composition/{summary}"}
    mine = [i for i in listed if i.get("resource") in wanted]
    assert len(mine) == 2, listed
    assert {i.get("device") for i in mine} == {second.device_id}

    # G3: a nurse's sign-off pushed anyway (a registered device of hers) is refused at commit
    device = enrol(smart, users[0])
    body = {k: v for k, v in stored.items() if k != "meta"}
    attempt = device.event("update", {**body, "docStatus": "final"}, base="1", patient=patient)
    (result,) = results(push(smart, device, [attempt]))
    assert result["state"] == "rejected", result
    assert versions(smart, "DocumentReference", [note]) == 2
