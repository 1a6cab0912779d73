"""The policy snapshot and governance APIs over HTTP, against a real server on each backend."""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from bedside.auth import tokens
from bedside.auth.caller import Caller
from bedside.auth.keys import load_or_create
from bedside.auth.scopes import ScopeSet
from bedside.policy import breakglass
from bedside.policy.rules import PolicyRules
from bedside.protocol.snapshot import TYP, verify_snapshot
from bedside.store import open_store
from tests.conftest import BACKENDS, Server
from tests.integration._module_server import live_server


@dataclass
class Live:
    server: Server
    db_url: str

    @property
    def root(self) -> str:
        return self.server.base.removesuffix("/fhir")

    def token(self, subject: str, scope: str, **claims: Any) -> str:
        return tokens.issue(
            load_or_create(self.server.data_dir),
            subject=subject,
            audience=self.server.base,
            scope=scope,
            ttl=600,
            extra=claims,
        )

    def client(self, token: str | None, **headers: str) -> httpx.Client:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.Client(base_url=self.root, headers=headers, timeout=60.0)


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    with live_server(tmp_path_factory, str(request.param)) as (srv, url):
        yield Live(srv, url)


def put(live: Live, resource: dict[str, Any]) -> None:
    with live.server.client() as op:
        path = f"/{resource['resourceType']}/{resource['id']}"
        assert op.put(path, json=resource).status_code in (200, 201)


def new_doctor(live: Live) -> tuple[str, str]:
    """A fresh Practitioner on the care team of a fresh Patient: (practitioner id, patient id)."""
    doc, pid = f"doc-{secrets.token_hex(4)}", f"pat-{secrets.token_hex(4)}"
    put(live, {"resourceType": "Practitioner", "id": doc, "name": [{"family": "Doc"}]})
    put(live, {"resourceType": "Patient", "id": pid, "name": [{"family": "Ward"}]})
    put(
        live,
        {
            "resourceType": "CareTeam",
            "id": f"ct-{pid}",
            "status": "active",
            "subject": {"reference": f"Patient/{pid}"},
            "participant": [{"member": {"reference": f"Practitioner/{doc}"}}],
        },
    )
    return doc, pid


def doctor_token(live: Live, doc: str) -> str:
    return live.token(
        f"u-{doc}",
        "user/*.cruds openid fhirUser",
        client_id="ward-tablet",
        role="doctor",
        fhirUser=f"Practitioner/{doc}",
        auth_time=int(time.time()),
        device="tablet-7",
    )


def staff_token(live: Live, role: str) -> str:
    return live.token(f"u-{role}", "user/AuditEvent.rs", role=role, fhirUser="Practitioner/3")


def open_grant(live: Live, doc: str, pid: str) -> str:
    """A break-glass grant written straight to the server's database (as $break-glass does)."""
    caller = Caller(
        f"u-{doc}",
        ScopeSet.parse("user/*.cruds"),
        fhir_user=f"Practitioner/{doc}",
        role="doctor",
        auth_time=int(time.time()),
    )
    body = {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": "why"}]}
    store = open_store(live.db_url)
    try:
        with store.records(write=True) as db:
            _, grant_id = breakglass.start(
                db, caller, True, pid, body, rules=PolicyRules.default(), now=time.time()
            )
    finally:
        store.close()
    return grant_id


def outcome_text(resp: httpx.Response) -> str:
    body = resp.json()
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["diagnostics"])


# --- GET /policy/snapshot -------------------------------------------------------------------


def test_snapshot_needs_a_bearer_token(live: Live) -> None:
    with live.client(None) as c:
        resp = c.get("/policy/snapshot")
    assert resp.status_code == 401
    assert "Bearer" in resp.headers["www-authenticate"]
    outcome_text(resp)


