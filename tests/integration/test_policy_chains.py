"""Chains, ``_has``, compartment searches, ``$everything`` and system history stay inside a
clinician's view (docs/policy.md, docs/api.md "Access enforcement"), on both backends.

A doctor related to p-team, p-ward and p-assigned must not learn anything about p-stranger
or p-shared, nor about p-team's sensitive (V) Observation, through a search that reaches
another resource: each probe is answered exactly as the same probe about something that does
not exist, while the operator's answer shows the probe would match if it were not confined.
"""

from __future__ import annotations

from typing import Any

import pytest

from bedside.rest import FhirRequest, Repository
from bedside.store.base import Store
from tests.integration._policy_world import CONF, Hospital, build, get, ids, observation, status


@pytest.fixture
def hospital(store: Store) -> Hospital:
    world = build(store)
    extra: list[dict[str, Any]] = [
        # visible to the doctor through p-team, but performed by p-stranger (self-reported)
        {**observation("obs-team-by-stranger", "p-team"),
         "performer": [{"reference": "Patient/p-stranger"}]},
        # a visible panel whose member is p-team's sensitive Observation
        {**observation("obs-team-panel", "p-team"),
         "hasMember": [{"reference": "Observation/obs-p-team-secret"}]},
    ]  # fmt: skip
    for resource in extra:
        assert world.put(resource).status == 201
    return world


def both(hospital: Hospital, path: str, *query: tuple[str, str]) -> tuple[set[str], set[str]]:
    """(what the operator finds, what the doctor finds)."""
    return ids(get(hospital.operator(), path, *query)), ids(get(hospital.doctor(), path, *query))


def test_a_chain_does_not_reach_a_patient_outside_the_view(hospital: Hospital) -> None:
    probe = ("performer:Patient._id", "p-stranger")
    operator, doctor = both(hospital, "Observation", probe)
    assert operator == {"obs-team-by-stranger"}  # the probe would match, unconfined
    assert doctor == set()
    _, missing = both(hospital, "Observation", ("performer:Patient._id", "no-such-patient"))
    assert doctor == missing
    # the same holds for a value of the hidden patient's record
    _, active = both(hospital, "Observation", ("performer:Patient.active", "true"))
    assert active == set()


def test_a_chain_does_not_reach_sensitive_data_the_doctor_cannot_see(hospital: Hospital) -> None:
    probe = ("has-member:Observation._security", f"{CONF}|V")
    operator, doctor = both(hospital, "Observation", probe)
    assert operator == {"obs-team-panel"}
    assert doctor == set()


def test_has_does_not_reveal_hidden_resources_or_patients(hospital: Hospital) -> None:
    secret = ("_has:Observation:subject:_security", f"{CONF}|V")
    operator, doctor = both(hospital, "Patient", secret)
    assert operator == {"p-team"}
    assert doctor == set()
    condition = ("_has:Condition:patient:_id", "cond-p-shared")
    operator, doctor = both(hospital, "Patient", condition)
    assert operator == {"p-shared"}
    assert doctor == set()
    anything = ("_has:Observation:subject:status", "final")
    operator, doctor = both(hospital, "Patient", anything)
    assert {"p-stranger", "p-shared"} <= operator
    assert doctor == {"p-team", "p-ward", "p-assigned"}


def test_a_compartment_search_of_a_hidden_patient_is_not_known(hospital: Hospital) -> None:
    doc = hospital.doctor()
    assert status(doc, "Patient/p-stranger/Observation") == 404
    assert status(doc, "Patient/no-such-patient/Observation") == 404
    assert status(hospital.operator(), "Patient/p-stranger/Observation") == 200
    seen = ids(get(doc, "Patient/p-team/Observation"))
    assert "obs-p-team-secret" not in seen and "obs-p-team" in seen
    # a resource of another patient that is also in p-team's compartment stays visible
    assert "obs-team-by-stranger" in seen


def test_everything_is_confined_like_a_search(hospital: Hospital) -> None:
    doc = hospital.doctor()
    assert status(doc, "Patient/p-stranger/$everything") == 404
    assert status(doc, "Patient/no-such-patient/$everything") == 404
    seen = ids(get(doc, "Patient/p-team/$everything", ("_count", "1000")))
    everything = ids(get(hospital.operator(), "Patient/p-team/$everything", ("_count", "1000")))
    assert "obs-p-team-secret" in everything
    assert "obs-p-team-secret" not in seen
    assert {"p-team", "obs-p-team", "team1"} <= seen


def test_system_history_lists_only_what_the_doctor_may_see(hospital: Hospital) -> None:
    resp = hospital.doctor().handle(FhirRequest("GET", "_history", query=(("_count", "1000"),)))
    assert resp.resource is not None
    seen = {e["resource"]["id"] for e in resp.resource["entry"] if "resource" in e}
    assert "obs-p-team" in seen
    hidden = {"obs-p-stranger", "obs-p-shared", "obs-p-team-secret", "p-stranger", "cond-p-shared"}
    assert not seen & hidden
    operator = Repository.handle(
        hospital.operator(), FhirRequest("GET", "_history", query=(("_count", "1000"),))
    )
    assert operator.resource is not None
    assert hidden <= {e["resource"]["id"] for e in operator.resource["entry"] if "resource" in e}


# --- audit: the new paths are audited like the reads they are ---------------------------------


def audited(store: Store, patient: str) -> list[tuple[str, str]]:
    """(subtype, outcome) of every audit row about ``patient``, oldest first."""
    with store.records() as db:
        rows = db.rows(
            "SELECT subtype, outcome FROM audit_log WHERE n IN"
            " (SELECT n FROM audit_patients WHERE patient = ?) ORDER BY n",
            (patient,),
        )
    return [(str(r[0]), str(r[1])) for r in rows]


def test_compartment_search_and_everything_are_audited_with_the_patient(store: Store) -> None:
    hospital = build(store, audit=True)
    assert hospital.auditor is not None
    try:
        doc = hospital.doctor()
        before = audited(store, "p-team")
        assert status(doc, "Patient/p-team/Observation") == 200
        assert status(doc, "Patient/p-team/$everything") == 200
        assert status(doc, "Patient/p-stranger/Observation") == 404
        assert status(doc, "Patient/p-stranger/$everything") == 404
        hospital.auditor.close()
        after = audited(store, "p-team")[len(before) :]
        assert ("search-type", "0") in after and ("operation", "0") in after
        stranger = audited(store, "p-stranger")
        assert stranger.count(("search-type", "4")) == 1  # refusals name the patient too
        assert stranger.count(("operation", "4")) == 1
    finally:
        hospital.auditor.close()
