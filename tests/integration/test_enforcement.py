"""SMART scopes enforced by the Repository (SMART App Launch 2.2 "Scopes"), on both backends.

Two patients' data is written by the operator; then callers with patient/, user/ and granular
scopes read, search, include and page through it. A resource outside a caller's grant must look
exactly like one that does not exist. Writes are in test_enforcement_writes.py.
"""

from __future__ import annotations

import pytest

from bedside.audit.entry import NullAuditor
from bedside.consent.evaluate import shares_for
from bedside.errors import Forbidden, NotFound
from bedside.policy.decide import Policy
from bedside.rest import Repository
from bedside.store import Store
from tests.conftest import BASE, OPERATOR
from tests.integration._scoped import (
    LAB_SCOPE,
    VITAL_SCOPE,
    bundle,
    follow,
    get,
    ids,
    refusal,
    repo_as,
    seen_as,
    world,
)

__all__ = ["world"]  # the fixture


# --- read, vread, history ----------------------------------------------------------------------


def test_patient_scope_reads_own_observation(world: Store) -> None:
    repo = repo_as(world, "patient/Observation.rs", patient="p1")
    resp = get(repo, "Observation/p1-lab")
    assert resp.status == 200 and resp.resource is not None
    assert resp.resource["id"] == "p1-lab"


@pytest.mark.parametrize(
    "path",
    ["Observation/{}", "Observation/{}/_history/1", "Observation/{}/_history"],
    ids=["read", "vread", "history-instance"],
)
def test_another_patients_observation_answers_exactly_like_a_missing_one(
    world: Store, path: str
) -> None:
    repo = repo_as(world, "patient/Observation.rs", patient="p1")
    hidden = refusal(repo, path.format("p2-lab"))
    missing = refusal(repo, path.format("no-such-obs"))
    assert isinstance(hidden, NotFound)
    assert seen_as(hidden, "p2-lab") == seen_as(missing, "no-such-obs")
    assert (
        get(
            Repository(
                world, OPERATOR, BASE, policy=Policy(consents=shares_for), auditor=NullAuditor()
            ),
            path.format("p2-lab"),
        ).status
        == 200
    )


def test_type_history_lists_only_visible_resources(world: Store) -> None:
    repo = repo_as(world, "patient/Observation.rs", patient="p1")
    history = bundle(repo, "Observation/_history")
    assert {e["resource"]["id"] for e in history["entry"]} == {"p1-lab", "p1-vital", "p2-by-p1"}
    everything = bundle(
        Repository(
            world, OPERATOR, BASE, policy=Policy(consents=shares_for), auditor=NullAuditor()
        ),
        "Observation/_history",
    )
    assert len(everything["entry"]) == 5


def test_ungranted_type_is_403_insufficient_scope(world: Store) -> None:
    repo = repo_as(world, "patient/Observation.rs", patient="p1")
    for path in ("Encounter/p1-enc", "Encounter", "Encounter/_history"):
        exc = refusal(repo, path)
        assert isinstance(exc, Forbidden)
        assert 'error="insufficient_scope"' in exc.headers["WWW-Authenticate"]


# --- search --------------------------------------------------------------------------------------


def test_search_returns_and_counts_only_the_callers_compartment(world: Store) -> None:
    repo = repo_as(world, "patient/*.rs", patient="p1")
    b = bundle(repo, "Observation")
    assert ids(b) == {"p1-lab", "p1-vital", "p2-by-p1"}
    assert b["total"] == 3
    assert bundle(repo, "Observation", ("_summary", "count"))["total"] == 3
    assert bundle(repo, "Encounter")["total"] == 1
    other = bundle(repo, "Observation", ("patient", "Patient/p2"))
    assert ids(other) == {"p2-by-p1"}  # p2's own results stay hidden even when asked for
    assert bundle(repo, "Observation", ("category", "laboratory"))["total"] == 1


def test_paging_follows_only_visible_rows(world: Store) -> None:
    repo = repo_as(world, "patient/Observation.rs", patient="p1")
    page = bundle(repo, "Observation", ("_count", "1"), ("_sort", "_id"))
    seen = [e["resource"]["id"] for e in page["entry"]]
    while nxt := [link["url"] for link in page["link"] if link["relation"] == "next"]:
        page = follow(repo, nxt[0])
        seen += [e["resource"]["id"] for e in page.get("entry", [])]
    assert seen == ["p1-lab", "p1-vital", "p2-by-p1"]


def test_patient_search_finds_only_the_patient_itself(world: Store) -> None:
    repo = repo_as(world, "patient/Patient.rs", patient="p1")
    assert ids(bundle(repo, "Patient")) == {"p1"}
    assert bundle(repo, "Patient", ("_id", "p2"))["total"] == 0
    assert isinstance(refusal(repo, "Patient/p2"), NotFound)