def test_doctor_snapshot_is_a_jws_a_device_verifies_with_the_jwks(live: Live) -> None:
    doc, pid = new_doctor(live)
    with live.client(doctor_token(live, doc)) as c:
        resp = c.get("/policy/snapshot")
        jwks = c.get("/auth/jwks").json()
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("application/jose")
    assert resp.headers["cache-control"] == "no-store"
    claims = verify_snapshot(resp.text, jwks, now=time.time(), issuer=live.server.base)
    assert claims["sub"] == f"u-{doc}" and claims["aud"] == "ward-tablet"
    assert claims["role"] == "doctor" and claims["fhirUser"] == f"Practitioner/{doc}"
    assert claims["device"] == "tablet-7"
    assert claims["exp"] - claims["iat"] == 8 * 3600
    assert claims["confined"] is True
    assert claims["permissions"]["*"] == "crus"
    assert {"id": pid, "basis": "care-team", "source": f"CareTeam/ct-{pid}", "until": None} in (
        claims["patients"]
    )


def test_snapshot_as_json_carries_the_jws_and_its_claims(live: Live) -> None:
    doc, _ = new_doctor(live)
    with live.client(doctor_token(live, doc), Accept="application/json") as c:
        resp = c.get("/policy/snapshot")
    assert resp.status_code == 200 and resp.headers["content-type"] == "application/json"
    body = resp.json()
    keys = load_or_create(live.server.data_dir)
    assert verify_snapshot(body["snapshot"], keys, now=time.time()) == body["claims"]
    head = body["snapshot"].split(".")[0]
    header = orjson.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    assert header == {"alg": "RS256", "kid": keys.signing.kid, "typ": TYP}


def test_break_glass_grant_shows_in_the_snapshot_with_its_own_until(live: Live) -> None:
    doc, _ = new_doctor(live)
    _, other = new_doctor(live)  # a patient this doctor has no relationship with
    grant_id = open_grant(live, doc, other)
    with live.client(doctor_token(live, doc), Accept="application/json") as c:
        claims = c.get("/policy/snapshot").json()["claims"]
    glass = [p for p in claims["patients"] if p["basis"] == "break-glass"]
    assert [(p["id"], p["source"]) for p in glass] == [(other, f"break-glass/{grant_id}")]
    assert glass[0]["until"] < claims["exp"]
    assert claims["purpose"] == [{"patient": other, "code": "BTG", "until": glass[0]["until"]}]


def test_patient_snapshot_is_their_own_record(live: Live) -> None:
    token = live.token("u-ana", "patient/*.rs", role="patient", fhirUser="Patient/ana",
                       patient="ana")  # fmt: skip
    with live.client(token, Accept="application/json") as c:
        claims = c.get("/policy/snapshot").json()["claims"]
    assert claims["patients"] == [{"id": "ana", "basis": "self", "source": "self", "until": None}]
    assert claims["patient"] == "ana" and claims["permissions"]["*"] == "rs"


def test_service_snapshot_is_not_confined(live: Live) -> None:
    token = live.token("lab-feed", "system/Observation.cruds", client_id="lab-feed")
    with live.client(token, Accept="application/json") as c:
        claims = c.get("/policy/snapshot").json()["claims"]
    assert claims["confined"] is False and claims["role"] is None
    assert claims["permissions"] == {"*": "", "Observation": "cruds"}


# --- /governance/break-glass ----------------------------------------------------------------


def test_reviewer_lists_and_closes_a_grant_once(live: Live) -> None:
    doc, pid = new_doctor(live)
    grant_id = open_grant(live, doc, pid)
    with live.client(staff_token(live, "auditor")) as c:
        queue = c.get("/governance/break-glass", params={"status": "open"})
        assert queue.status_code == 200 and queue.headers["cache-control"] == "no-store"
        item = next(i for i in queue.json()["items"] if i["id"] == grant_id)
        assert item["patient"] == f"Patient/{pid}" and item["reason"] == "why"

        path = f"/governance/break-glass/{grant_id}/close"
        closed = c.post(path, json={"outcome": "justified", "note": "crash call"})
        assert closed.status_code == 200
        assert closed.json()["reviewed_by"] == "Practitioner/3"
        assert closed.json()["outcome"] == "justified"

        again = c.post(path, json={"outcome": "not-justified"})
        assert again.status_code == 409
        outcome_text(again)
        done = c.get("/governance/break-glass", params={"status": "closed"}).json()["items"]
        assert grant_id in {i["id"] for i in done}
        everything = c.get("/governance/break-glass", params={"status": "all"}).json()["items"]
        assert grant_id in {i["id"] for i in everything}


