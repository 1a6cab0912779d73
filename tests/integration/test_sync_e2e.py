"""Sync end to end (issue 6, "Done when"): real device homes (SQLCipher, enrolled through the
server's sign-in) syncing through `bedside.device.sync` and `bedside device sync` against a
real `bedside serve` on each backend. Every effect is read back from the server (FHIR API,
review queue, database, audit log) and from the device (its outbox, chart and patient list)."""

from __future__ import annotations

import copy
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bedside.device import DeviceError
from bedside.device.sync import sync
from bedside.protocol.event import parse, sign
from tests.conftest import BACKENDS
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import (
    OPENED,
    LostAnswer,
    Phone,
    audit_intact,
    change,
    committed,
    count,
    device_cli,
    enroll_phone,
    gone,
    observation,
    push_raw,
    restart,
    settled,
    table,
    versions,
)
from tests.integration._sync_world import api, audit_codes, new_ward, read
from tests.integration.test_device_cli import PIN
from tests.integration.test_sync_pull import ACT_CODE
from tests.integration.test_sync_pull import consent as share_hiv

EVENTS = 600  # more than one push batch (500)
HIV = {"system": ACT_CODE, "code": "HIV"}


@pytest.fixture(scope="module", params=BACKENDS)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, str(request.param)) as s:
        yield s


@pytest.fixture(autouse=True)
def _homes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BEDSIDE_DEVICE_KEYSTORE", "file")  # no OS key store in CI
    yield
    while OPENED:
        OPENED.pop().lock()


def team(smart: Smart, tmp_path: Path, *roles: str) -> tuple[str, list[Phone]]:
    ward, users = new_ward(smart, *roles)
    phones = [
        enroll_phone(smart, username, tmp_path / f"home-{i}", ward.patient)
        for i, (username, _, _) in enumerate(users)
    ]
    return ward.patient, phones


def plan(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "CarePlan",
        "status": "active",
        "intent": "plan",
        "title": "Pressure care",
        "subject": {"reference": f"Patient/{patient}"},
    }


def order(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "Amoxicillin 500 mg"},
        "subject": {"reference": f"Patient/{patient}"},
    }


# --- 1. two clinicians offline on one patient: conflicts by clinical risk --------------------


