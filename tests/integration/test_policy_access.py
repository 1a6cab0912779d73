"""Who sees which patients (docs/policy.md): care team, ward, assignment, consent, labels.

Every test runs on SQLite and on the real PostgreSQL, through the Repository the HTTP layer
uses, with a controllable clock.
"""

from __future__ import annotations

import pytest

from bedside.errors import FhirError
from bedside.policy import assignments
from bedside.rest import FhirRequest
from bedside.store.base import Store
from tests.integration._policy_world import (
    ACT,
    CONF,
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

RELATED = {"obs-p-team", "obs-p-ward", "obs-p-assigned"}


@pytest.fixture
def hospital(store: Store) -> Hospital:
    return build(store)


def test_a_clinician_sees_exactly_the_patients_policy_relates_them_to(hospital: Hospital) -> None:
    doc = hospital.doctor()
    for patient in ("p-team", "p-ward", "p-assigned"):
        assert status(doc, f"Patient/{patient}") == 200
    for patient in ("p-stranger", "p-shared"):
        assert status(doc, f"Patient/{patient}") == 404  # as if it did not exist
    assert ids(get(doc, "Observation")) == RELATED
    assert ids(get(doc, "Patient")) == {"p-team", "p-ward", "p-assigned"}


def test_searches_never_count_or_include_what_the_caller_cannot_see(hospital: Hospital) -> None:
    doc = hospital.doctor()
    count = get(doc, "Observation", ("_summary", "count")).resource
    assert count is not None and count["total"] == len(RELATED)
    assert ids(get(doc, "Observation", ("subject", "Patient/p-stranger"))) == set()
    # _revinclude from a visible patient drops the sensitive Observation
    both = get(doc, "Patient", ("_id", "p-team"), ("_revinclude", "Observation:subject"))
    assert ids(both) == {"p-team"} and ids(both, "include") == {"obs-p-team"}
    # _include from visible Observations never reaches an invisible patient
    inc = get(doc, "Observation", ("_include", "Observation:subject"))
    assert ids(inc, "include") == {"p-team", "p-ward", "p-assigned"}
    # chained parameters and _has cannot be used to probe (more in test_policy_chains.py)
    assert ids(get(doc, "Observation", ("subject:Patient._id", "p-stranger"))) == set()
    assert ids(get(doc, "Patient", ("_has:Observation:subject:_id", "obs-p-stranger"))) == set()


def test_history_and_vread_of_an_invisible_resource_are_not_known(hospital: Hospital) -> None:
    doc = hospital.doctor()
    assert status(doc, "Observation/obs-p-stranger/_history") == 404
    assert status(doc, "Observation/obs-p-stranger/_history/1") == 404
    history = get(doc, "Observation/_history").resource
    assert history is not None
    seen = {e["resource"]["id"] for e in history.get("entry", []) if "resource" in e}
    assert seen <= RELATED


def test_care_team_membership_ends_with_the_team_period(hospital: Hospital) -> None:
    doc = hospital.doctor()
    assert status(doc, "Patient/p-team") == 200
    hospital.clock.advance(10 * DAY)  # the team's period ends on 2026-11-30
    assert status(hospital.doctor(), "Patient/p-team") == 404


def test_ward_access_follows_the_encounter_and_the_assignment(hospital: Hospital) -> None:
    assert status(hospital.doctor(), "Patient/p-ward") == 200
    encounter = get(hospital.operator(), "Encounter/enc-ward").resource
    assert encounter is not None
    hospital.put({**encounter, "status": "finished"})
    assert status(hospital.doctor(), "Patient/p-ward") == 404
    hospital.put({**encounter, "status": "in-progress"})
    assert status(hospital.doctor(), "Patient/p-ward") == 200
    assignments.remove(hospital.store, DOC, "location", "W1")
    assert status(hospital.doctor(), "Patient/p-ward") == 404


def test_sensitive_data_needs_a_consent_naming_it(hospital: Hospital) -> None:
    doc = hospital.doctor()
    assert status(doc, "Observation/obs-p-team-secret") == 404
    assert "obs-p-team-secret" not in ids(get(doc, "Observation", ("subject", "Patient/p-team")))
    # a consent sharing Observations without naming V does not reveal it
    hospital.put(consent("c-plain", "p-team", types=("Observation",), end="2026-12-21"))
    assert status(hospital.doctor(), "Observation/obs-p-team-secret") == 404
    hospital.put(consent("c-v", "p-team", types=("Observation",), labels=((CONF, "V"),)))
    assert status(hospital.doctor(), "Observation/obs-p-team-secret") == 200


def test_sharing_observations_for_thirty_days_shares_exactly_that(hospital: Hospital) -> None:
    assert status(hospital.doctor(), "Observation/obs-p-shared") == 404
    hospital.put(consent("c-30", "p-shared", types=("Observation",), end="2026-12-21"))
    doc = hospital.doctor()
    assert status(doc, "Observation/obs-p-shared") == 200
    assert status(doc, "Observation/obs-p-shared-psy") == 404  # sensitive: not named
    assert status(doc, "Condition/cond-p-shared") == 404  # not an Observation
    assert ids(get(doc, "Observation", ("subject", "Patient/p-shared"))) == {"obs-p-shared"}
    # a share is for reading: the clinician cannot write into the shared record
    with pytest.raises(FhirError) as refused:
        doc.handle(
            FhirRequest("PUT", "Observation/obs-new", body=observation("obs-new", "p-shared"))
        )
    assert refused.value.status == 403
    # other clinicians get nothing from it
    other = hospital.as_user("doctor", "Practitioner/other")
    assert status(other, "Observation/obs-p-shared") == 404
    hospital.clock.advance(29 * DAY)
    assert status(hospital.doctor(), "Observation/obs-p-shared") == 200  # 2026-12-20
    hospital.clock.advance(2 * DAY)
    assert status(hospital.doctor(), "Observation/obs-p-shared") == 404  # expired


def test_a_share_with_an_organisation_reaches_those_working_for_it_now(hospital: Hospital) -> None:
    """A patient may share with an organisation (the portal offers them): the Consent's actor
    is an Organization, and a clinician counts as it while a PractitionerRole says they work
    there."""
    hospital.put({"resourceType": "Organization", "id": "org-gp", "name": "Riverside practice"})
    role = {
        "resourceType": "PractitionerRole",
        "id": "role-doc",
        "active": True,
        "practitioner": {"reference": DOC},
        "organization": {"reference": "Organization/org-gp"},
        "period": {"start": "2026-11-01", "end": "2026-11-25"},
    }
    hospital.put(role)
    assert status(hospital.doctor(), "Observation/obs-p-shared") == 404
    hospital.put(
        consent(
            "c-org",
            "p-shared",
            actor="Organization/org-gp",
            types=("Observation",),
            end="2026-12-21",
        )
    )
    assert status(hospital.doctor(), "Observation/obs-p-shared") == 200
    assert status(hospital.doctor(), "Condition/cond-p-shared") == 404  # not an Observation
    assert (
        status(hospital.as_user("doctor", "Practitioner/other"), "Observation/obs-p-shared") == 404
    )
    # a clinician cannot make themselves a member: roles are reference data (ADR 0009)
    mine = {**role, "id": "role-other", "practitioner": {"reference": "Practitioner/other"}}
    with pytest.raises(FhirError) as refused:
        hospital.as_user("doctor", "Practitioner/other").handle(
            FhirRequest("PUT", "PractitionerRole/role-other", body=mine)
        )
    assert refused.value.status == 403
    hospital.clock.advance(5 * DAY)  # the role ended on 2026-11-25
    assert status(hospital.doctor(), "Observation/obs-p-shared") == 404


def test_withdrawing_a_consent_takes_effect_at_once_and_tells_devices(hospital: Hospital) -> None:
    shared = consent("c-w", "p-shared", types=("Observation",), end="2026-12-21")
    hospital.put(shared)
    assert status(hospital.doctor(), "Observation/obs-p-shared") == 200
    hospital.put({**shared, "status": "inactive"})
    assert status(hospital.doctor(), "Observation/obs-p-shared") == 404
    with hospital.store.records() as db:
        rows = db.rows("SELECT kind, patient, source FROM access_changes")
        feed = db.rows("SELECT op FROM change_feed WHERE op = ?", ("access-revoked",))
    assert rows == [("consent-revoked", "p-shared", "Consent/c-w")] and len(feed) == 1


def test_a_patients_refusal_beats_care_team_access(hospital: Hospital) -> None:
    hospital.put(consent("c-deny", "p-team", kind="deny", types=("Observation",)))
    doc = hospital.doctor()
    assert status(doc, "Observation/obs-p-team") == 404
    assert status(doc, "Patient/p-team") == 200  # only Observations were refused


def test_role_permissions_come_from_the_policy_file(hospital: Hospital) -> None:
    nurse = hospital.as_user("nurse", DOC)
    with pytest.raises(FhirError) as refused:
        nurse.handle(
            FhirRequest(
                "POST",
                "Condition",
                body={"resourceType": "Condition", "subject": {"reference": "Patient/p-team"}},
            )
        )
    assert refused.value.status == 403 and "nurse role" in refused.value.issues[0].diagnostics
    made = nurse.handle(FhirRequest("POST", "Observation", body=observation("x", "p-team")))
    assert made.status == 201
    with pytest.raises(FhirError) as no_delete:
        hospital.doctor().handle(FhirRequest("DELETE", "Observation/obs-p-team"))
    assert no_delete.value.status == 403
    # auditors see no clinical content, support staff nothing at all
    for role in ("auditor", "support"):
        assert status(hospital.as_user(role, "Practitioner/x"), "Patient/p-team") == 403


def test_a_write_about_an_unrelated_patient_is_refused_and_nothing_is_stored(
    hospital: Hospital,
) -> None:
    doc = hospital.doctor()
    with pytest.raises(FhirError) as refused:
        doc.handle(FhirRequest("POST", "Observation", body=observation("y", "p-stranger")))
    assert refused.value.status == 403
    found = get(hospital.operator(), "Observation", ("subject", "Patient/p-stranger"))
    assert ids(found) == {"obs-p-stranger"}


def test_a_patient_user_sees_their_whole_record_and_nobody_elses(hospital: Hospital) -> None:
    me = hospital.as_user("patient", "Patient/p-team")
    assert status(me, "Observation/obs-p-team-secret") == 200  # their own sensitive data
    assert status(me, "Patient/p-ward") == 404
    assert ids(get(me, "Observation")) == {"obs-p-team", "obs-p-team-secret"}
    with pytest.raises(FhirError) as refused:
        me.handle(FhirRequest("POST", "Consent", body=consent("c-x", "p-ward")))
    assert refused.value.status == 403
    made = me.handle(FhirRequest("PUT", "Consent/c-mine", body=consent("c-mine", "p-team")))
    assert made.status == 201


def test_labels_outside_the_sensitive_list_do_not_hide_data(hospital: Hospital) -> None:
    hospital.put(observation("obs-n", "p-team", (CONF, "N")))
    assert status(hospital.doctor(), "Observation/obs-n") == 200
    hospital.put(observation("obs-psy", "p-team", (ACT, "PSY"), (CONF, "N")))
    assert status(hospital.doctor(), "Observation/obs-psy") == 404
