"""Sync push against the server's current state, over real HTTP on each backend: policy
rechecked at commit, conflict classes (merge, review, append-only), clock discipline,
dependencies, review resolution by API and CLI, and two server processes taking the same push
(docs/sync-protocol.md, docs/sync-server.md)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS, start_server, stop_server
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_world import (
    SyncDevice,
    api,
    audit_codes,
    enrol,
    new_id,
    new_ward,
    observation,
    push,
    read,
    results,
    review_cli,
    sql,
    sql_write,
)


@pytest.fixture(scope="module", params=BACKENDS)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, str(request.param)) as s:
        yield s


def doctors(smart: Smart, n: int = 2) -> tuple[str, list[SyncDevice]]:
    ward, users = new_ward(smart, *(["doctor"] * n))
    return ward.patient, [enrol(smart, u) for u in users]


def put(smart: Smart, resource: dict[str, Any]) -> dict[str, Any]:
    with smart.fhir_client(smart.operator_token) as c:
        r = c.put(
            f"/{resource['resourceType']}/{resource['id']}",
            json=resource,
            headers={"Content-Type": "application/fhir+json", "Prefer": "return=representation"},
        )
    assert r.status_code in (200, 201), r.text
    found: dict[str, Any] = r.json()
    return found


def clean(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}


def medication_request(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": new_id(),
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "Amoxicillin 500 mg"},
        "subject": {"reference": f"Patient/{patient}"},
    }


# --- G3: the commit is the enforcement point ---------------------------------------------------


def test_an_ended_care_team_rejects_that_event_and_the_others_still_confirm(smart: Smart) -> None:
    ward, users = new_ward(smart, "nurse")
    other = smart.create_patient("Second")
    smart.create(
        {
            "resourceType": "CareTeam",
            "status": "active",
            "subject": {"reference": f"Patient/{other}"},
            "participant": [{"member": {"reference": f"Practitioner/{ward.practitioners[0]}"}}],
        }
    )
    device = enrol(smart, users[0])
    offline = [
        device.event("create", observation(ward.patient), patient=ward.patient),
        device.event("create", observation(other), patient=other),
        device.event("create", observation(other, 80.0), patient=other),
    ]
    team = read(smart, f"/CareTeam/{ward.care_team}")
    put(smart, {**clean(team), "status": "inactive"})  # she left the care team meanwhile
    out = results(push(smart, device, offline))
    assert [r["state"] for r in out] == ["rejected", "confirmed", "confirmed"]
    assert out[0]["code"] == "not-permitted"
    assert "no longer have access to this patient's record" in out[0]["reason"]
    assert ("sync-reject", "4") in audit_codes(smart, device.device_id)
    assert (
        smart.get(f"/Observation/{offline[0]['resource_id']}", smart.operator_token).status_code
        == 404
    )


def test_a_role_without_the_permission_is_refused_with_the_apis_sentence(smart: Smart) -> None:
    ward, users = new_ward(smart, "nurse")
    device = enrol(smart, users[0])
    plan = {
        "resourceType": "CarePlan",
        "id": new_id(),
        "status": "active",
        "intent": "plan",
        "subject": {"reference": f"Patient/{ward.patient}"},
    }
    (result,) = results(push(smart, device, [device.event("create", plan, patient=ward.patient)]))
    assert result["code"] == "not-permitted"
    assert result["reason"] == "The nurse role does not allow create on CarePlan."


def test_reference_data_is_read_only_on_a_device(smart: Smart) -> None:
    _, (device, _) = doctors(smart)
    org = {"resourceType": "Organization", "id": new_id(), "name": "Ward 7"}
    (result,) = results(push(smart, device, [device.event("create", org)]))
    assert result["state"] == "rejected" and result["code"] == "read-only-type"


def test_invalid_fhir_is_rejected_and_does_not_block_the_next(smart: Smart) -> None:
    patient, (device, _) = doctors(smart)
    bad = observation(patient)
    bad["status"] = "not-a-status"
    out = results(
        push(
            smart,
            device,
            [
                device.event("create", bad, patient=patient),
                device.event("create", observation(patient), patient=patient),
            ],
        )
    )
    assert [(r["state"], r.get("code")) for r in out] == [
        ("rejected", "invalid"),
        ("confirmed", None),
    ]


def test_break_glass_is_honoured_only_under_a_grant_that_covered_the_time(smart: Smart) -> None:
    ward, users = new_ward(smart, "nurse")
    nurse = enrol(smart, users[0])
    covered, other = smart.create_patient("Glass"), smart.create_patient("Other")
    now = time.time()
    enrolled_yesterday = "UPDATE devices SET registered_at = ? WHERE device_id = ?"
    sql_write(smart, enrolled_yesterday, int(now - 86400), nurse.device_id)
    sql_write(  # a grant that ran from two hours ago to one hour ago
        smart,
        "INSERT INTO break_glass (id, user_id, user_ref, patient, reason, started_at, expires_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        f"bg-{new_id()}",
        nurse.user_id,
        f"Practitioner/{ward.practitioners[0]}",
        covered,
        "Collapsed in the corridor",
        int(now - 7200),
        int(now - 3600),
    )
    during = now - 5400
    out = results(
        push(
            smart,
            nurse,
            [
                nurse.event("create", observation(covered), at=during, purpose="BTG"),
                nurse.event("create", observation(other), at=during, purpose="BTG"),
                nurse.event("create", observation(covered), purpose="BTG"),
            ],
        )
    )
    assert [r["state"] for r in out] == ["confirmed", "rejected", "rejected"]
    assert "No break-glass grant covered this patient" in out[1]["reason"]
    rows = sql(
        smart,
        "SELECT purpose FROM audit_log WHERE device = ? AND subtype = 'create'",
        nurse.device_id,
    )
    assert rows == [("BTG",)]
    prov = smart.get("/Provenance", smart.operator_token, target=f"Observation/{out[0]['id']}")
    reason = prov.json()["entry"][0]["resource"]["reason"][0]["coding"][0]
    assert reason["code"] == "BTG"


# --- G4: conflicts by clinical risk ---------------------------------------------------------------


def test_two_devices_editing_different_contact_details_of_a_patient_merge(smart: Smart) -> None:
    patient_id, (a, b) = doctors(smart)
    seen = clean(read(smart, f"/Patient/{patient_id}"))
    phone = [{"system": "phone", "value": "0113 496 0000"}]
    address = [{"line": ["1 Park Row"], "city": "Leeds"}]
    first = a.event("update", {**seen, "telecom": phone}, base="1", patient=patient_id)
    second = b.event("update", {**seen, "address": address}, base="1", patient=patient_id)
    (r1,) = results(push(smart, a, [first]))
    (r2,) = results(push(smart, b, [second]))
    assert (r1["state"], r1["version"]) == ("confirmed", "2")
    assert (r2["state"], r2["version"]) == ("merged", "3")
    merged = read(smart, f"/Patient/{patient_id}")
    assert merged["telecom"] == phone and merged["address"] == address


def test_the_same_field_changed_two_ways_goes_to_review_and_is_resolved_by_api(
    smart: Smart,
) -> None:
    patient_id, (a, b) = doctors(smart)
    seen = clean(read(smart, f"/Patient/{patient_id}"))
    mine = [{"system": "phone", "value": "0100"}]
    theirs = [{"system": "phone", "value": "0199"}]
    results(push(smart, a, [a.event("update", {**seen, "telecom": theirs}, base="1")]))
    (result,) = results(push(smart, b, [b.event("update", {**seen, "telecom": mine}, base="1")]))
    assert result["state"] == "needs-review" and result["code"] == "conflict"
    assert result["reason"] == "Both you and someone else changed the patient's telecom."
    assert read(smart, f"/Patient/{patient_id}")["telecom"] == theirs  # never silently replaced

    with api(smart, b.access) as c:
        queue = c.get("/review", params={"role": "doctor"})
        item = c.get(f"/review/{result['review']}")
    assert queue.status_code == 200
    assert result["review"] in [i["id"] for i in queue.json()["items"]]
    assert item.json()["fields"] == ["telecom"]
    assert item.json()["device_value"]["telecom"] == mine
    assert item.json()["server_value"]["telecom"] == theirs
    assert item.json()["base_value"].get("telecom") is None

    with api(smart, b.access) as c:
        done = c.post(f"/review/{result['review']}/resolve", json={"keep": "device"})
        again = c.post(f"/review/{result['review']}/resolve", json={"keep": "server"})
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "resolved"
    assert done.json()["resolution"]["outcome"] == "confirmed"
    assert done.json()["resolution"]["version"] == "3"
    assert again.status_code == 409
    now = read(smart, f"/Patient/{patient_id}")
    assert now["telecom"] == mine and now["meta"]["versionId"] == "3"
    assert ("review-resolve", "0") in audit_codes(smart, b.device_id)


def test_a_nurse_cannot_list_the_doctors_queue(smart: Smart) -> None:
    _, users = new_ward(smart, "nurse")
    nurse = enrol(smart, users[0])
    with api(smart, nurse.access) as c:
        assert c.get("/review", params={"role": "doctor"}).status_code == 403
        assert c.get("/review").status_code == 200


def test_two_offline_care_plan_activities_are_both_kept(smart: Smart) -> None:
    patient_id, (a, b) = doctors(smart)
    plan = {
        "resourceType": "CarePlan",
        "id": new_id(),
        "status": "active",
        "intent": "plan",
        "subject": {"reference": f"Patient/{patient_id}"},
        "activity": [{"detail": {"status": "scheduled", "description": "Turn two-hourly"}}],
    }
    results(push(smart, a, [a.event("create", plan, patient=patient_id)]))
    fluids = {"detail": {"status": "scheduled", "description": "Offer fluids"}}
    dressing = {"detail": {"status": "scheduled", "description": "Check dressing"}}
    edit_a = {**plan, "activity": [*plan["activity"], fluids]}
    edit_b = {**plan, "activity": [*plan["activity"], dressing]}
    (ra,) = results(push(smart, a, [a.event("update", edit_a, base="1")]))
    (rb,) = results(push(smart, b, [b.event("update", edit_b, base="1")]))
    assert (ra["state"], rb["state"]) == ("confirmed", "merged")
    stored = read(smart, f"/CarePlan/{plan['id']}")
    assert [x["detail"]["description"] for x in stored["activity"]] == [
        "Turn two-hourly",
        "Offer fluids",
        "Check dressing",
    ]


def test_an_order_changed_on_an_old_version_goes_to_review_and_the_cli_resolves_it(
    smart: Smart,
) -> None:
    patient_id, (a, b) = doctors(smart)
    order = medication_request(patient_id)
    smart.create({**order})  # the server assigns another id: use a device-made one below
    results(push(smart, a, [a.event("create", order, patient=patient_id)]))
    stop = a.event("update", {**order, "status": "stopped"}, base="1")
    dose = b.event("update", {**order, "dosageInstruction": [{"text": "1 tablet tds"}]}, base="1")
    (r1,) = results(push(smart, a, [stop]))
    (r2,) = results(push(smart, b, [dose]))
    assert r1["state"] == "confirmed"
    assert r2["state"] == "needs-review"
    assert "medication request was changed on the server" in r2["reason"]
    assert read(smart, f"/MedicationRequest/{order['id']}")["status"] == "stopped"

    listed = json.loads(review_cli(smart, "list", "--role", "doctor", "--json"))
    assert r2["review"] in [i["id"] for i in listed["items"]]
    shown = review_cli(smart, "show", r2["review"])
    assert "dosageInstruction" in shown
    out = json.loads(review_cli(smart, "resolve", r2["review"], "--keep", "server", "--json"))
    assert out["state"] == "resolved" and out["resolution"]["outcome"] == "rejected"
    stored = read(smart, f"/MedicationRequest/{order['id']}")
    assert stored["status"] == "stopped" and "dosageInstruction" not in stored
    assert stored["meta"]["versionId"] == out["resolution"]["version"] == "2"  # kept, not written
    rows = sql(
        smart,
        "SELECT content FROM audit_log WHERE subtype = ? ORDER BY n DESC LIMIT 1",
        "review-resolve",
    )
    event = json.loads(bytes(rows[0][0]))
    assert event["agent"][0]["who"]["identifier"]["value"] == "operator"


def test_append_only_creates_both_land_and_a_stale_correction_goes_to_review(
    smart: Smart,
) -> None:
    patient_id, (a, b) = doctors(smart)
    one, two = observation(patient_id, 70.0), observation(patient_id, 71.0)
    assert results(push(smart, a, [a.event("create", one, patient=patient_id)]))[0]["state"] == (
        "confirmed"
    )
    assert results(push(smart, b, [b.event("create", two, patient=patient_id)]))[0]["state"] == (
        "confirmed"
    )
    fix_a = a.event("correct", {**one, "status": "entered-in-error"}, base="1")
    fix_b = b.event("correct", {**one, "valueQuantity": {"value": 75.0, "unit": "/min"}}, base="1")
    assert results(push(smart, a, [fix_a]))[0]["state"] == "confirmed"
    (late,) = results(push(smart, b, [fix_b]))
    assert late["state"] == "needs-review"
    assert read(smart, f"/Observation/{one['id']}")["status"] == "entered-in-error"
    assert read(smart, f"/Observation/{two['id']}")["valueQuantity"]["value"] == 71.0


def test_a_device_editing_a_record_twice_offline_is_not_its_own_conflict(smart: Smart) -> None:
    patient_id, (a, _) = doctors(smart)
    order = medication_request(patient_id)
    first = a.event("create", order, patient=patient_id)
    edit = a.event(
        "update", {**order, "note": [{"text": "with food"}]}, base=f"pending:{first['seq']}"
    )
    again = a.event(
        "update",
        {**order, "note": [{"text": "with food"}], "status": "on-hold"},
        base=f"pending:{first['seq']}",
    )
    out = results(push(smart, a, [first, edit, again]))
    assert [(r["state"], r.get("version")) for r in out] == [
        ("confirmed", "1"),
        ("confirmed", "2"),
        ("confirmed", "3"),
    ]


def test_dependencies_defer_or_fail_with_their_create(smart: Smart) -> None:
    patient_id, (a, _) = doctors(smart)
    order = medication_request(patient_id)
    waiting = a.event("update", {**order, "status": "on-hold"}, base="pending:999")
    bad = {**medication_request(patient_id), "status": "not-a-status"}
    create = a.event("create", bad, patient=patient_id)
    after = a.event("update", {**bad, "status": "on-hold"}, base=f"pending:{create['seq']}")
    out = results(push(smart, a, [waiting, create, after]))
    assert [r["state"] for r in out] == ["deferred", "rejected", "rejected"]
    assert out[2]["code"] == "depends-on-rejected"
    assert sql(smart, "SELECT COUNT(*) FROM sync_events WHERE device = ?", a.device_id)[0][0] == 2


# --- clock discipline -----------------------------------------------------------------------


def test_an_action_dated_in_the_future_goes_to_review_and_skew_is_kept(smart: Smart) -> None:
    patient_id, (a, _) = doctors(smart)
    late = observation(patient_id)
    event = a.event("create", late, patient=patient_id, at=time.time() + 3 * 3600)
    resp = push(smart, a, [event])
    (result,) = results(resp)
    assert result["state"] == "needs-review" and result["code"] == "implausible-time"
    assert smart.get(f"/Observation/{late['id']}", smart.operator_token).status_code == 404
    (row,) = sql(smart, "SELECT skew_ms FROM sync_clock WHERE device = ?", a.device_id)
    assert abs(int(row[0]) - resp.json()["skew_ms"]) < 1

    # a device whose clock runs three hours fast: its actions are trusted, corrected by the skew
    ahead = observation(patient_id)
    fast = time.time() + 3 * 3600
    resp = push(
        smart,
        a,
        [a.event("create", ahead, patient=patient_id, at=fast)],
        device_time=_fmt(fast + 1),
    )
    assert results(resp)[0]["state"] == "confirmed"
    assert resp.json()["skew_ms"] > 3 * 3600 * 1000 - 5000


def _fmt(at: float) -> str:
    from bedside.protocol.event import format_time

    return format_time(at)


# --- scale-out: two server processes, one database ---------------------------------------------


def test_two_server_processes_taking_the_same_push_apply_each_event_once(
    smart: Smart, tmp_path_factory: pytest.TempPathFactory
) -> None:
    patient_id, (a, _) = doctors(smart)
    events = [
        a.event("create", observation(patient_id, 60.0 + i), patient=patient_id) for i in range(12)
    ]
    second = start_server(smart.server.data_dir, smart.database, "--base-url", smart.root)
    try:
        roots = [smart.root, second.base.removesuffix("/fhir")] * 2
        answers: list[httpx.Response] = []

        def send(root: str) -> None:
            answers.append(push(smart, a, events, root=root))

        threads = [threading.Thread(target=send, args=(r,)) for r in roots]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
    finally:
        stop_server(second)
    assert len(answers) == 4
    bodies = [results(r) for r in answers]
    assert all(b == bodies[0] for b in bodies)
    assert {r["state"] for r in bodies[0]} == {"confirmed"}
    ids = [e["resource_id"] for e in events]
    rows = sql(
        smart,
        "SELECT COUNT(*) FROM resources WHERE type = 'Observation'"
        f" AND id IN ({', '.join('?' for _ in ids)})",
        *ids,
    )
    assert rows[0][0] == 12
    counted = sql(smart, "SELECT COUNT(*) FROM sync_events WHERE device = ?", a.device_id)
    assert counted[0][0] == 12
    creates = [c for c in audit_codes(smart, a.device_id) if c == ("create", "0")]
    assert len(creates) == 12