def test_two_offline_doctors_sync_appends_merges_and_clashes_by_class(
    smart: Smart, tmp_path: Path
) -> None:
    ward, users = new_ward(smart, "doctor", "doctor")
    patient = ward.patient
    plan_id, order_id = smart.create(plan(patient)), smart.create(order(patient))
    a, b = (enroll_phone(smart, u[0], tmp_path / u[0], patient) for u in users)
    assert {"Patient", "CarePlan", "MedicationRequest"} <= {i.type for i in b.node.chart(patient)}

    # both offline: each records a pulse and edits the same three records
    pulses = [
        a.record("create", observation(patient, 71)),
        b.record("create", observation(patient, 94)),
    ]
    a.edit("Patient", patient, telecom=[{"system": "phone", "value": "0113 496 0000"}])
    b.edit("Patient", patient, address=[{"line": ["1 Park Row"], "city": "Leeds"}])
    a.edit("CarePlan", plan_id, title="Turn two-hourly")
    b.edit("CarePlan", plan_id, title="Turn four-hourly")
    a.edit("MedicationRequest", order_id, status="stopped")
    b.edit("MedicationRequest", order_id, dosageInstruction=[{"text": "1 tablet tds"}])

    first = a.sync()
    assert (first.sent, first.confirmed, first.needs_review, first.rejected) == (4, 4, 0, 0)

    def b_has_both() -> bool:  # both pulses, and the merged Patient
        observed = {i.id for i in b.node.chart(patient, "Observation")}
        return set(pulses) <= observed and {"telecom", "address"} <= set(
            b.node.read("Patient", patient).resource
        )

    second = b.sync_until(b_has_both)
    assert (second.sent, second.confirmed, second.merged) == (4, 1, 1)
    assert (second.needs_review, second.rejected) == (2, 0)
    # append-only: both pulses kept, on the server once each, and on device B
    assert versions(smart, "Observation", pulses) == 2
    # mergeable, different fields: merged on the server, and the merge reached device B
    merged = read(smart, f"/Patient/{patient}")
    assert (
        merged["telecom"][0]["value"] == "0113 496 0000" and merged["address"][0]["city"] == "Leeds"
    )
    local = b.node.read("Patient", patient)
    assert local.local_state == "synced" and local.server_version == merged["meta"]["versionId"]
    assert local.resource["telecom"] == merged["telecom"]
    # same field / exclusive: to review, never silently replaced on either side
    assert read(smart, f"/CarePlan/{plan_id}")["title"] == "Turn two-hourly"
    assert read(smart, f"/MedicationRequest/{order_id}")["status"] == "stopped"
    states = b.states()
    assert states[plan_id] == states[order_id] == "needs-review"
    assert b.node.read("CarePlan", plan_id).resource["title"] == "Turn four-hourly"
    reviews = {e.resource_id: e.result or {} for e in b.node.outbox() if e.state == "needs-review"}
    assert "title" in reviews[plan_id]["reason"]
    assert "changed on the server" in reviews[order_id]["reason"]

    with b.remote() as remote, api(smart, b.token(remote)) as c:
        queue = c.get("/review", params={"role": "doctor"}).json()["items"]
        assert {reviews[plan_id]["review"], reviews[order_id]["review"]} <= {i["id"] for i in queue}
        item = c.get(f"/review/{reviews[plan_id]['review']}").json()
        assert item["fields"] == ["title"]
        kept = c.post(f"/review/{reviews[plan_id]['review']}/resolve", json={"keep": "device"})
        lost = c.post(f"/review/{reviews[order_id]['review']}/resolve", json={"keep": "server"})
    assert kept.status_code == lost.status_code == 200, kept.text + lost.text
    assert read(smart, f"/CarePlan/{plan_id}")["title"] == "Turn four-hourly"
    now_plan = kept.json()["resolution"]["version"]
    now_order = read(smart, f"/MedicationRequest/{order_id}")

    # the outcomes reach device B with its next pull and settle its outbox items
    after = b.sync_until(lambda: b.node.read("MedicationRequest", order_id).server_version != "1")
    assert (after.sent, after.reviews_settled) == (0, 2)
    states = b.states()
    assert (states[plan_id], states[order_id]) == ("confirmed", "rejected")
    held = b.node.read("CarePlan", plan_id)
    assert (held.server_version, held.local_state) == (now_plan, "synced")
    assert held.resource["title"] == "Turn four-hourly"
    # the order the reviewer kept from the server replaces B's rejected edit on the device
    mine = b.node.read("MedicationRequest", order_id)
    assert mine.server_version == now_order["meta"]["versionId"]
    assert mine.resource["status"] == "stopped" and "dosageInstruction" not in mine.resource


def test_a_pull_never_takes_a_record_back_behind_the_version_the_push_confirmed(
    smart: Smart, tmp_path: Path
) -> None:
    if smart.backend != "postgresql":
        pytest.skip("SQLite has one writer: its pull horizon never lags behind a commit")
    import psycopg

    ward, users = new_ward(smart, "doctor", "doctor")
    a, b = (enroll_phone(smart, u[0], tmp_path / u[0], ward.patient) for u in users)
    a.edit("Patient", ward.patient, telecom=[{"system": "phone", "value": "0100"}])
    b.edit("Patient", ward.patient, address=[{"city": "Leeds"}])
    assert a.sync().confirmed == 1  # v2
    with psycopg.connect(smart.database) as held:  # an open transaction holds the horizon
        held.execute("SELECT pg_current_xact_id()")
        pushed = b.sync()  # merged: v3, beyond the horizon; the pull still sends v2
        local = b.node.read("Patient", ward.patient)
        held.rollback()
    assert pushed.merged == 1
    assert local.server_version == "3" and local.resource["address"] == [{"city": "Leeds"}]


