"""The access invariant, property-based: no allowed write widens its writer's own view.

Hypothesis generates a caller (a doctor, a nurse, a patient user) and a run of writes across
the types policy reads (CareTeam, Encounter, Location, Consent) and clinical data
(Observation), with subjects, members, wards, periods, labels and statuses drawn from the
:mod:`tests.integration._policy_world` hospital, on a fresh SQLite store per example. After
every write the store accepted, what the caller can actually read must be no more than before:
no Patient it could not read, and no Observation but those it wrote itself. The oracle is the
caller's own searches, not the policy code under test. (The same rule runs on PostgreSQL in
``test_no_self_widening``; the code path does not depend on the backend.)
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bedside.errors import FhirError, Forbidden
from bedside.fhir.compartment import patients_of
from bedside.rest import FhirRequest, Repository
from bedside.store import open_store
from tests.integration._policy_world import CONF, DOC, PATIENTS, build, consent, get, ids

PATIENT_REFS = [f"Patient/{p}" for p in PATIENTS]
MEMBERS = [DOC, "Practitioner/colleague", *PATIENT_REFS]
PERIOD_ENDS = [None, "2026-11-30", "2027-12-31"]

patients = st.sampled_from(PATIENTS)


@st.composite
def care_teams(draw: st.DrawFn) -> dict[str, Any]:
    team: dict[str, Any] = {
        "resourceType": "CareTeam",
        "id": draw(st.sampled_from(["team1", "ct-new"])),
        "status": draw(st.sampled_from(["active", "active", "inactive"])),
        "subject": {"reference": f"Patient/{draw(patients)}"},
        "participant": [
            {"member": {"reference": m}}
            for m in draw(st.lists(st.sampled_from(MEMBERS), min_size=1, max_size=3, unique=True))
        ],
    }
    if draw(st.booleans()) and DOC not in str(team["participant"]):  # the writer, often
        team["participant"].append({"member": {"reference": DOC}})
    end = draw(st.sampled_from(PERIOD_ENDS))
    if end:
        team["period"] = {"start": "2026-11-01", "end": end}
    return team


@st.composite
def encounters(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "resourceType": "Encounter",
        "id": draw(st.sampled_from(["enc-ward", "enc-new"])),
        "status": draw(st.sampled_from(["in-progress", "finished"])),
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
        "subject": {"reference": f"Patient/{draw(patients)}"},
        "location": [
            {
                "location": {"reference": f"Location/{draw(st.sampled_from(['W1', 'W1-bed3']))}"},
                "status": "active",
            }
        ],
    }


@st.composite
def locations(draw: st.DrawFn) -> dict[str, Any]:
    loc: dict[str, Any] = {
        "resourceType": "Location",
        "id": draw(st.sampled_from(["W1-bed3", "W9", "loc-new"])),
        "name": "somewhere",
    }
    parent = draw(st.sampled_from([None, "W1", "W1-bed3"]))
    if parent:
        loc["partOf"] = {"reference": f"Location/{parent}"}
    return loc


@st.composite
def consents(draw: st.DrawFn) -> dict[str, Any]:
    return consent(
        draw(st.sampled_from(["deny-assigned", "c-new"])),
        draw(patients),
        status=draw(st.sampled_from(["active", "inactive", "draft"])),
        kind=draw(st.sampled_from(["permit", "deny"])),
        actor=draw(st.sampled_from([DOC, "Practitioner/colleague", None])),
        types=draw(st.sampled_from([(), ("Observation",)])),
        labels=draw(st.sampled_from([(), ((CONF, "V"),)])),
    )


@st.composite
def observations(draw: st.DrawFn) -> dict[str, Any]:
    obs: dict[str, Any] = {
        "resourceType": "Observation",
        "id": draw(st.sampled_from(["obs-p-team", "obs-p-stranger", "obs-new"])),
        "status": "final",
        "code": {"text": "heart rate"},
        "subject": {"reference": f"Patient/{draw(patients)}"},
    }
    performer = draw(st.sampled_from([None, *PATIENT_REFS]))
    if performer:
        obs["performer"] = [{"reference": performer}]
    if draw(st.booleans()):
        obs["meta"] = {"security": [{"system": CONF, "code": "V"}]}
    return obs


writes = st.tuples(
    st.sampled_from(["POST", "PUT"]),
    st.one_of(care_teams(), encounters(), locations(), consents(), observations()),
)
callers = st.sampled_from(
    [("doctor", DOC), ("nurse", DOC), ("patient", "Patient/p-team"), ("admin", "Practitioner/a")]
)


def seen(repo: Repository) -> tuple[set[str], set[str]]:
    """The Patients and Observations the caller can find (none for a role that reads none)."""
    found: list[set[str]] = []
    for rtype in ("Patient", "Observation"):
        try:
            found.append(ids(get(repo, rtype)))
        except Forbidden:
            found.append(set())
    return found[0], found[1]


def attempt(repo: Repository, method: str, resource: dict[str, Any]) -> str | None:
    """The stored resource's id, or None when the write was refused."""
    body = dict(resource)
    path = body["resourceType"]
    if method == "PUT":
        path += f"/{body['id']}"
    else:
        body.pop("id")
    try:
        resp = repo.handle(FhirRequest(method, path, body=body))
    except FhirError:
        return None
    assert resp.resource is not None
    return str(resp.resource["id"])


