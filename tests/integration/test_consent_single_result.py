"""A Consent sharing one result (``provision.data``, meaning ``instance``) with a named
practitioner or organisation (issue 18), through the Repository on SQLite and PostgreSQL.

The recipient sees exactly that resource (read, history, search, includes, counts), nothing else
of the patient; revoking it takes effect at their next request and is noted for their devices;
a Consent may name only its patient's own resources, and no one can use one to widen their own
access.
"""

from __future__ import annotations

from typing import Any

import pytest

from bedside.errors import FhirError
from bedside.rest import FhirRequest, Repository
from bedside.store.base import Store
from tests.integration._policy_world import (
    ACT,
    DAY,
    DOC,
    Hospital,
    build,
    consent,
    get,
    ids,
    observation,
    status,
)


@pytest.fixture
def hospital(store: Store) -> Hospital:
    hospital = build(store)
    hospital.put(observation("obs-p-shared-2", "p-shared"))  # a second result, never shared
    return hospital


def one_result(cid: str, patient: str, *refs: str, **kw: Any) -> dict[str, Any]:
    body = consent(cid, patient, end="2026-12-21", **kw)
    body["provision"]["data"] = [
        {"meaning": "instance", "reference": {"reference": ref}} for ref in refs
    ]
    return body


def write(repo: Repository, resource: dict[str, Any], method: str = "PUT") -> int:
    path = resource["resourceType"] + (f"/{resource['id']}" if method == "PUT" else "")
    try:
        return repo.handle(FhirRequest(method, path, body=resource)).status
    except FhirError as exc:
        return exc.status


def failure(repo: Repository, resource: dict[str, Any]) -> FhirError:
    with pytest.raises(FhirError) as info:
        repo.handle(FhirRequest("POST", resource["resourceType"], body=resource))
    return info.value


def patient_user(hospital: Hospital, patient: str) -> Repository:
    return hospital.as_user("patient", f"Patient/{patient}", "user/*.rs user/Consent.cru")


def test_exactly_the_named_result_is_visible_to_the_named_practitioner(
    hospital: Hospital,
) -> None:
    assert status(hospital.doctor(), "Observation/obs-p-shared") == 404
    share = one_result("c-one", "p-shared", "Observation/obs-p-shared")
    assert write(patient_user(hospital, "p-shared"), share, "POST") == 201
    doc = hospital.doctor()
    assert status(doc, "Observation/obs-p-shared") == 200
    assert status(doc, "Observation/obs-p-shared/_history") == 200
    assert status(doc, "Observation/obs-p-shared/_history/1") == 200
    # a second result of the same patient, other kinds of data, the Patient itself: invisible
    assert status(doc, "Observation/obs-p-shared-2") == 404
    assert status(doc, "Observation/obs-p-shared-2/_history") == 404
    assert status(doc, "Observation/obs-p-shared-psy") == 404
    assert status(doc, "Condition/cond-p-shared") == 404
    assert status(doc, "Patient/p-shared") == 404
    # searches are confined to it, and so are counts, includes and history
    mine = {"obs-p-team", "obs-p-ward", "obs-p-assigned"}
    assert ids(get(doc, "Observation")) == mine | {"obs-p-shared"}
    assert ids(get(doc, "Observation", ("subject", "Patient/p-shared"))) == {"obs-p-shared"}
    assert ids(get(doc, "Observation", ("_id", "obs-p-shared-2,obs-p-shared"))) == {"obs-p-shared"}
    count = get(doc, "Observation", ("subject", "Patient/p-shared"), ("_summary", "count"))
    assert count.resource is not None and count.resource["total"] == 1
    inc = get(doc, "Observation", ("_id", "obs-p-shared"), ("_include", "Observation:subject"))
    assert ids(inc) == {"obs-p-shared"} and ids(inc, "include") == set()
    history = get(doc, "Observation/_history").resource
    assert history is not None
    seen = {e["resource"]["id"] for e in history.get("entry", []) if "resource" in e}
    assert "obs-p-shared" in seen and "obs-p-shared-2" not in seen
    assert ids(get(doc, "Condition", ("subject", "Patient/p-shared"))) == set()
    # the Patient is not shared, so its compartment and $everything are not known either
    assert status(doc, "Patient/p-shared/Observation") == 404
    assert status(doc, "Patient/p-shared/$everything") == 404
    # read-only: the share never lets the recipient change the result
    changed = {**observation("obs-p-shared", "p-shared"), "status": "amended"}
    assert write(doc, changed) == 403
    # another practitioner gets nothing from it
    assert status(hospital.as_user("doctor", "Practitioner/other"), "Observation/obs-p-shared") == (
        404
    )


def test_revoking_it_takes_effect_at_the_next_request_and_is_noted_for_devices(
    hospital: Hospital,
) -> None:
    share = one_result("c-rev", "p-shared", "Observation/obs-p-shared")
    hospital.put(share)
    assert status(hospital.doctor(), "Observation/obs-p-shared") == 200
    stored = get(hospital.operator(), "Consent/c-rev").resource
    assert stored is not None
    assert write(patient_user(hospital, "p-shared"), {**stored, "status": "inactive"}) == 200
    assert status(hospital.doctor(), "Observation/obs-p-shared") == 404
    assert ids(get(hospital.doctor(), "Observation", ("subject", "Patient/p-shared"))) == set()
    with hospital.store.records() as db:
        rows = db.rows("SELECT kind, patient, actors, types, source FROM access_changes")
    assert rows == [
        ("consent-revoked", "p-shared", f'["{DOC}"]', '["Observation"]', "Consent/c-rev")
    ]