# --- 2. a lost answer: the server committed, the device never heard --------------------------


def test_a_lost_answer_is_sent_again_and_nothing_is_doubled(smart: Smart, tmp_path: Path) -> None:
    patient, (phone,) = team(smart, tmp_path, "nurse")
    ids = [phone.record("create", observation(patient, 60 + i)) for i in range(5)]
    cut = LostAnswer("/sync/push")
    with pytest.raises(DeviceError, match="cannot be reached"):
        phone.sync(cut)
    assert cut.dropped == [200]  # the server answered: every result in it was committed
    assert count(smart, "Observation", patient) == 5 == settled(smart, phone.device_id)
    assert {e.state for e in phone.node.outbox()} == {"pending"}  # the device never heard

    again = phone.sync()
    assert (again.sent, again.confirmed, again.rejected) == (5, 5, 0)
    assert count(smart, "Observation", patient) == 5 == versions(smart, "Observation", ids)
    assert settled(smart, phone.device_id) == 5
    creates = [c for c in audit_codes(smart, phone.device_id) if c == ("create", "0")]
    assert len(creates) == 5
    assert [(e.state, e.result and e.result["version"]) for e in phone.node.outbox()] == [
        ("confirmed", "1")
    ] * 5
    assert {phone.node.read("Observation", i).local_state for i in ids} == {"synced"}


# --- 3. the server killed mid-push -------------------------------------------------------------