FINDING_1 = {
    "resourceType": "CareTeam",
    "id": "x",
    "status": "active",
    "subject": {"reference": "Patient/p-stranger"},
    "participant": [{"member": {"reference": DOC}}, {"member": {"reference": "Patient/p-team"}}],
}
FINDING_2 = {
    "resourceType": "Observation",
    "id": "x",
    "status": "final",
    "code": {"text": "heart rate"},
    "subject": {"reference": "Patient/p-stranger"},
    "performer": [{"reference": "Patient/p-team"}],
}
FINDING_3 = {
    "resourceType": "Location",
    "id": "W9",
    "name": "Ward 9",
    "partOf": {"reference": "Location/W1"},
}
FINDING_3_ENCOUNTER = {
    "resourceType": "Encounter",
    "id": "enc-w9",
    "status": "in-progress",
    "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
    "subject": {"reference": "Patient/p-stranger"},
    "location": [{"location": {"reference": "Location/W9"}, "status": "active"}],
}
FINDING_4 = consent("self-grant", "p-team", labels=((CONF, "V"),))
FINDING_5 = {**consent("deny-assigned", "p-assigned", kind="deny", types=("Observation",))}
FINDING_5["status"] = "inactive"


@example(caller=("doctor", DOC), run=[("POST", FINDING_1)])
@example(caller=("doctor", DOC), run=[("POST", FINDING_2)])
@example(caller=("doctor", DOC), run=[("PUT", FINDING_3)])
@example(caller=("doctor", DOC), run=[("PUT", FINDING_4)])
@example(caller=("doctor", DOC), run=[("PUT", FINDING_5)])
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(caller=callers, run=st.lists(writes, min_size=1, max_size=5))
def test_no_allowed_write_widens_the_writers_view(
    caller: tuple[str, str], run: list[tuple[str, dict[str, Any]]]
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(f"sqlite:///{Path(tmp) / 'bedside.db'}")
        try:
            hospital = build(store)
            hospital.put(
                consent("deny-assigned", "p-assigned", kind="deny", types=("Observation",))
            )
            role, user = caller
            mine: set[str] = set()
            for method, resource in run:
                repo = hospital.as_user(role, user)
                before_patients, before_obs = seen(repo)
                written = attempt(repo, method, resource)
                if written is None:
                    continue
                if resource["resourceType"] == "Observation":
                    mine.add(written)
                stored = get(hospital.operator(), f"{resource['resourceType']}/{written}").resource
                assert stored is not None
                # Written only within records the writer could already reach, all of them:
                assert set(patients_of(stored)) <= before_patients, (method, resource)
                after_patients, after_obs = seen(hospital.as_user(role, user))
                assert after_patients <= before_patients, (method, resource)
                assert after_obs <= before_obs | mine, (method, resource)
        finally:
            store.close()
