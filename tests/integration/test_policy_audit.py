"""Break-glass, the patient's access log, auditors, Provenance: end to end through the
Repository with the real audit trail, on SQLite and PostgreSQL, with a controllable clock."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from bedside.audit.verify import verify
from bedside.errors import FhirError
from bedside.policy import breakglass
from bedside.rest import FhirRequest, Repository
from bedside.store.base import Store
from tests.integration._policy_world import DOC, Hospital, build, get, observation, status

REASON = {
    "resourceType": "Parameters",
    "parameter": [{"name": "reason", "valueString": "Unconscious in the emergency department"}],
}


@pytest.fixture
def hospital(store: Store) -> Iterator[Hospital]:
    h = build(store, audit=True)
    yield h
    assert h.auditor is not None
    h.auditor.close()


def break_glass(repo: Repository, patient: str, body: Any = REASON) -> int:
    try:
        return repo.handle(FhirRequest("POST", f"Patient/{patient}/$break-glass", body=body)).status
    except FhirError as exc:
        return exc.status


def audit_rows(store: Store, where: str = "1 = 1", *args: object) -> list[tuple[Any, ...]]:
    with store.records() as db:
        return db.rows(
            f"SELECT subtype, outcome, user_ref, purpose FROM audit_log WHERE {where} ORDER BY n",
            args,
        )


def test_break_glass_lifecycle(hospital: Hospital) -> None:
    doc = hospital.doctor()
    assert status(doc, "Patient/p-stranger") == 404
    empty = {"resourceType": "Parameters", "parameter": [{"name": "reason", "valueString": " "}]}
    assert break_glass(doc, "p-stranger", empty) == 400
    hospital.clock.advance(600)  # the sign-in is now 10 minutes old
    assert break_glass(doc, "p-stranger") == 401
    assert break_glass(hospital.doctor(), "p-stranger") == 200  # signed in again
    doc = hospital.doctor()
    assert status(doc, "Patient/p-stranger") == 200
    assert status(doc, "Observation/obs-p-stranger") == 200
    # every access under it is audited with purposeOfUse BTG
    reads = audit_rows(
        hospital.store,
        "subtype = ? AND n IN (SELECT n FROM audit_patients WHERE patient = ?)",
        "read",
        "p-stranger",
    )
    denied, *granted = reads  # the refused read before the grant concerns the patient too
    assert denied == ("read", "4", DOC, "TREAT")
    assert granted and all(r[3] == "BTG" and r[1] == "0" for r in granted)
    assert [r[:2] for r in audit_rows(hospital.store, "subtype = ?", "break-glass")] == [
        ("break-glass", "4"),  # empty reason
        ("break-glass", "4"),  # stale sign-in
        ("break-glass", "0"),
    ]
    with hospital.store.records() as db:
        queue = breakglass.review_queue(db)
        stats = breakglass.stats(db, now=hospital.clock())
    assert [(q["patient"], q["user"], q["status"]) for q in queue] == [
        ("Patient/p-stranger", DOC, "open")
    ]
    assert stats["active"] == 1 and stats["open_reviews"] == 1
    hospital.clock.advance(3600)  # the grant lasts an hour
    assert status(hospital.doctor(), "Patient/p-stranger") == 404


def test_a_patient_sees_who_accessed_their_record(hospital: Hospital) -> None:
    assert status(hospital.doctor(), "Patient/p-team") == 200
    assert status(hospital.doctor(), "Patient/p-stranger") == 404  # denied, audited
    me = hospital.as_user("patient", "Patient/p-team", "patient/AuditEvent.rs", patient="p-team")
    log = get(me, "AuditEvent", ("patient", "p-team")).resource
    assert log is not None
    events = [e["resource"] for e in log.get("entry", [])]
    who = {a["who"].get("reference") for ev in events for a in ev["agent"] if "who" in a}
    assert DOC in who
    assert all(
        any(e.get("what", {}).get("reference") == "Patient/p-team" for e in ev["entity"])
        for ev in events
    )
    # another patient's log is empty, not an error: nothing about its existence leaks
    other = get(me, "AuditEvent", ("patient", "p-stranger")).resource
    assert other is not None and not other.get("entry")
    assert status(hospital.doctor(), "AuditEvent") == 403  # clinicians do not read audit


def test_auditors_search_by_user_and_outcome_but_see_no_clinical_data(hospital: Hospital) -> None:
    assert status(hospital.doctor(), "Patient/p-stranger") == 404
    auditor = hospital.as_user("auditor", "Practitioner/aud", "user/AuditEvent.rs")
    denied = get(auditor, "AuditEvent", ("agent", DOC), ("outcome", "4")).resource
    assert denied is not None and denied.get("total", len(denied.get("entry", []))) >= 1
    assert status(auditor, "Patient/p-team") == 403


def test_every_write_has_a_provenance_naming_user_app_and_base_version(
    hospital: Hospital,
) -> None:
    doc = hospital.doctor()
    created = doc.handle(
        FhirRequest("PUT", "Observation/o-new", body=observation("o-new", "p-team"))
    )
    assert created.status == 201
    doc.handle(FhirRequest("PUT", "Observation/o-new", body=observation("o-new", "p-team")))
    found = get(hospital.operator(), "Provenance", ("target", "Observation/o-new")).resource
    assert found is not None
    provs = [e["resource"] for e in found.get("entry", [])]
    activities = sorted(p["activity"]["coding"][0]["code"] for p in provs)
    assert activities == ["CREATE", "UPDATE"]
    update = next(p for p in provs if p["activity"]["coding"][0]["code"] == "UPDATE")
    assert update["entity"][0]["what"]["reference"] == "Observation/o-new/_history/1"
    agents = {a["who"].get("reference") or a["who"]["identifier"]["value"] for a in update["agent"]}
    assert {DOC, "ward-app"} <= agents
    assert len({p["id"] for p in provs}) == 2


def test_the_chain_is_intact_after_a_working_day(hospital: Hospital) -> None:
    doc = hospital.doctor()
    for path in ("Patient/p-team", "Observation", "Patient/p-stranger"):
        status(doc, path)
    doc.handle(FhirRequest("POST", "Observation", body=observation("z", "p-ward")))
    with hospital.store.records() as db:
        result = verify(db)
    assert result.ok and result.checked >= 5
