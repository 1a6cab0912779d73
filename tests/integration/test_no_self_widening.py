"""No write widens its writer's own access (issue 13, findings 1-5), on SQLite and PostgreSQL.

Each test writes as the clinician of :mod:`tests.integration._policy_world` and checks both the
refusal and that the clinician's view is what it was: nothing was stored.
"""

from __future__ import annotations

from typing import Any

import pytest

from bedside.errors import FhirError, Forbidden
from bedside.rest import FhirRequest, Repository
from bedside.store import Store
from tests.integration._policy_world import (
    CONF,
    DOC,
    Hospital,
    build,
    consent,
    get,
    ids,
    observation,
    status,
)

RELATED = {"obs-p-team", "obs-p-ward", "obs-p-assigned"}


@pytest.fixture
def hospital(store: Store) -> Hospital:
    return build(store)


def write(repo: Repository, method: str, resource: dict[str, Any]) -> FhirError | int:
    path = resource["resourceType"] + (f"/{resource['id']}" if method == "PUT" else "")
    try:
        return repo.handle(FhirRequest(method, path, body=resource)).status
    except FhirError as exc:
        return exc


def refused(repo: Repository, method: str, resource: dict[str, Any]) -> Forbidden:
    outcome = write(repo, method, resource)
    assert isinstance(outcome, Forbidden), outcome
    return outcome


def observations_seen(hospital: Hospital) -> set[str]:
    return ids(get(hospital.doctor(), "Observation"))


def test_a_care_team_naming_a_stranger_and_a_patient_of_mine_is_refused(
    hospital: Hospital,
) -> None:
    """Finding 1: a CareTeam for p-stranger with the doctor and p-team as participants."""
    team = {
        "resourceType": "CareTeam",
        "id": "self-made",
        "status": "active",
        "subject": {"reference": "Patient/p-stranger"},
        "participant": [
            {"member": {"reference": DOC}},
            {"member": {"reference": "Patient/p-team"}},
        ],
    }
    exc = refused(hospital.doctor(), "POST", team)
    assert "outside the patient's compartment" in exc.message
    assert status(hospital.doctor(), "Patient/p-stranger") == 404
    assert status(hospital.operator(), "CareTeam/self-made") == 404


def test_an_observation_about_a_stranger_with_a_performer_i_care_for_is_refused(
    hospital: Hospital,
) -> None:
    """Finding 2: written into the chart of a patient the writer cannot see."""
    obs = observation("into-stranger", "p-stranger")
    obs["performer"] = [{"reference": "Patient/p-team"}]
    refused(hospital.doctor(), "POST", obs)
    seen = get(hospital.operator(), "Observation", ("subject", "Patient/p-stranger"))
    assert ids(seen) == {"obs-p-stranger"}


def test_a_care_team_that_only_concerns_my_patient_may_still_be_written(
    hospital: Hospital,
) -> None:
    """The rule does not stop ordinary work: a team for a patient the doctor cares for, naming
    a colleague, is stored."""
    team = {
        "resourceType": "CareTeam",
        "status": "active",
        "subject": {"reference": "Patient/p-team"},
        "participant": [{"member": {"reference": "Practitioner/colleague"}}],
    }
    assert write(hospital.doctor(), "POST", team) == 201


def test_adding_myself_to_a_care_team_is_refused_even_for_a_patient_i_reach(
    hospital: Hospital,
) -> None:
    """A team for p-ward (reached through the ward) naming the doctor would outlast the
    encounter: a new reason to reach the patient, which someone else must give."""
    team = {
        "resourceType": "CareTeam",
        "status": "active",
        "subject": {"reference": "Patient/p-ward"},
        "participant": [{"member": {"reference": DOC}}],
    }
    exc = refused(hospital.doctor(), "POST", team)
    assert "new or longer-lasting reason" in exc.message
    assert ids(get(hospital.operator(), "CareTeam")) == {"team1"}


def test_extending_my_own_care_team_is_refused(hospital: Hospital) -> None:
    team = get(hospital.operator(), "CareTeam/team1").resource
    assert team is not None
    longer = {**team, "period": {"start": "2026-11-01", "end": "2027-11-30"}}
    refused(hospital.doctor(), "PUT", longer)
    assert get(hospital.operator(), "CareTeam/team1").version == 1


