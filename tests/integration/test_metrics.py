"""``GET /metrics`` after a scripted run over real HTTP: the counters moved by exactly what the
run did, on one process (SQLite) and on two worker processes (PostgreSQL), whichever worker
answered each request and the scrape; no patient's name or id in the text; the scrape token
guards it (docs/operations.md)."""

from __future__ import annotations

import secrets
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration._smart import PASSWORD, Smart, pkce_pair, smart_server
from tests.integration._sync_world import (
    SyncDevice,
    enrol,
    new_id,
    new_ward,
    observation,
    push,
    read,
    results,
)

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
Sample = tuple[str, tuple[tuple[str, str], ...]]


@pytest.fixture(scope="module", params=[("sqlite", "1"), ("postgresql", "2")], ids=str)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    backend, workers = request.param
    with smart_server(tmp_path_factory, backend, "--workers", workers) as s:
        yield s


def metrics_token(smart: Smart) -> str:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bedside",
            "admin",
            "metrics-token",
            "--data-dir",
            str(smart.server.data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


def scrape(smart: Smart, token: str) -> tuple[Counter[Sample], str]:
    """Every sample of a scrape on a fresh connection, by (name, sorted labels)."""
    with httpx.Client(timeout=30) as c:
        r = c.get(f"{smart.root}/metrics", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    assert r.headers["cache-control"] == "no-store"
    samples: Counter[Sample] = Counter()
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] += s.value
    return samples, r.text


def moved(before: Counter[Sample], after: Counter[Sample], name: str) -> dict[Any, float]:
    """How much each series of ``name`` moved, keyed by its labels as a dict's items."""
    out: dict[Any, float] = {}
    for (n, labels), value in after.items():
        if n == name and value - before.get((n, labels), 0) != 0:
            out[labels] = value - before.get((n, labels), 0)
    return out


def consent(patient: str, practitioner: str) -> dict[str, Any]:
    """A patient's consent denying one practitioner everything of theirs."""
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": f"Patient/{patient}"},
        "policyRule": {"coding": [{"system": ACT_CODE, "code": "OPTOUT"}]},
        "provision": {
            "type": "deny",
            "actor": [
                {
                    "role": {"text": "recipient"},
                    "reference": {"reference": f"Practitioner/{practitioner}"},
                }
            ],
        },
    }


def refused_sign_in(smart: Smart, username: str) -> None:
    """Start a sign-in and give a wrong password: the page says so, nobody is signed in."""
    _, challenge = pkce_pair()
    params = smart.authorize_params(
        "bedside-device", "openid fhirUser", challenge=challenge, state="s"
    )
    with smart.browser() as br:
        r = br.get("/auth/authorize", params=params)
        rid = parse_qs(urlsplit(r.headers["location"]).query)["request"][0]
        r = br.post(
            "/auth/signin", data={"request": rid, "username": username, "password": "not it"}
        )
    assert r.status_code != 303 and PASSWORD not in r.text


def fresh_get(url: str, token: str) -> httpx.Response:
    with httpx.Client(timeout=30) as c:  # a fresh connection: with two workers, either answers
        return c.get(url, headers={"Authorization": f"Bearer {token}"})


def test_metrics_are_off_until_a_token_is_made_and_refuse_other_tokens(smart: Smart) -> None:
    first = httpx.get(f"{smart.root}/metrics", timeout=30)
    if first.status_code == 404:  # this module's first test: no token made yet
        assert "bedside admin metrics-token" in first.text
    token = metrics_token(smart)
    assert fresh_get(f"{smart.root}/metrics", "not-the-token").status_code == 401
    assert fresh_get(f"{smart.root}/metrics", smart.operator_token).status_code == 401
    assert httpx.get(f"{smart.root}/metrics", timeout=30).status_code == 401
    newer = metrics_token(smart)  # a new token replaces the old one, without a restart
    assert fresh_get(f"{smart.root}/metrics", token).status_code == 401
    assert fresh_get(f"{smart.root}/metrics", newer).status_code == 200