def test_patient_scope_without_a_launch_patient_sees_nothing(world: Store) -> None:
    repo = repo_as(world, "patient/*.rs")
    assert bundle(repo, "Observation")["total"] == 0
    assert bundle(repo, "Practitioner")["total"] == 0
    assert isinstance(refusal(repo, "Observation/p1-lab"), NotFound)


def test_patient_user_with_user_scopes_is_confined_to_their_own_compartment(
    world: Store,
) -> None:
    patient_user = repo_as(world, "user/*.rs", role="patient", fhir_user="Patient/p1")
    assert ids(bundle(patient_user, "Encounter")) == {"p1-enc"}
    assert isinstance(refusal(patient_user, "Encounter/p2-enc"), NotFound)
    # staff see only the patients policy relates them to (tests/integration/test_policy_access.py)
    nurse = repo_as(world, "user/*.rs", role="nurse", fhir_user="Practitioner/doc")
    assert ids(bundle(nurse, "Encounter")) == set()


def test_reference_data_is_readable_and_other_types_outside_the_compartment_are_not(
    world: Store,
) -> None:
    repo = repo_as(world, "patient/*.rs", patient="p1")
    assert get(repo, "Practitioner/doc").status == 200
    assert ids(bundle(repo, "Practitioner")) == {"doc"}
    assert bundle(repo, "Device")["total"] == 0  # Device is never in the patient compartment
    # a Task is in the compartment of the patient it is for (ADR 0018)
    assert ids(bundle(repo, "Task")) == {"p1-task"}
    assert isinstance(refusal(repo_as(world, "patient/Observation.rs", patient="p1"),
                              "Practitioner/doc"), Forbidden)  # fmt: skip


# --- granular scopes -----------------------------------------------------------------------------


def test_granular_scope_returns_only_matching_observations(world: Store) -> None:
    repo = repo_as(world, LAB_SCOPE, patient="p1")
    assert ids(bundle(repo, "Observation")) == {"p1-lab"}
    assert bundle(repo, "Observation", ("_summary", "count"))["total"] == 1
    assert get(repo, "Observation/p1-lab").status == 200
    hidden = refusal(repo, "Observation/p1-vital")
    assert seen_as(hidden, "p1-vital") == seen_as(refusal(repo, "Observation/nope"), "nope")


def test_two_granular_scopes_are_ored(world: Store) -> None:
    repo = repo_as(world, f"{LAB_SCOPE} {VITAL_SCOPE}", patient="p1")
    assert ids(bundle(repo, "Observation")) == {"p1-lab", "p1-vital"}
    unconfined = repo_as(world, LAB_SCOPE.replace("patient/", "system/"))
    assert ids(bundle(unconfined, "Observation")) == {"p1-lab", "p2-lab"}


# --- _include and _revinclude --------------------------------------------------------------------


def test_include_never_adds_another_patient(world: Store) -> None:
    repo = repo_as(world, "patient/*.rs", patient="p1")
    b = bundle(repo, "Observation", ("_include", "Observation:subject"))
    assert ids(b) == {"p1-lab", "p1-vital", "p2-by-p1"}
    assert ids(b, "include") == {"p1"}  # p2-by-p1's subject, Patient/p2, is left out
    op = Repository(
        world, OPERATOR, BASE, policy=Policy(consents=shares_for), auditor=NullAuditor()
    )
    operator = bundle(op, "Observation",
                      ("patient", "p1"), ("_include", "Observation:subject"))  # fmt: skip
    assert ids(operator, "include") == {"p1"}


def test_revinclude_never_adds_another_patients_resources(world: Store) -> None:
    repo = repo_as(world, "patient/*.rs", patient="p1")
    b = bundle(repo, "Practitioner", ("_revinclude", "Observation:performer"))
    assert ids(b) == {"doc"}
    assert ids(b, "include") == {"p1-lab"}  # not p2-lab, which doc also performed
    b = bundle(repo, "Patient", ("_revinclude", "Observation:subject"))
    assert ids(b, "include") == {"p1-lab", "p1-vital"}


def test_included_resources_obey_granular_scopes_and_type_grants(world: Store) -> None:
    repo = repo_as(world, f"{LAB_SCOPE} patient/Practitioner.rs", patient="p1")
    b = bundle(repo, "Practitioner", ("_revinclude", "Observation:performer"))
    assert ids(b, "include") == {"p1-lab"}
    obs_only = repo_as(world, "patient/Observation.rs", patient="p1")
    b = bundle(obs_only, "Observation", ("_include", "Observation:subject"))
    assert ids(b, "include") == set()  # no Patient scope: nothing to include
    exc = refusal(obs_only, "Observation", ("_include", "Observation:subject:Patient"))
    assert isinstance(exc, Forbidden)