def test_closing_with_a_bad_body_or_unknown_id_is_refused(live: Live) -> None:
    doc, pid = new_doctor(live)
    grant_id = open_grant(live, doc, pid)
    with live.client(staff_token(live, "admin")) as c:
        path = f"/governance/break-glass/{grant_id}/close"
        assert c.post(path, content=b"not json").status_code == 400
        assert c.post(path, json={"outcome": "maybe"}).status_code == 400
        assert c.post(path, json=["justified"]).status_code == 400
        unknown = c.post("/governance/break-glass/bg-none/close", json={"outcome": "justified"})
        assert unknown.status_code == 404
        assert c.get("/governance/break-glass", params={"status": "new"}).status_code == 400


@pytest.mark.parametrize("role", ["doctor", "nurse", "patient", "support", None])
def test_only_review_roles_see_or_close_the_queue(live: Live, role: str | None) -> None:
    claims: dict[str, Any] = {"role": role, "fhirUser": "Practitioner/5"} if role else {}
    token = live.token(f"u-{role}", "user/*.rs" if role else "system/*.rs", **claims)
    with live.client(token) as c:
        listed = c.get("/governance/break-glass")
        closed = c.post("/governance/break-glass/bg-x/close", json={"outcome": "justified"})
    for resp in (listed, closed):
        assert resp.status_code == 403
        assert outcome_text(resp) == "Your role cannot review break-glass access."


def test_monitor_roles_read_counts_without_patients(live: Live) -> None:
    doc, pid = new_doctor(live)
    open_grant(live, doc, pid)
    with live.client(staff_token(live, "support")) as c:
        resp = c.get("/governance/break-glass/stats", params={"hours": "2"})
        bad = c.get("/governance/break-glass/stats", params={"hours": "two"})
    assert resp.status_code == 200
    counts = resp.json()
    assert {"user": f"Practitioner/{doc}", "count": 1} in counts["per_user"]
    assert len(counts["per_hour"]) == 2 and counts["active"] >= 1
    assert pid not in resp.text and "why" not in resp.text
    assert bad.status_code == 400


def test_clinicians_cannot_read_the_counts(live: Live) -> None:
    doc, _ = new_doctor(live)
    with live.client(doctor_token(live, doc)) as c:
        resp = c.get("/governance/break-glass/stats")
    assert resp.status_code == 403
    assert outcome_text(resp) == "Your role cannot read break-glass statistics."


# --- POST /fhir/Patient/{id}/$break-glass (the lead's Repository wiring) -----------------------


def test_break_glass_operation_over_fhir(live: Live) -> None:
    doc, _ = new_doctor(live)
    _, other = new_doctor(live)
    body = {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": "A&E"}]}
    with live.client(doctor_token(live, doc), Accept="application/fhir+json") as c:
        resp = c.post(f"/fhir/Patient/{other}/$break-glass", json=body)
        empty = c.post(f"/fhir/Patient/{other}/$break-glass", json={"resourceType": "Parameters"})
        unknown = c.post("/fhir/Patient/no-such-patient/$break-glass", json=body)
    assert resp.status_code == 200
    params = {p["name"]: p for p in resp.json()["parameter"]}
    assert params["patient"]["valueReference"] == {"reference": f"Patient/{other}"}
    assert params["grant"]["valueString"].startswith("bg-")
    assert empty.status_code == 400 and unknown.status_code == 404
    stale = live.token(f"u-{doc}", "user/*.cruds", role="doctor", fhirUser=f"Practitioner/{doc}",
                       auth_time=int(time.time()) - 3600)  # fmt: skip
    with live.client(stale, Accept="application/fhir+json") as c:
        refused = c.post(f"/fhir/Patient/{other}/$break-glass", json=body)
    assert refused.status_code == 401
    assert "insufficient_user_authentication" in refused.headers["www-authenticate"]
