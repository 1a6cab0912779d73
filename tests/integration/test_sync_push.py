"""Sync push (docs/sync-protocol.md "Push", docs/sync-server.md) over real HTTP against a real
`bedside serve` on each backend: devices enrolled like the app does, events signed with their
keys, every result read from the answer and every effect from the database."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bedside.protocol.event import format_time
from tests.conftest import BACKENDS
from tests.integration._policy_world import CONF, consent
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
    sql,
)


@pytest.fixture(scope="module", params=BACKENDS)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, str(request.param)) as s:
        yield s


def nurse_device(smart: Smart) -> tuple[str, SyncDevice]:
    ward, users = new_ward(smart, "nurse")
    return ward.patient, enrol(smart, users[0])


def versions(smart: Smart, rtype: str, rid: str) -> int:
    rows = sql(
        smart,
        "SELECT COUNT(*) FROM resource_versions v JOIN resources r ON r.rid = v.rid"
        " WHERE r.type = ? AND r.id = ?",
        rtype,
        rid,
    )
    return int(rows[0][0])


# --- confirmed, replayed, reused -----------------------------------------------------------------


def test_a_create_is_confirmed_with_provenance_and_audit(smart: Smart) -> None:
    patient, device = nurse_device(smart)
    obs = observation(patient)
    at = time.time() - 60
    resp = push(smart, device, [device.event("create", obs, patient=patient, at=at)])
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert body["protocol"] == 1 and body["server_time"].endswith("Z")
    assert abs(body["skew_ms"]) < 5000
    (result,) = results(resp)
    assert result["state"] == "confirmed" and result["seq"] == 1
    assert result["id"] == obs["id"] and result["version"] == "1"
    stored = read(smart, f"/Observation/{obs['id']}")
    assert stored["valueQuantity"]["value"] == 72.0
    prov = smart.get("/Provenance", smart.operator_token, target=f"Observation/{obs['id']}").json()
    (entry,) = prov["entry"]
    p = entry["resource"]
    assert p["occurredDateTime"] == format_time(at)
    assert {"reference": f"Device/{device.device_id}"} in [a["who"] for a in p["agent"]]
    assert ("create", "0") in audit_codes(smart, device.device_id)


def test_a_resent_event_gets_its_first_result_byte_for_byte_and_no_duplicate(
    smart: Smart,
) -> None:
    patient, device = nurse_device(smart)
    obs = observation(patient)
    event = device.event("create", obs, patient=patient)
    first = push(smart, device, [event])
    again = push(smart, device, [event])
    assert results(first) == results(again)
    raw_first = first.content[first.content.index(b'"results":') :]
    raw_again = again.content[again.content.index(b'"results":') :]
    assert raw_first == raw_again
    assert versions(smart, "Observation", obs["id"]) == 1


def test_a_reused_seq_with_other_content_is_rejected_and_audited(smart: Smart) -> None:
    patient, device = nurse_device(smart)
    first = device.event("create", observation(patient), patient=patient)
    other = device.event("create", observation(patient, 99.0), patient=patient, seq=first["seq"])
    assert results(push(smart, device, [first]))[0]["state"] == "confirmed"
    (result,) = results(push(smart, device, [other]))
    assert result["state"] == "rejected" and result["code"] == "seq-reused"
    assert versions(smart, "Observation", other["resource_id"]) == 0
    assert ("sync-reject", "8") in audit_codes(smart, device.device_id)


def test_a_tampered_event_or_a_foreign_key_is_rejected_and_audited(smart: Smart) -> None:
    patient, device = nurse_device(smart)
    tampered = device.event("create", observation(patient), patient=patient)
    tampered["resource"]["valueQuantity"]["value"] = 180.0
    foreign = device.event(
        "create", observation(patient), patient=patient, key=Ed25519PrivateKey.generate()
    )
    good = device.event("create", observation(patient), patient=patient)
    out = results(push(smart, device, [tampered, foreign, good]))
    assert [r["state"] for r in out] == ["rejected", "rejected", "confirmed"]
    assert out[0]["code"] == out[1]["code"] == "bad-signature"
    assert versions(smart, "Observation", tampered["resource_id"]) == 0
    codes = audit_codes(smart, device.device_id)
    assert codes.count(("sync-reject", "8")) == 2


def test_an_event_nested_too_deeply_is_rejected_alone_and_the_rest_confirmed(
    smart: Smart,
) -> None:
    # issue 13, finding 10: the whole push answered 500. The event is signed as any RFC 8785
    # signer would sign it (the pure-Python canonicaliser copes with 300 levels).
    patient, device = nurse_device(smart)
    before = device.event("create", observation(patient), patient=patient)
    deep = device.event("create", observation(patient), patient=patient)
    nested: dict[str, Any] = {"url": "http://example.org/x", "valueString": "x"}
    for _ in range(300):
        nested = {"url": "http://example.org/x", "extension": [nested]}
    deep["resource"]["extension"] = [nested]
    body = {k: v for k, v in deep.items() if k != "sig"}
    deep["sig"] = base64.urlsafe_b64encode(device.key.sign(rfc8785.dumps(body))).decode()
    deep["sig"] = deep["sig"].rstrip("=")
    after = device.event("create", observation(patient), patient=patient)
    out = results(push(smart, device, [before, deep, after]))
    assert [r["state"] for r in out] == ["confirmed", "rejected", "confirmed"]
    assert out[1]["code"] == "invalid"
    assert versions(smart, "Observation", deep["resource_id"]) == 0


def test_an_event_that_would_widen_its_writers_access_is_rejected_alone(smart: Smart) -> None:
    """Issue 13: the REST rule holds at sync too (one write path): a doctor's Consent sharing
    very restricted data with themselves, and an Observation reaching a stranger's chart."""
    ward, users = new_ward(smart, "doctor")
    device = enrol(smart, users[0])
    stranger = smart.create_patient("Stranger")
    me = f"Practitioner/{device.practitioner}"
    grant = consent(new_id(), ward.patient, actor=me, labels=((CONF, "V"),))
    into = observation(ward.patient)
    into["performer"] = [{"reference": f"Patient/{stranger}"}]
    events = [
        device.event("create", grant, patient=ward.patient),
        device.event("create", into, patient=ward.patient),
        device.event("create", observation(ward.patient), patient=ward.patient),
    ]
    out = results(push(smart, device, events))
    assert [(r["state"], r.get("code")) for r in out] == [
        ("rejected", "not-permitted"),
        ("rejected", "not-permitted"),
        ("confirmed", None),
    ]
    assert "share more of a patient's record with you" in out[0]["reason"]
    assert versions(smart, "Consent", events[0]["resource_id"]) == 0
    assert versions(smart, "Observation", events[1]["resource_id"]) == 0


