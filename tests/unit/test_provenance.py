"""The Provenance written for each stored version: shape, codings, and R4 validity."""

from __future__ import annotations

from typing import Any

import pytest

from bedside import provenance
from bedside.errors import InvalidRequest
from bedside.fhir.validation import validate_resource
from bedside.provenance import provenance_for

RECORDED = "2026-03-01T10:15:30.123Z"
PID = "5b7e3c1a-9d2f-4e8b-a6c0-1f2e3d4c5b6a"


def build(**changes: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "target": "Observation/1/_history/2",
        "previous": "Observation/1/_history/1",
        "activity": "UPDATE",
        "recorded": RECORDED,
        "user_ref": "Practitioner/9",
        "subject": "u-42",
        "client_id": "ward-app",
        "device": "tablet-7",
        "source": "ward-app",
        "provenance_id": PID,
    }
    args.update(changes)
    return provenance_for(**args)


def codes(prov: dict[str, Any]) -> list[str]:
    return [a["type"]["coding"][0]["code"] for a in prov["agent"]]


def test_public_api_is_sorted_and_complete() -> None:
    assert provenance.__all__ == sorted(provenance.__all__)
    assert all(hasattr(provenance, name) for name in provenance.__all__)


def test_update_by_a_user_through_an_app_on_a_device_is_valid_r4() -> None:
    prov = build()
    validate_resource(prov, expected_type="Provenance")
    assert prov["id"] == PID
    assert prov["target"] == [{"reference": "Observation/1/_history/2"}]
    assert prov["recorded"] == RECORDED
    assert prov["meta"] == {"source": "ward-app"}
    assert prov["activity"]["coding"] == [
        {
            "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
            "code": "UPDATE",
            "display": "revise",
        }
    ]
    assert prov["entity"] == [
        {"role": "revision", "what": {"reference": "Observation/1/_history/1"}}
    ]


def test_the_author_comes_first_then_the_app_acting_for_them_then_the_device() -> None:
    author, app, device = build()["agent"]
    assert author["type"]["coding"] == [
        {
            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
            "code": "author",
            "display": "Author",
        }
    ]
    assert author["who"] == {"reference": "Practitioner/9"}
    assert app["type"]["coding"][0]["code"] == "performer"
    assert app["who"] == {
        "identifier": {"system": "urn:ietf:params:oauth:client-id", "value": "ward-app"}
    }
    assert app["onBehalfOf"] == {"reference": "Practitioner/9"}
    assert device["type"]["coding"][0]["code"] == "performer"
    assert device["who"] == {"reference": "Device/tablet-7"}


def test_a_backend_service_is_the_author_by_its_token_subject() -> None:
    prov = build(user_ref=None, subject="lab-feed", client_id="lab-feed", device=None)
    validate_resource(prov, expected_type="Provenance")
    author, app = prov["agent"]
    assert author["who"] == {"identifier": {"system": "urn:bedside:subject", "value": "lab-feed"}}
    assert "onBehalfOf" not in app  # no user to act for


def test_a_server_internal_write_has_only_an_author() -> None:
    prov = build(
        user_ref=None,
        subject="importer",
        client_id=None,
        device=None,
        source="http://127.0.0.1:8000/fhir",
    )
    validate_resource(prov, expected_type="Provenance")
    assert codes(prov) == ["author"]
    assert prov["meta"]["source"] == "http://127.0.0.1:8000/fhir"


def test_a_create_has_no_entity() -> None:
    prov = build(target="Patient/p1/_history/1", previous=None, activity="CREATE")
    validate_resource(prov, expected_type="Provenance")
    assert "entity" not in prov
    assert prov["activity"]["coding"][0]["display"] == "create"


def test_a_delete_records_the_removed_version() -> None:
    prov = build(target="Observation/1/_history/3", previous="Observation/1/_history/2",
                 activity="DELETE")  # fmt: skip
    validate_resource(prov, expected_type="Provenance")
    assert prov["entity"] == [
        {"role": "removal", "what": {"reference": "Observation/1/_history/2"}}
    ]
    assert prov["activity"]["coding"][0]["display"] == "remove"


def test_a_user_without_an_app_or_device_is_the_only_agent() -> None:
    prov = build(client_id=None, device=None)
    validate_resource(prov, expected_type="Provenance")
    assert codes(prov) == ["author"]


@pytest.mark.parametrize(
    "changes",
    [
        {"activity": "PATCH"},
        {"target": "Observation/1"},
        {"previous": "http://x/Observation/1/_history/1"},
        {"provenance_id": "not an id!"},
        {"device": "tablet 7"},
        {"source": ""},
        {"subject": " "},
    ],
)
def test_arguments_no_write_can_have_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        build(**changes)


def test_the_validator_would_catch_a_broken_provenance() -> None:
    """Guards the tests above: validation really checks a Provenance's structure."""
    broken = build()
    del broken["recorded"]
    with pytest.raises(InvalidRequest):
        validate_resource(broken, expected_type="Provenance")