def test_a_server_killed_in_the_middle_of_a_large_push_loses_and_doubles_nothing(
    smart: Smart, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with smart_server(tmp_path_factory, smart.backend) as own:  # this test kills its server
        patient, (phone,) = team(own, tmp_path, "nurse")
        ids = [phone.record("create", observation(patient, 40 + i % 100)) for i in range(EVENTS)]
        failures: list[BaseException] = []

        def sync() -> None:
            try:
                phone.sync()
            except BaseException as exc:
                failures.append(exc)

        pushing = threading.Thread(target=sync)
        pushing.start()
        deadline = time.monotonic() + 120
        while settled(own, phone.device_id) < 50:
            assert time.monotonic() < deadline and pushing.is_alive(), failures
            time.sleep(0.02)
        own.server.process.kill()  # SIGKILL: no shutdown, transactions cut where they stand
        own.server.process.wait(timeout=10)
        pushing.join(timeout=120)
        assert not pushing.is_alive()
        assert len(failures) == 1 and isinstance(failures[0], DeviceError)
        assert "cannot be reached" in str(failures[0])
        cut_at, written = committed(own, phone.device_id, ids)
        assert 50 <= cut_at < EVENTS, "the kill was not in the middle of the push"
        assert written == cut_at  # each event committed whole, or not at all
        states = {e.state for e in phone.node.outbox()}
        assert states <= {"pending", "confirmed"} and "pending" in states

        restart(own)
        phone.sync()
        assert {e.state for e in phone.node.outbox()} == {"confirmed"}
        assert count(own, "Observation", patient) == EVENTS == versions(own, "Observation", ids)
        assert settled(own, phone.device_id) == EVENTS
        creates = [c for c in audit_codes(own, phone.device_id) if c == ("create", "0")]
        assert len(creates) == EVENTS
        assert audit_intact(own)


# --- 4. access ends: the device purges the patient ------------------------------------------


def test_a_patient_whose_care_team_ended_is_purged_from_the_device(
    smart: Smart, tmp_path: Path
) -> None:
    ward, users = new_ward(smart, "nurse")
    seen = smart.create_observation(ward.patient, "vital-signs")
    phone = enroll_phone(smart, users[0][0], tmp_path / "home", ward.patient)
    assert seen in {i.id for i in phone.node.chart(ward.patient)}

    change(smart, f"/CareTeam/{ward.care_team}", status="inactive")
    summary = phone.sync_until(lambda: gone(phone, "Observation", seen))
    assert summary.snapshot and summary.purged == 1  # the narrower snapshot and the purge order
    assert gone(phone, "Patient", ward.patient)
    assert ward.patient not in {p.id for p in phone.node.patients()}
    with pytest.raises(DeviceError, match="not among your patients"):
        phone.node.chart(ward.patient)


def test_a_revoked_consent_purges_what_it_shared_and_keeps_the_rest(
    smart: Smart, tmp_path: Path
) -> None:
    ward, users = new_ward(smart, "nurse")
    plain = smart.create_observation(ward.patient, "vital-signs")
    secret = smart.create({**observation(ward.patient, 88), "meta": {"security": [HIV]}})
    phone = enroll_phone(smart, users[0][0], tmp_path / "home", ward.patient)
    assert gone(phone, "Observation", secret)  # sensitive: not shared with the care team

    consent = smart.create(share_hiv(ward.patient, f"Practitioner/{ward.practitioners[0]}"))
    phone.sync_until(lambda: not gone(phone, "Observation", secret))
    change(smart, f"/Consent/{consent}", status="inactive")
    phone.sync_until(lambda: gone(phone, "Observation", secret))
    assert not gone(phone, "Observation", plain)  # still hers through the care team
    assert ward.patient in {p.id for p in phone.node.patients()}


# --- 5. replayed, tampered, forged and revoked-device events ----------------------------------


def test_replayed_tampered_forged_and_revoked_device_events_are_refused_and_audited(
    smart: Smart, tmp_path: Path
) -> None:
    patient, (phone,) = team(smart, tmp_path, "nurse")
    first = phone.record("create", observation(patient, 70))
    assert phone.sync().confirmed == 1
    (sent,) = phone.node.outbox()
    assert sent.result is not None
    original = sent.event
    tampered = copy.deepcopy(original)
    tampered["resource"]["valueQuantity"]["value"] = 180.0  # after signing
    body = parse({k: v for k, v in original.items() if k != "sig"})
    stolen = str(uuid.uuid4())
    forged = sign(  # a new event in the device's name, signed by a key the server never saw
        replace(
            body,
            seq=body.seq + 1,
            idempotency_key=secrets.token_urlsafe(24),
            resource_id=stolen,
            resource={**body.resource, "id": stolen},
        ),
        Ed25519PrivateKey.generate(),
    )
    with phone.remote() as remote:
        token = phone.token(remote)
        out = push_raw(remote, token, [original, tampered, forged])
        assert [(r["state"], r.get("code")) for r in out] == [
            ("confirmed", None),
            ("rejected", "bad-signature"),
            ("rejected", "bad-signature"),
        ]
        assert {k: out[0][k] for k in ("id", "version")} == {
            k: sent.result[k] for k in ("id", "version")
        }  # the replay gets its first answer
        assert versions(smart, "Observation", [first, stolen]) == 1  # and writes nothing
        assert audit_codes(smart, phone.device_id).count(("sync-reject", "8")) == 2

        # the forged seq took no slot: the device's own next event (seq 2 too) is confirmed
        real = phone.record("create", observation(patient, 72))
        assert sync(phone.node, remote, token).confirmed == 1
        assert [e.seq for e in phone.node.outbox()] == [1, 2] and not gone(
            phone, "Observation", real
        )

        # revoked while offline: its queued event is refused with the device's status
        late = phone.record("create", observation(patient, 75))
        smart.admin("device", "revoke", phone.device_id)
        with pytest.raises(DeviceError, match="An administrator revoked this device"):
            sync(phone.node, remote, token)
    assert [e.state for e in phone.node.outbox()] == ["confirmed", "confirmed", "pending"]
    assert smart.get(f"/Observation/{late}", smart.operator_token).status_code == 404
    assert ("sync-reject", "4") in audit_codes(smart, phone.device_id)


def test_a_device_flagged_for_wipe_wipes_itself_at_sync(smart: Smart, tmp_path: Path) -> None:
    patient, (phone,) = team(smart, tmp_path, "nurse")
    phone.record("create", observation(patient, 70))
    with phone.remote() as remote:
        token = phone.token(remote)
        smart.admin("device", "wipe", phone.device_id)
        with pytest.raises(DeviceError, match="data and keys have been erased"):
            sync(phone.node, remote, token)
    assert not (phone.node.home / "device.json").exists()
    assert not (phone.node.home / "store.db").exists()


# --- 6. a policy change while offline ----------------------------------------------------------


def test_actions_queued_for_a_patient_she_was_taken_off_are_rejected_the_rest_confirm(
    smart: Smart, tmp_path: Path
) -> None:
    ward, users = new_ward(smart, "nurse", "doctor")
    nurse, doctor = ward.practitioners
    other = smart.create_patient("Second")
    smart.create(
        {
            "resourceType": "CareTeam",
            "status": "active",
            "subject": {"reference": f"Patient/{other}"},
            "participant": [{"member": {"reference": f"Practitioner/{nurse}"}}],
        }
    )
    phone = enroll_phone(smart, users[0][0], tmp_path / "home", ward.patient)
    phone.sync_until(lambda: not gone(phone, "Patient", other))

    queued = [
        phone.record("create", observation(ward.patient, 80)),
        phone.record("create", observation(other, 81), other),
        phone.record("create", observation(ward.patient, 82)),
    ]
    member = {"member": {"reference": f"Practitioner/{doctor}"}}
    change(smart, f"/CareTeam/{ward.care_team}", participant=[member])  # she is off the team

    summary = phone.sync_until(lambda: gone(phone, "Patient", ward.patient))
    assert (summary.sent, summary.confirmed, summary.rejected) == (3, 1, 2)
    assert summary.reasons == [summary.reasons[0]] * 2
    assert "no longer have access to this patient's record" in summary.reasons[0]
    found = [smart.get(f"/Observation/{i}", smart.operator_token).status_code for i in queued]
    assert found == [404, 200, 404]
    codes = audit_codes(smart, phone.device_id)
    assert codes.count(("sync-reject", "4")) == 2 and ("create", "0") in codes
    # the device settled all three, then purged the patient she lost (settled events go with
    # it, the newest row stays: docs/device-offline.md); the other patient's record stays
    left = {e.resource_id: e.state for e in phone.node.outbox()}
    assert left[queued[1]] == "confirmed" and "pending" not in left.values()
    assert not gone(phone, "Observation", queued[1])


# --- the command line --------------------------------------------------------------------------


def test_bedside_device_sync_prints_the_counts_and_exits_0(smart: Smart, tmp_path: Path) -> None:
    patient, (phone,) = team(smart, tmp_path, "nurse")
    mine = [phone.record("create", observation(patient, 60 + i)) for i in range(2)]
    theirs = smart.create_observation(patient, "vital-signs")
    phone.node.lock()
    home = ("--home", str(phone.node.home))

    done = device_cli("sync", *home, "--pin-stdin", stdin=PIN + "\n")
    assert done.returncode == 0, done.stderr
    rows = table(done.stdout)
    assert (rows["sent"], rows["confirmed"], rows["rejected"]) == ("2", "2", "0")
    received = int(rows["received"])
    deadline = time.monotonic() + 60
    while received == 0:  # PostgreSQL: the horizon may hold a fresh write back one sync
        assert time.monotonic() < deadline
        again = device_cli("sync", *home, "--pin-stdin", stdin=PIN + "\n")
        assert again.returncode == 0, again.stderr
        assert table(again.stdout)["sent"] == "0"
        received = int(table(again.stdout)["received"])
    phone.node.unlock(PIN)
    assert {e.state for e in phone.node.outbox()} == {"confirmed"}
    assert not gone(phone, "Observation", theirs)
    assert versions(smart, "Observation", mine) == 2
