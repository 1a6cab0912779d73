"""A device of the clinician a patient shared one result with (issue 18), over real HTTP on
SQLite and PostgreSQL: the patient reached only through that share enters the device's working
set when the clinician pins them (as for any consent share), the pull sends exactly that result,
and revoking the share purges it at the next sync."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import BACKENDS
from tests.integration._pull_world import World, new_world
from tests.integration._smart import Smart, smart_server


@pytest.fixture(scope="module", params=BACKENDS)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, str(request.param)) as s:
        yield s


@pytest.fixture
def world(smart: Smart) -> World:
    return new_world(smart)


def one_result(patient: str, actor: str, observation: str) -> dict[str, Any]:
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
        "provision": {
            "type": "permit",
            "actor": [{"role": {"text": "recipient"}, "reference": {"reference": actor}}],
            "data": [
                {"meaning": "instance", "reference": {"reference": f"Observation/{observation}"}}
            ],
        },
    }


def test_a_pinned_patient_reached_only_through_one_shared_result(world: World) -> None:
    stranger = world.nurse.stranger
    shared = world.observation(stranger)
    other = world.observation(stranger, code="8310-5")
    consent_id = world.smart.create(
        one_result(stranger, f"Practitioner/{world.practitioner}", shared)
    )
    unpinned = world.pull()
    assert stranger not in str(unpinned.pages)  # a share alone does not fill the working set
    with world.api() as c:
        assert c.put(f"/device/pins/{stranger}").status_code == 204
    pinned = world.pull(unpinned.next)
    assert shared in pinned.ids("Observation")
    assert other not in pinned.ids("Observation")
    assert stranger not in pinned.ids("Patient")  # the Patient resource is not shared
    assert other not in str(pinned.pages)

    revoked = world.read("Consent", consent_id)
    revoked["status"] = "inactive"
    world.put(revoked)
    after = world.pull(pinned.next)
    reasons = {e["reason"]: e for e in after.purge()}
    assert reasons["consent-revoked"]["patient"] == stranger
    assert reasons["consent-revoked"]["types"] == ["Observation"]
    assert shared not in after.ids("Observation") and other not in after.ids("Observation")