def test_a_record_about_another_patient_than_the_events_is_rejected_alone(smart: Smart) -> None:
    """Wrong-patient safeguard (issue 16): the page's patient travels with the event, and a
    resource about someone else is refused at the server as the device refuses it."""
    ward, users = new_ward(smart, "doctor")
    device = enrol(smart, users[0])
    other = smart.create_patient("Other")
    wrong = observation(other)
    events = [
        device.event("create", wrong, patient=ward.patient),
        device.event("create", observation(ward.patient), patient=ward.patient),
    ]
    out = results(push(smart, device, events))
    assert [(r["state"], r.get("code")) for r in out] == [
        ("rejected", "invalid"),
        ("confirmed", None),
    ]
    assert "different patient" in out[0]["reason"]
    assert versions(smart, "Observation", wrong["id"]) == 0


def test_an_event_of_another_device_is_wrong_device(smart: Smart) -> None:
    patient, device = nurse_device(smart)
    event = device.event("create", observation(patient), patient=patient)
    event["device"] = "dev-someone-else"
    (result,) = results(push(smart, device, [event]))
    assert result["state"] == "rejected" and result["code"] == "wrong-device"


# --- the request as a whole ---------------------------------------------------------------------


@pytest.mark.parametrize("protocol", [None, 2, "1"])
def test_an_unknown_protocol_is_400_naming_the_versions(smart: Smart, protocol: Any) -> None:
    _, device = nurse_device(smart)
    body: dict[str, Any] = {"device_time": format_time(time.time()), "events": []}
    if protocol is not None:
        body["protocol"] = protocol
    r = httpx.post(
        f"{smart.root}/sync/push",
        json=body,
        headers={"Authorization": f"Bearer {device.access}"},
        timeout=30,
    )
    assert r.status_code == 400
    assert "version 1" in r.json()["issue"][0]["diagnostics"]


def test_a_revoked_device_is_refused_403_and_one_flagged_for_wipe_may_drain(smart: Smart) -> None:
    patient, device = nurse_device(smart)
    smart.admin("device", "revoke", device.device_id)
    r = push(smart, device, [device.event("create", observation(patient), patient=patient)])
    assert r.status_code == 403
    assert r.json()["issue"][1]["diagnostics"] == '{"status":"revoked"}'
    patient, other = nurse_device(smart)
    smart.admin("device", "wipe", other.device_id)
    r = push(smart, other, [other.event("create", observation(patient), patient=patient)])
    assert r.status_code == 200, r.text  # it sends what it holds before it wipes (issue 19)
    assert [x["state"] for x in r.json()["results"]] == ["confirmed"]


def test_a_token_without_a_device_is_refused(smart: Smart) -> None:
    _, users = new_ward(smart, "nurse")
    token = smart.login("bedside-device", users[0][0], "openid fhirUser user/*.cruds")
    with api(smart, token["access_token"]) as c:
        r = c.post("/sync/push", json={"protocol": 1, "device_time": "x", "events": []})
    assert r.status_code == 403


def test_no_phi_from_pushed_events_reaches_the_server_log(smart: Smart) -> None:
    """Canary strings in accepted, rejected and reviewed events never reach the log file."""
    canary = "Quixtrapperzeb"
    patient, device = nurse_device(smart)
    named = observation(patient)
    named["note"] = [{"text": f"{canary} said so"}]
    bad = observation(patient)
    bad["status"] = canary
    events = [
        device.event("create", named, patient=patient),
        device.event("create", bad, patient=patient),
        device.event("create", observation(patient), patient=patient),
        device.event("create", named | {"id": "canary-future"}, at=time.time() + 86400),
    ]
    events[2]["resource"]["note"] = [{"text": canary}]  # tampered after signing
    out = results(push(smart, device, events))
    assert [r["state"] for r in out] == ["confirmed", "rejected", "rejected", "needs-review"]
    logs = list(smart.server.data_dir.parent.glob("server-*.log"))
    assert logs and all(canary not in p.read_text(errors="replace") for p in logs)
    audit = sql(smart, "SELECT content FROM audit_log WHERE device = ?", device.device_id)
    assert all(canary.encode() not in bytes(c) for (c,) in audit)