def test_a_scripted_run_moves_the_counters_by_exactly_its_own_amounts(smart: Smart) -> None:
    token = metrics_token(smart)
    ward, users = new_ward(smart, "doctor", "doctor")
    stranger = smart.create_patient("Elsewhere", "Nobody")
    a, b = (enrol(smart, u) for u in users)
    with smart.fhir_client(smart.operator_token) as c:
        denial = c.post("/Consent", json=consent(ward.patient, b.practitioner))
    assert denial.status_code == 201, denial.text
    deny = denial.json()
    seen = {k: v for k, v in read(smart, f"/Patient/{ward.patient}").items() if k != "meta"}
    before, _ = scrape(smart, token)

    # --- the scripted run ------------------------------------------------------------------
    # two sign-ins (each: a password sign-in and a code exchange), one refused sign-in
    nurse_a = smart.login("bedside-device", a.username, "openid fhirUser user/*.rs")
    smart.login("bedside-device", b.username, "openid fhirUser user/*.rs")
    refused_sign_in(smart, a.username)
    # a refresh with a token that was never issued
    assert smart.refresh(secrets.token_urlsafe(32), "bedside-device").status_code == 400
    # three reads on the care team, one refused (a patient the nurse has no relation to)
    for _ in range(3):
        assert fresh_get(f"{smart.fhir}/Patient/{ward.patient}", nurse_a["access_token"]).is_success
    assert fresh_get(f"{smart.fhir}/Patient/{stranger}", nurse_a["access_token"]).status_code == 404
    # nurse B is refused by the patient's consent, which is then revoked, and B reads
    assert fresh_get(f"{smart.fhir}/Patient/{ward.patient}", b.access).status_code == 404
    with smart.fhir_client(smart.operator_token) as c:
        revoked = c.put(f"/Consent/{deny['id']}", json={**deny, "status": "inactive"})
    assert revoked.status_code == 200, revoked.text
    assert fresh_get(f"{smart.fhir}/Patient/{ward.patient}", b.access).status_code == 200
    # pushes: A confirms an observation and a phone number; B's other number conflicts;
    # B's organisation is refused (reference data is read-only on a device); A sends again
    obs = a.event("create", observation(ward.patient), patient=ward.patient)
    phone = [{"system": "phone", "value": "0100"}]
    edit_a = a.event("update", {**seen, "telecom": phone}, base="1", patient=ward.patient)
    out = results(push(smart, a, [obs, edit_a]))
    assert [x["state"] for x in out] == ["confirmed", "confirmed"]
    other = [{"system": "phone", "value": "0199"}]
    edit_b = b.event("update", {**seen, "telecom": other}, base="1", patient=ward.patient)
    org = b.event("create", {"resourceType": "Organization", "id": new_id(), "name": "Ward 7"})
    out = results(push(smart, b, [edit_b, org]))
    assert [(x["state"], x.get("code")) for x in out] == [
        ("needs-review", "conflict"),
        ("rejected", "read-only-type"),
    ]
    assert [x["state"] for x in results(push(smart, a, [obs]))] == ["confirmed"]  # replayed
    stolen = SyncDevice(a.username, a.user_id, a.practitioner, a.device_id, a.key, "bad-token")
    assert push(smart, stolen, [obs]).status_code == 401

    after, text = scrape(smart, token)
    # --- exactly those amounts -------------------------------------------------------------
    assert moved(before, after, "bedside_sign_ins_total") == {
        (("outcome", "success"),): 2,
        (("outcome", "refused"),): 1,
    }
    assert moved(before, after, "bedside_token_requests_total") == {
        (("grant_type", "authorization_code"), ("outcome", "issued")): 2,
        (("grant_type", "refresh_token"), ("outcome", "invalid_grant")): 1,
    }
    assert moved(before, after, "bedside_fhir_interactions_total") == {
        (("interaction", "read"), ("outcome", "allowed")): 4,
        (("interaction", "read"), ("outcome", "refused")): 2,
        (("interaction", "update"), ("outcome", "allowed")): 2,  # the revocation, A's phone
        (("interaction", "create"), ("outcome", "allowed")): 1,  # A's observation
    }
    assert moved(before, after, "bedside_access_decisions_total") == {
        # 4 reads, A's 2 pushed writes, B's edit put in review
        (("basis", "care-team"), ("outcome", "allowed")): 7,
        (("basis", "none"), ("outcome", "refused")): 2,  # the stranger, B's organisation
        (("basis", "consent"), ("outcome", "refused")): 1,
        (("basis", "service"), ("outcome", "allowed")): 1,
    }
    assert moved(before, after, "bedside_consent_denials_total") == {(): 1}
    assert moved(before, after, "bedside_consent_changes_total") == {(("status", "inactive"),): 1}
    assert moved(before, after, "bedside_sync_pushes_total") == {
        (("outcome", "accepted"),): 3,
        (("outcome", "401"),): 1,
    }
    assert moved(before, after, "bedside_sync_events_total") == {
        (("reason", ""), ("result", "confirmed")): 2,
        (("reason", "conflict"), ("result", "needs-review")): 1,
        (("reason", "read-only-type"), ("result", "rejected")): 1,
        (("reason", ""), ("result", "replayed")): 1,
    }
    assert moved(before, after, "bedside_sync_duration_seconds_count") == {
        (("direction", "push"),): 4
    }
    http = moved(before, after, "bedside_http_requests_total")
    assert http[(("method", "GET"), ("route", "/fhir/Patient/{id}"), ("status", "200"))] == 4
    assert http[(("method", "GET"), ("route", "/fhir/Patient/{id}"), ("status", "404"))] == 2
    assert http[(("method", "POST"), ("route", "/sync/push"), ("status", "200"))] == 3
    assert http[(("method", "GET"), ("route", "/metrics"), ("status", "200"))] == 1  # `before`
    # the queue, read from the database: the conflict waits, a Patient is mergeable
    assert (
        after[("bedside_review_queue_depth", (("class", "mergeable"), ("reason", "conflict")))] >= 1
    )
    assert after[("bedside_devices", (("status", "active"),))] >= 2
    # both devices registered disk encryption and a screen lock on: compliant
    assert after[("bedside_devices_compliance", (("step", "compliant"),))] >= 2
    for secret in (ward.patient, stranger, "Synced", "Elsewhere", a.username, a.device_id):
        assert secret not in text