def test_a_doctor_cannot_move_a_location_into_their_ward(hospital: Hospital) -> None:
    """Finding 3: Location is reference data; only a role naming the type changes it."""
    hospital.put({"resourceType": "Location", "id": "W9", "name": "Ward 9"})
    hospital.put(
        {
            "resourceType": "Encounter",
            "id": "enc-w9",
            "status": "in-progress",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": "Patient/p-stranger"},
            "location": [{"location": {"reference": "Location/W9"}, "status": "active"}],
        }
    )
    moved = {
        "resourceType": "Location",
        "id": "W9",
        "name": "Ward 9",
        "partOf": {"reference": "Location/W1"},
    }
    exc = refused(hospital.doctor(), "PUT", moved)
    assert "doctor role does not allow update on Location" in exc.message
    assert status(hospital.doctor(), "Patient/p-stranger") == 404
    admin = hospital.as_user("admin", "Practitioner/admin")
    assert write(admin, "PUT", moved) == 200  # the role the policy names for it may


def test_a_consent_permitting_myself_very_restricted_data_is_refused(hospital: Hospital) -> None:
    """Finding 4: a doctor's own Consent sharing V data with themselves."""
    assert "obs-p-team-secret" not in observations_seen(hospital)
    grant = consent("self-grant", "p-team", labels=((CONF, "V"),))
    exc = refused(hospital.doctor(), "POST", grant)
    assert "share more of a patient's record with you" in exc.message
    assert "obs-p-team-secret" not in observations_seen(hospital)
    assert ids(get(hospital.operator(), "Consent")) == set()


def test_a_consent_for_a_colleague_is_still_recorded(hospital: Hospital) -> None:
    grant = consent("for-colleague", "p-team", actor="Practitioner/colleague")
    assert write(hospital.doctor(), "PUT", grant) == 201


def test_a_doctor_cannot_lift_a_refusal_that_covers_them(hospital: Hospital) -> None:
    """Finding 5: setting the patient's deny Consent to inactive."""
    deny = consent("deny-doc", "p-team", kind="deny", types=("Observation",))
    hospital.put(deny)
    assert status(hospital.doctor(), "Observation/obs-p-team") == 404
    assert status(hospital.doctor(), "Consent/deny-doc") == 200  # the refusal itself is seen
    lifted = {**deny, "status": "inactive"}
    exc = refused(hospital.doctor(), "PUT", lifted)
    assert "lift a refusal that applies to you" in exc.message
    assert status(hospital.doctor(), "Observation/obs-p-team") == 404
    # The patient may withdraw their own refusal; then the care team sees the record again.
    patient = hospital.as_user("patient", "Patient/p-team")
    assert write(patient, "PUT", lifted) == 200
    assert status(hospital.doctor(), "Observation/obs-p-team") == 200


def test_a_refusal_may_be_recorded_against_myself(hospital: Hospital) -> None:
    """Narrowing one's own access is always allowed."""
    assert write(hospital.doctor(), "PUT", consent("deny-me", "p-team", kind="deny")) == 201
    assert status(hospital.doctor(), "Observation/obs-p-team") == 404


def test_a_transaction_that_widens_stores_none_of_its_entries(hospital: Hospital) -> None:
    """The same rule inside a transaction Bundle: the whole Bundle rolls back."""
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": observation("in-bundle", "p-assigned"),
                "request": {"method": "POST", "url": "Observation"},
            },
            {
                "resource": {
                    "resourceType": "CareTeam",
                    "status": "active",
                    "subject": {"reference": "Patient/p-assigned"},
                    "participant": [{"member": {"reference": DOC}}],
                },
                "request": {"method": "POST", "url": "CareTeam"},
            },
        ],
    }
    with pytest.raises(Forbidden):
        hospital.doctor().handle(FhirRequest("POST", "", body=bundle))
    assert ids(get(hospital.operator(), "CareTeam")) == {"team1"}
    assert observations_seen(hospital) == RELATED
