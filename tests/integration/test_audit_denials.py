"""Refusals in the patient's access log, and a patient's log showing only their own record:
over HTTP against a real server on each backend (issue 13, findings 6 and 7; docs/audit.md).

A clinician's refused attempt on patient B's record (a read of an invisible resource, a write
outside their compartments, a search naming B) is audited with the resource and the patient
the server knows it concerns, so B sees it when B reads their AuditEvents, while the
clinician's answer stays exactly the answer for something that does not exist. A patient
reading their log after a search that returned several patients' data sees only their own.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bedside.audit.verify import verify
from bedside.auth import tokens
from bedside.auth.keys import load_or_create
from bedside.store import open_store
from tests.conftest import BACKENDS, Server
from tests.integration._module_server import live_server

DOMAIN = "4"  # object-role: Domain Resource
PERSON = "1"  # object-role: Patient


@dataclass
class Live:
    server: Server
    db_url: str

    def client(self, subject: str, scope: str, **claims: Any) -> httpx.Client:
        token = tokens.issue(
            load_or_create(self.server.data_dir),
            subject=subject,
            audience=self.server.base,
            scope=scope,
            ttl=600,
            extra={"auth_time": int(time.time()), **claims},
        )
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
        return httpx.Client(base_url=self.server.base, headers=headers, timeout=60.0)


@pytest.fixture(scope="module", params=BACKENDS)
def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Live]:
    with live_server(tmp_path_factory, str(request.param)) as (srv, url):
        yield Live(srv, url)


@dataclass
class Ward:
    """A doctor on the care team of patient A, and patient B they have no relation with; each
    patient has one Observation. Fresh ids per test: the server is shared by the module."""

    live: Live
    tag: str
    doc: str
    a: str
    b: str

    @property
    def obs_a(self) -> str:
        return f"obs-a-{self.tag}"

    @property
    def obs_b(self) -> str:
        return f"obs-b-{self.tag}"

    def doctor(self) -> httpx.Client:
        return self.live.client(
            f"u-{self.doc}",
            "user/*.cruds openid fhirUser",
            client_id="ward-app",
            role="doctor",
            fhirUser=f"Practitioner/{self.doc}",
        )

    def patient(self, pid: str) -> httpx.Client:
        return self.live.client(
            f"u-{pid}", "patient/*.rs", role="patient", fhirUser=f"Patient/{pid}", patient=pid
        )

    def auditor(self) -> httpx.Client:
        return self.live.client(
            "u-auditor", "user/AuditEvent.rs", role="auditor", fhirUser="Practitioner/aud"
        )

    def care_team(self, pid: str) -> None:
        put(self.live, care_team(f"ct-{pid}", pid, self.doc))


def put(live: Live, resource: dict[str, Any]) -> None:
    with live.server.client() as op:
        path = f"/{resource['resourceType']}/{resource['id']}"
        resp = op.put(path, json=resource)
        assert resp.status_code in (200, 201), resp.text


def observation(oid: str, patient: str, code: str = "hr") -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "urn:bedside:test", "code": code}]},
        "subject": {"reference": f"Patient/{patient}"},
    }


def care_team(cid: str, patient: str, doc: str) -> dict[str, Any]:
    return {
        "resourceType": "CareTeam",
        "id": cid,
        "status": "active",
        "subject": {"reference": f"Patient/{patient}"},
        "participant": [{"member": {"reference": f"Practitioner/{doc}"}}],
    }


@pytest.fixture
def ward(live: Live) -> Ward:
    tag = secrets.token_hex(4)
    w = Ward(live, tag, f"doc-{tag}", f"pa-{tag}", f"pb-{tag}")
    put(live, {"resourceType": "Practitioner", "id": w.doc, "name": [{"family": "Doc"}]})
    for pid in (w.a, w.b):
        put(live, {"resourceType": "Patient", "id": pid, "name": [{"family": "Ward"}]})
    put(live, observation(w.obs_a, w.a))
    put(live, observation(w.obs_b, w.b))
    w.care_team(w.a)
    return w


def log_of(client: httpx.Client, *params: tuple[str, str]) -> list[dict[str, Any]]:
    """The AuditEvents the client may see, newest first."""
    resp = client.get("/AuditEvent", params=[*params, ("_count", "1000")])
    assert resp.status_code == 200, resp.text
    return [e["resource"] for e in resp.json().get("entry", [])]


def refs(event: dict[str, Any], role: str) -> list[str]:
    return [
        e["what"]["reference"]
        for e in event.get("entity", [])
        if e.get("role", {}).get("code") == role and "what" in e
    ]


def by(events: list[dict[str, Any]], doc: str, subtype: str, outcome: str) -> list[dict[str, Any]]:
    return [
        ev
        for ev in events
        if ev["agent"][0]["who"].get("reference") == f"Practitioner/{doc}"
        and ev["subtype"][0]["code"] == subtype
        and ev["outcome"] == outcome
    ]


def answer(resp: httpx.Response, rid: str) -> tuple[int, bytes, dict[str, str]]:
    """What the caller got, with the asked-for id blanked and per-response headers dropped."""
    headers = {k: v for k, v in resp.headers.items() if k not in ("date", "x-request-id")}
    return resp.status_code, resp.content.replace(rid.encode(), b"<id>"), headers


def chain_intact(live: Live) -> None:
    store = open_store(live.db_url)
    try:
        with store.read() as session:
            result = verify(session.records())
    finally:
        store.close()
    assert result.ok, result.reason


# --- finding 6: refusals carry their patient and entity ---------------------------------------


@pytest.mark.parametrize("path", ["{}", "{}/_history/1", "{}/_history"])
def test_a_refused_read_is_in_the_patients_access_log(ward: Ward, path: str) -> None:
    missing = f"obs-x-{ward.tag}"  # as long as the hidden id: the answers are compared whole
    with ward.doctor() as doc:
        hidden = doc.get(f"/Observation/{path.format(ward.obs_b)}")
        absent = doc.get(f"/Observation/{path.format(missing)}")
    assert hidden.status_code == 404
    assert answer(hidden, ward.obs_b) == answer(absent, missing)  # the caller learns nothing

    with ward.patient(ward.b) as me:
        events = by(log_of(me), ward.doc, _subtype(path), "4")
    assert len(events) == 1  # the attempt on B's record; the missing id concerns nobody
    (event,) = events
    asked = f"Observation/{ward.obs_b}" + ("/_history/1" if path.endswith("/1") else "")
    assert refs(event, DOMAIN) == [asked]
    assert refs(event, PERSON) == [f"Patient/{ward.b}"]

    with ward.auditor() as auditor:
        events = by(log_of(auditor, ("agent", f"Practitioner/{ward.doc}")), ward.doc,
                    _subtype(path), "4")  # fmt: skip
    assert [refs(e, DOMAIN) for e in events] == [
        [f"Observation/{missing}" + asked.removeprefix(f"Observation/{ward.obs_b}")],
        [asked],
    ]
    assert [refs(e, PERSON) for e in events] == [[], [f"Patient/{ward.b}"]]
    assert events[1]["outcomeDesc"] == (
        "denied: outside the caller's access (answered as not found)"
    )
    assert events[0]["outcomeDesc"] == "refused with 404"
    chain_intact(ward.live)


def _subtype(path: str) -> str:
    return {"{}": "read", "{}/_history/1": "read", "{}/_history": "history-instance"}[path]


def test_refused_writes_on_a_patients_record_are_in_their_access_log(ward: Ward) -> None:
    new_id = f"obs-n-{ward.tag}"
    with ward.doctor() as doc:
        created = doc.post("/Observation", json=observation("ignored", ward.b))
        put_new = doc.put(f"/Observation/{new_id}", json=observation(new_id, ward.b))
        put_hidden = doc.put(f"/Observation/{ward.obs_b}", json=observation(ward.obs_b, ward.a))
        patched = doc.patch(
            f"/Observation/{ward.obs_b}",
            json=[{"op": "replace", "path": "/status", "value": "amended"}],
            headers={"Content-Type": "application/json-patch+json"},
        )
    assert created.status_code == 403 and put_new.status_code == 403  # outside its compartments
    assert put_hidden.status_code in (404, 409) and patched.status_code == 404  # invisible
    with ward.patient(ward.b) as me:
        events = log_of(me)
    assert [refs(e, DOMAIN) for e in by(events, ward.doc, "create", "4")] == [[]]  # no id yet
    updates = by(events, ward.doc, "update", "4")
    assert [refs(e, PERSON) for e in updates] == [[f"Patient/{ward.b}"]] * 2
    # the id it tried to create is no resource of B's record (nor anyone's): only auditors see it
    assert [refs(e, DOMAIN) for e in updates] == [[f"Observation/{ward.obs_b}"], []]
    assert [refs(e, DOMAIN) for e in by(events, ward.doc, "patch", "4")] == [
        [f"Observation/{ward.obs_b}"]
    ]
    with ward.auditor() as auditor:
        updates = by(log_of(auditor, ("agent", f"Practitioner/{ward.doc}")), ward.doc,
                     "update", "4")  # fmt: skip
    assert [refs(e, DOMAIN) for e in updates] == [
        [f"Observation/{ward.obs_b}"],
        [f"Observation/{new_id}"],
    ]
    # moving B's Observation to A would have touched both records
    assert [refs(e, PERSON) for e in updates] == [
        [f"Patient/{ward.a}", f"Patient/{ward.b}"],
        [f"Patient/{ward.b}"],
    ]
    with ward.live.server.client() as op:  # nothing was stored
        assert op.get(f"/Observation/{new_id}").status_code == 404
        assert op.get(f"/Observation/{ward.obs_b}").json()["status"] == "final"
    chain_intact(ward.live)


def test_searches_naming_a_patient_are_in_their_access_log(ward: Ward) -> None:
    nobody = f"pz-{ward.tag}"  # as long as B's id, and no such patient
    with ward.doctor() as doc:
        empty = doc.get("/Observation", params={"patient": ward.b})
        empty_nobody = doc.get("/Observation", params={"patient": nobody})
        refused = doc.get("/Observation", params={"subject": f"Patient/{ward.b}", "x-y": "1"})
    assert empty.status_code == 200 and empty.json()["total"] == 0
    assert answer(empty, ward.b) == answer(empty_nobody, nobody)
    assert refused.status_code == 400
    with ward.patient(ward.b) as me:
        events = log_of(me)
    for outcome in ("0", "4"):  # answered with nothing, and refused
        (event,) = by(events, ward.doc, "search-type", outcome)
        assert refs(event, PERSON) == [f"Patient/{ward.b}"]
        assert "query" not in str(event["entity"])  # the query may name others: not shown
    with ward.auditor() as auditor:
        searched = by(log_of(auditor, ("agent", f"Practitioner/{ward.doc}")), ward.doc,
                      "search-type", "0")  # fmt: skip
    assert [refs(e, PERSON) for e in searched] == [[], [f"Patient/{ward.b}"]]  # nobody: nothing
    chain_intact(ward.live)


# --- finding 7: a patient's log shows only their own record -----------------------------------


def test_a_patients_log_shows_only_their_own_entities(ward: Ward) -> None:
    ward.care_team(ward.b)  # now the doctor sees both patients
    code = f"hr-{ward.tag}"
    put(ward.live, observation(f"obs-c-{ward.tag}", ward.a, code))
    put(ward.live, observation(f"obs-d-{ward.tag}", ward.b, code))
    performed = {**observation(f"obs-e-{ward.tag}", ward.a, code)}
    performed["performer"] = [{"reference": f"Practitioner/{ward.doc}"}]
    put(ward.live, performed)
    with ward.doctor() as doc:
        found = doc.get(
            "/Observation",
            params={"code": f"urn:bedside:test|{code}", "_include": "Observation:performer"},
        )
        patients = doc.get("/Patient", params={"_id": f"{ward.a},{ward.b}"})
    assert found.status_code == 200 and found.json()["total"] == 3
    assert patients.status_code == 200 and patients.json()["total"] == 2

    with ward.auditor() as auditor:
        full = by(log_of(auditor, ("agent", f"Practitioner/{ward.doc}")), ward.doc,
                  "search-type", "0")[:2]  # fmt: skip
    assert sorted(refs(full[1], DOMAIN)) == sorted(
        [
            f"Observation/obs-c-{ward.tag}/_history/1",
            f"Observation/obs-d-{ward.tag}/_history/1",
            f"Observation/obs-e-{ward.tag}/_history/1",
            f"Practitioner/{ward.doc}/_history/1",
        ]
    )
    assert sorted(refs(full[0], DOMAIN)) == [
        f"Patient/{ward.a}/_history/1",
        f"Patient/{ward.b}/_history/1",
    ]
    assert sorted(refs(full[0], PERSON)) == sorted([f"Patient/{ward.a}", f"Patient/{ward.b}"])

    with ward.patient(ward.b) as me:
        mine = by(log_of(me), ward.doc, "search-type", "0")[:2]
        by_id = [me.get(f"/AuditEvent/{e['id']}").json() for e in mine]
    assert [e["id"] for e in mine] == [e["id"] for e in full]
    for shown in (mine, by_id):
        patient_search, observation_search = shown
        assert refs(patient_search, PERSON) == [f"Patient/{ward.b}"]
        assert refs(patient_search, DOMAIN) == [f"Patient/{ward.b}/_history/1"]
        assert refs(observation_search, PERSON) == [f"Patient/{ward.b}"]
        assert refs(observation_search, DOMAIN) == [f"Observation/obs-d-{ward.tag}/_history/1"]
    with ward.patient(ward.a) as other:
        (theirs,) = [e for e in by(log_of(other), ward.doc, "search-type", "0") if
                     e["id"] == full[1]["id"]]  # fmt: skip
    assert sorted(refs(theirs, DOMAIN)) == [
        f"Observation/obs-c-{ward.tag}/_history/1",
        f"Observation/obs-e-{ward.tag}/_history/1",
    ]  # not the Practitioner (reference data, nobody's record), not B's
    chain_intact(ward.live)


def test_an_auditors_read_of_a_patients_event_is_in_their_log(ward: Ward) -> None:
    """A read of an AuditEvent names it (``AuditEvent/n``: it has no versions) and concerns the
    patients it is about; the audit index, not the resource store, says whose it is."""
    with ward.doctor() as doc:
        assert doc.get(f"/Observation/{ward.obs_a}").status_code == 200
    with ward.auditor() as auditor:
        (read,) = by(log_of(auditor, ("agent", f"Practitioner/{ward.doc}")), ward.doc, "read", "0")
        assert auditor.get(f"/AuditEvent/{read['id']}").status_code == 200
    with ward.patient(ward.a) as me:
        (seen,) = log_of(me, ("agent", "u-auditor"), ("subtype", "read"))
    assert refs(seen, DOMAIN) == [f"AuditEvent/{read['id']}"]
    assert refs(seen, PERSON) == [f"Patient/{ward.a}"]
    with ward.patient(ward.b) as other:
        assert log_of(other, ("agent", "u-auditor"), ("subtype", "read")) == []