def test_it_ends_with_its_period(hospital: Hospital) -> None:
    hospital.put(one_result("c-end", "p-shared", "Observation/obs-p-shared"))
    hospital.clock.advance(29 * DAY)  # 2026-12-20
    assert status(hospital.doctor(), "Observation/obs-p-shared") == 200
    hospital.clock.advance(2 * DAY)
    assert status(hospital.doctor(), "Observation/obs-p-shared") == 404


def test_an_organisations_current_members_see_the_one_result(hospital: Hospital) -> None:
    hospital.put({"resourceType": "Organization", "id": "org-gp", "name": "Riverside practice"})
    hospital.put(
        {
            "resourceType": "PractitionerRole",
            "id": "role-doc",
            "active": True,
            "practitioner": {"reference": DOC},
            "organization": {"reference": "Organization/org-gp"},
        }
    )
    share = one_result("c-org", "p-shared", "Observation/obs-p-shared", actor="Organization/org-gp")
    hospital.put(share)
    assert status(hospital.doctor(), "Observation/obs-p-shared") == 200
    assert status(hospital.doctor(), "Observation/obs-p-shared-2") == 404
    assert status(hospital.as_user("doctor", "Practitioner/other"), "Observation/obs-p-shared") == (
        404
    )


def test_a_sensitive_result_is_shared_only_when_its_label_is_named(hospital: Hospital) -> None:
    unnamed = one_result("c-psy", "p-shared", "Observation/obs-p-shared-psy")
    hospital.put(unnamed)
    assert status(hospital.doctor(), "Observation/obs-p-shared-psy") == 404
    named = one_result("c-psy2", "p-shared", "Observation/obs-p-shared-psy", labels=((ACT, "PSY"),))
    hospital.put(named)
    assert status(hospital.doctor(), "Observation/obs-p-shared-psy") == 200
    assert status(hospital.doctor(), "Observation/obs-p-shared-2") == 404


def test_a_consent_can_name_only_its_patients_own_resources(hospital: Hospital) -> None:
    patient = patient_user(hospital, "p-shared")
    cases = {
        "another patient's result": "Observation/obs-p-stranger",
        "a result that does not exist": "Observation/nope",
        "a result of p-team": "Observation/obs-p-team",
    }
    for why, ref in cases.items():
        exc = failure(patient, one_result(f"c-{ref[12:]}", "p-shared", ref))
        assert exc.status == 422, why
        assert "not a resource of this Consent's patient alone" in exc.message, why
        assert "obs-" not in exc.message.replace(ref, "") and "Stranger" not in exc.message
    related = one_result("c-rel", "p-shared", "Observation/obs-p-shared")
    related["provision"]["data"][0]["meaning"] = "related"
    assert failure(patient, related).status == 422
    # the operator, who may read everything, is held to the same rule
    assert failure(hospital.operator(), one_result("c-op", "p-shared", "Observation/obs-p-team"))
    assert ids(get(hospital.operator(), "Consent")) == set()
    assert status(hospital.doctor(), "Observation/obs-p-stranger") == 404


def test_no_one_widens_their_own_access_with_it(hospital: Hospital) -> None:
    doc = hospital.doctor()
    # a result the doctor sees already, named for themself: a new share, so refused
    exc = failure(doc, one_result("c-me", "p-team", "Observation/obs-p-team"))
    assert exc.status == 403 and "share more of a patient's record with you" in exc.message
    # a sensitive result hidden from them: they cannot even name it
    secret = one_result("c-me2", "p-team", "Observation/obs-p-team-secret", labels=((ACT, "V"),))
    assert failure(doc, secret).status == 422
    # a patient they do not reach at all: not theirs to write
    assert failure(doc, one_result("c-me3", "p-shared", "Observation/obs-p-shared")).status == 403
    assert ids(get(hospital.operator(), "Consent")) == set()
    assert status(hospital.doctor(), "Observation/obs-p-team-secret") == 404
    # the same share for a colleague is recorded (it widens no one's own access)
    colleague = one_result("c-col", "p-team", "Observation/obs-p-team", actor="Practitioner/b")
    assert write(doc, colleague) == 201


def test_withdrawing_is_never_held_up_by_the_result_changing(hospital: Hospital) -> None:
    hospital.put(one_result("c-w", "p-shared", "Observation/obs-p-shared"))
    moved = {**observation("obs-p-shared", "p-stranger")}
    assert hospital.put(moved).status == 200  # the result was filed against the wrong patient
    assert status(hospital.doctor(), "Observation/obs-p-shared") == 404  # not p-shared's now
    stored = get(hospital.operator(), "Consent/c-w").resource
    assert stored is not None
    assert write(patient_user(hospital, "p-shared"), {**stored, "status": "inactive"}) == 200
