"""What a privacy Consent write may contain and how its status may move (bedside.consent.rules)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from bedside.consent.rules import TRANSITIONS, check_consent_write
from bedside.errors import Conflict, Forbidden, MethodNotAllowed, Unprocessable

STATUSES = ["draft", "proposed", "active", "inactive", "rejected", "entered-in-error"]
TYPES = "http://hl7.org/fhir/resource-types"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
HIV = {"system": ACT_CODE, "code": "HIV"}
MH = {"system": ACT_CODE, "code": "MH"}


def actor(ref: str) -> dict[str, Any]:
    return {
        "role": {"coding": [{"code": "PRCP"}]},
        "reference": {"reference": ref},
    }


def consent(status: str = "active", **provision: Any) -> dict[str, Any]:
    return {
        "resourceType": "Consent",
        "id": "c1",
        "status": status,
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": "Patient/p1"},
        "provision": {"type": "permit", **provision},
    }


def with_status(resource: dict[str, Any], status: str) -> dict[str, Any]:
    out = copy.deepcopy(resource)
    out["status"] = status
    out["meta"] = {"versionId": "2"}
    return out


def refused(exc: type[Exception], old: Any, new: Any, patient_user: str | None = None) -> str:
    with pytest.raises(exc) as info:
        check_consent_write(old, new, patient_user=patient_user)
    return str(info.value)


# --- status state machine ---------------------------------------------------------------------


@pytest.mark.parametrize("status", ["draft", "proposed", "active"])
def test_a_consent_may_be_created_as_draft_proposed_or_active(status: str) -> None:
    check_consent_write(None, consent(status), patient_user=None)


@pytest.mark.parametrize("status", ["inactive", "rejected", "entered-in-error"])
def test_a_consent_may_not_be_created_in_an_end_state(status: str) -> None:
    message = refused(Unprocessable, None, consent(status))
    assert message == f"A new Consent must be draft, proposed or active, not {status}."


ALLOWED = [(a, b) for a in STATUSES for b in STATUSES if b in TRANSITIONS[a]]
REFUSED = [(a, b) for a in STATUSES for b in STATUSES if b not in TRANSITIONS[a]]


def test_the_transition_table_is_the_documented_one() -> None:
    assert set(ALLOWED) == {
        ("draft", "draft"),
        ("draft", "proposed"),
        ("draft", "active"),
        ("draft", "entered-in-error"),
        ("proposed", "proposed"),
        ("proposed", "active"),
        ("proposed", "rejected"),
        ("proposed", "entered-in-error"),
        ("active", "inactive"),
        ("active", "entered-in-error"),
        ("inactive", "entered-in-error"),
        ("rejected", "entered-in-error"),
    }


@pytest.mark.parametrize(("before", "after"), ALLOWED)
def test_allowed_status_transitions_pass(before: str, after: str) -> None:
    old = consent(before)
    check_consent_write(old, with_status(old, after), patient_user=None)


@pytest.mark.parametrize(("before", "after"), [(a, b) for a, b in REFUSED if a != b])
def test_refused_status_transitions_name_both_states(before: str, after: str) -> None:
    old = consent(before)
    message = refused(Conflict, old, with_status(old, after))
    assert message == f"A Consent cannot go from {before} to {after}; create a new Consent instead."


def test_inactive_to_active_gives_the_documented_message() -> None:
    old = consent("inactive")
    assert (
        refused(Conflict, old, with_status(old, "active"))
        == "A Consent cannot go from inactive to active; create a new Consent instead."
    )


@pytest.mark.parametrize("status", ["active", "inactive", "rejected", "entered-in-error"])
def test_a_consent_past_proposal_cannot_be_edited_in_place(status: str) -> None:
    old = consent(status)
    message = refused(Conflict, old, with_status(old, status))
    assert message.startswith(f"A Consent that is {status} cannot be changed")
    assert message.endswith("create a new Consent instead.")


def test_an_active_consent_can_only_change_its_status() -> None:
    old = consent("active", **{"class": [{"system": TYPES, "code": "Observation"}]})
    new = with_status(old, "inactive")
    new["provision"]["class"] = [{"system": TYPES, "code": "Condition"}]
    message = refused(Conflict, old, new)
    assert "Only the status of an active Consent can change" in message
    assert "new Consent" in message


def test_withdrawing_may_update_meta_and_narrative() -> None:
    old = consent("active")
    new = with_status(old, "inactive")
    new["text"] = {"status": "generated", "div": "<div>withdrawn</div>"}
    check_consent_write(old, new, patient_user=None)


def test_a_draft_may_be_edited() -> None:
    old = consent("draft")
    new = with_status(old, "draft")
    new["provision"]["class"] = [{"system": TYPES, "code": "Condition"}]
    check_consent_write(old, new, patient_user=None)


def test_the_patient_of_a_consent_cannot_change() -> None:
    old = consent("draft")
    new = with_status(old, "active")
    new["patient"] = {"reference": "Patient/p2"}
    assert "patient of a Consent cannot change" in refused(Conflict, old, new)


def test_a_consent_cannot_be_deleted() -> None:
    message = refused(MethodNotAllowed, consent("active"), None)
    assert "set status to inactive to withdraw a consent" in message


# --- patient users ---------------------------------------------------------------------------


def test_a_patient_may_record_consent_for_their_own_record() -> None:
    check_consent_write(None, consent("active"), patient_user="p1")


def test_a_patient_may_not_record_consent_for_someone_else() -> None:
    message = refused(Forbidden, None, consent("active"), patient_user="p2")
    assert message == "A patient can only record consent for their own record."


def test_a_patient_user_without_a_linked_record_may_not_record_consent() -> None:
    refused(Forbidden, None, consent("active"), patient_user="")


# --- content ---------------------------------------------------------------------------------


def test_only_privacy_consents_are_accepted() -> None:
    c = consent()
    c["scope"]["coding"][0]["code"] = "treatment"
    assert "patient-privacy" in refused(Unprocessable, None, c)


def test_the_patient_reference_is_required() -> None:
    c = consent()
    del c["patient"]
    assert "Patient/<id>" in refused(Unprocessable, None, c)
    c["patient"] = {"reference": "Group/1"}
    refused(Unprocessable, None, c)


def test_at_least_one_category_is_required() -> None:
    c = consent()
    c["category"] = []
    assert "category" in refused(Unprocessable, None, c)


def test_a_provision_is_required() -> None:
    c = consent()
    del c["provision"]
    assert "provision" in refused(Unprocessable, None, c)


def test_a_provision_must_be_permit_or_deny() -> None:
    c = consent()
    del c["provision"]["type"]
    assert "permit or a deny" in refused(Unprocessable, None, c)


def test_a_period_may_not_end_before_it_starts() -> None:
    c = consent(period={"start": "2026-03-02", "end": "2026-03-01"})
    assert "starts after it ends" in refused(Unprocessable, None, c)
    check_consent_write(
        None, consent(period={"start": "2026-03-01", "end": "2026-03-01"}), patient_user=None
    )


def test_class_codings_must_be_resource_types() -> None:
    refused(Unprocessable, None, consent(**{"class": [{"system": TYPES, "code": "Nonsense"}]}))
    message = refused(
        Unprocessable,
        None,
        consent(**{"class": [{"system": "urn:ietf:bcp:13", "code": "application/pdf"}]}),
    )
    assert "resource type" in message and "not supported yet" in message


def test_actors_must_be_relative_references_of_the_allowed_types() -> None:
    for ref in ("Practitioner/9", "PractitionerRole/3", "CareTeam/x", "Device/d-1"):
        check_consent_write(None, consent(actor=[actor(ref)]), patient_user=None)
    for ref in ("Group/1", "https://example.org/fhir/Practitioner/9", "Practitioner/"):
        assert "relative reference" in refused(Unprocessable, None, consent(actor=[actor(ref)]))


@pytest.mark.parametrize("element", ["dataPeriod", "code"])
def test_unenforced_provision_elements_are_refused_not_ignored(element: str) -> None:
    value: Any = {"start": "2020"} if element == "dataPeriod" else [{"x": 1}]
    message = refused(Unprocessable, None, consent(**{element: value}))
    assert "not support" in message and "yet" in message


def test_nested_unenforced_elements_are_refused_too() -> None:
    c = consent(provision=[{"type": "deny", "data": [instance("Observation/o1")]}])
    assert "provision.data" in refused(Unprocessable, None, c)


def instance(ref: str, meaning: str = "instance") -> dict[str, Any]:
    return {"meaning": meaning, "reference": {"reference": ref}}


def test_a_root_permit_may_name_particular_resources_of_the_patients_record() -> None:
    check_consent_write(None, consent(data=[instance("Observation/o1")]), patient_user="p1")
    both = consent(data=[instance("Observation/o1"), instance("Condition/c-2")])
    check_consent_write(None, both, patient_user=None)
    typed = consent(data=[instance("Observation/o1")])
    typed["provision"]["class"] = [{"system": TYPES, "code": "Observation"}]
    check_consent_write(None, typed, patient_user=None)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([instance("Observation/o1", "related")], "related is not supported yet"),
        ([instance("Observation/o1", "dependents")], "not supported yet"),
        ([{"reference": {"reference": "Observation/o1"}}], "missing meaning"),
        ([instance("https://elsewhere.example/Observation/o1")], "relative reference"),
        ([instance("Practitioner/9")], "patient's record"),  # reference data, not the patient's
        ([instance("Patient/p1")], "patient's record"),
        ([instance("Observation/")], "relative reference"),
        ([instance(f"Observation/o{i}") for i in range(51)], "at most 50"),
        ({"meaning": "instance"}, "must be a list"),
    ],
)
def test_provision_data_other_than_instances_of_patient_data_is_refused(
    data: Any, words: str
) -> None:
    assert words in refused(Unprocessable, None, consent(data=data))


def test_provision_data_is_only_for_the_root_permit_and_within_its_classes() -> None:
    deny = consent(data=[instance("Observation/o1")])
    deny["provision"]["type"] = "deny"
    assert "only on the root permit" in refused(Unprocessable, None, deny)
    outside = consent(data=[instance("Observation/o1")])
    outside["provision"]["class"] = [{"system": TYPES, "code": "Condition"}]
    assert "not among the provision's classes" in refused(Unprocessable, None, outside)


def test_an_active_share_of_one_result_can_be_withdrawn_but_not_edited() -> None:
    one = consent(data=[instance("Observation/o1")])
    check_consent_write(one, with_status(one, "inactive"), patient_user="p1")
    other = with_status(one, "active")
    other["provision"]["data"] = [instance("Observation/o2")]
    assert "create a new Consent" in refused(Conflict, one, other)


def test_purposes_and_actions_must_use_the_known_code_systems() -> None:
    assert "not supported yet" in refused(
        Unprocessable, None, consent(purpose=[{"system": "urn:x", "code": "TREAT"}])
    )
    assert "not supported yet" in refused(
        Unprocessable, None, consent(action=[{"coding": [{"system": "urn:x", "code": "access"}]}])
    )


def test_security_labels_need_system_and_code() -> None:
    refused(Unprocessable, None, consent(securityLabel=[{"code": "HIV"}]))


def test_one_level_of_nesting_is_accepted() -> None:
    check_consent_write(
        None, consent(provision=[{"type": "deny", "securityLabel": [HIV]}]), patient_user=None
    )


def test_deeper_nesting_is_refused_as_not_supported() -> None:
    c = consent(provision=[{"type": "deny", "provision": [{"type": "permit"}]}])
    assert "not supported yet" in refused(Unprocessable, None, c)


def test_a_nested_provision_must_be_the_opposite_of_its_parent() -> None:
    c = consent(provision=[{"type": "permit"}])
    assert "exception to its parent" in refused(Unprocessable, None, c)


def test_a_nested_provision_may_only_narrow_its_parent() -> None:
    outside_types = consent(
        **{"class": [{"system": TYPES, "code": "Observation"}]},
        provision=[{"type": "deny", "class": [{"system": TYPES, "code": "Condition"}]}],
    )
    assert "narrow" in refused(Unprocessable, None, outside_types)
    outside_actors = consent(
        actor=[actor("Practitioner/1")],
        provision=[{"type": "deny", "actor": [actor("Practitioner/2")]}],
    )
    assert "narrow" in refused(Unprocessable, None, outside_actors)


def test_a_permit_inside_a_deny_may_only_name_the_denys_labels() -> None:
    c = consent(provision=[{"type": "permit", "securityLabel": [HIV]}])
    c["provision"]["type"] = "deny"
    assert "security labels" in refused(Unprocessable, None, c)
    c["provision"]["securityLabel"] = [HIV, MH]
    check_consent_write(None, c, patient_user=None)


def test_messages_never_echo_the_patient() -> None:
    c = consent()
    c["patient"] = {"reference": "Patient/p1", "display": "Jane Doe"}
    c["scope"]["coding"][0]["code"] = "research"
    assert "Jane" not in refused(Unprocessable, None, c)
