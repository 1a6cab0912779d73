"""How a caller's SMART scopes become row visibility (bedside.rest.access), without a database."""

from __future__ import annotations

import pytest

from bedside.auth.caller import Caller
from bedside.auth.scopes import ScopeSet
from bedside.errors import InvalidRequest
from bedside.fhir.compartment import (
    PATIENT_COMPARTMENT,
    REFERENCE_TYPES,
    Compartment,
    indexed_params,
    patient_compartment,
)
from bedside.fhir.search.definitions import SEARCH_PARAMETERS
from bedside.fhir.search.values import TokenValue
from bedside.fhir.search.visibility import NOTHING, Alternative, Visibility
from bedside.rest.access import Access

CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
OBS_COMPARTMENT = Compartment(("p1",), ("Observation.subject", "Observation.performer"))


def rows(scope: str, rtype: str, interaction: str = "read", **context: str) -> Visibility | None:
    return Access(Caller("tester", ScopeSet.parse(scope), **context)).rows(rtype, interaction)


# --- confinement by context -------------------------------------------------------------------


def test_system_scope_is_not_confined() -> None:
    assert rows("system/Observation.rs", "Observation") is None
    assert rows("system/*.cruds", "Task", "create", patient="p1") is None


def test_patient_scope_confines_to_the_launch_patients_compartment() -> None:
    assert rows("patient/Observation.rs", "Observation", patient="p1") == Visibility(
        (Alternative(OBS_COMPARTMENT),)
    )


def test_patient_scope_without_a_launch_patient_sees_nothing() -> None:
    assert rows("patient/*.cruds", "Observation") == NOTHING
    assert rows("patient/*.cruds", "Practitioner") == NOTHING


def test_user_scope_of_clinical_staff_without_a_policy_view_sees_no_patient_data() -> None:
    # The Repository always computes the view; without one a role gets the narrowest reading.
    assert rows("user/*.rs", "Observation", role="nurse", fhir_user="Practitioner/9") == NOTHING
    assert rows("user/*.rs", "Practitioner", role="nurse", fhir_user="Practitioner/9") is None


def test_user_scope_of_a_patient_user_is_confined_to_their_own_compartment() -> None:
    vis = rows("user/*.rs", "Observation", role="patient", fhir_user="Patient/p1")
    assert vis == Visibility((Alternative(OBS_COMPARTMENT),))


def test_patient_user_without_a_linked_patient_sees_nothing() -> None:
    assert rows("user/*.rs", "Observation", role="patient") == NOTHING
    assert rows("user/*.rs", "Observation", role="patient", fhir_user="Practitioner/1") == NOTHING


def test_caller_confinement_per_context() -> None:
    c = Caller("u", ScopeSet.parse("openid"), patient="p2", role="patient", fhir_user="Patient/p1")
    assert (c.confined_to("patient"), c.confined_to("user"), c.confined_to("system")) == (
        "p2",
        "p1",
        None,
    )
    assert Caller("svc", ScopeSet.parse("openid")).confined_to("patient") == ""


def test_letter_not_granted_sees_nothing() -> None:
    assert rows("patient/Observation.rs", "Observation", "create", patient="p1") == NOTHING
    assert rows("system/Observation.rs", "Condition") == NOTHING


# --- types outside the compartment --------------------------------------------------------------


def test_reference_types_are_readable_but_not_writable_by_a_confined_caller() -> None:
    for rtype in ("Practitioner", "Organization", "Medication", "Location"):
        assert rows("patient/*.cruds", rtype, "read", patient="p1") is None
        assert rows("patient/*.cruds", rtype, "search", patient="p1") is None
        for interaction in ("create", "update", "delete"):
            assert rows("patient/*.cruds", rtype, interaction, patient="p1") == NOTHING


def test_types_outside_the_compartment_are_invisible_to_a_confined_caller() -> None:
    for rtype in ("Binary", "Bundle", "Device", "Questionnaire"):
        assert rows("patient/*.rs", rtype, "read", patient="p1") == NOTHING
        assert rows("system/*.rs", rtype, "read") is None


def test_a_patient_is_in_its_own_compartment_and_in_those_it_links_to() -> None:
    assert patient_compartment("Patient", "p1") == Compartment(("p1",), ("Patient.link",), True)


def test_compartment_parameters_of_the_defined_types_are_all_indexed() -> None:
    defined = {rtype for rtype, _, _, _ in SEARCH_PARAMETERS}
    for rtype, codes in PATIENT_COMPARTMENT.items():
        if rtype in defined:
            assert indexed_params(rtype) == tuple(f"{rtype}.{c}" for c in codes), rtype


def test_compartment_types_without_an_indexed_parameter_are_only_these() -> None:
    # Types outside definitions.py only get generic patient/subject parameters (see compartment.py)
    empty = {rtype for rtype in PATIENT_COMPARTMENT if not indexed_params(rtype)}
    assert empty == {
        "AppointmentResponse",
        "EnrollmentRequest",
        "Person",
        "ResearchSubject",
        "Schedule",
        "SupplyRequest",
    }


def test_reference_types_are_not_in_the_patient_compartment() -> None:
    assert not REFERENCE_TYPES & set(PATIENT_COMPARTMENT)


# --- granular scopes ------------------------------------------------------------------------


def test_granular_scope_adds_its_query_as_a_filter() -> None:
    vis = rows(
        f"patient/Observation.rs?category={CATEGORY}|laboratory", "Observation", patient="p1"
    )
    assert vis is not None
    (alt,) = vis.alternatives
    assert alt.compartment == OBS_COMPARTMENT
    (clause,) = alt.clauses
    assert clause.param.key == "Observation.category"
    assert clause.values == (TokenValue(CATEGORY, "laboratory"),)


def test_granular_scopes_on_one_type_are_ored() -> None:
    scope = (
        f"patient/Observation.rs?category={CATEGORY}|laboratory "
        f"patient/Observation.rs?category={CATEGORY}|vital-signs"
    )
    vis = rows(scope, "Observation", patient="p1")
    assert vis is not None
    assert [a.clauses[0].values[0] for a in vis.alternatives] == [
        TokenValue(CATEGORY, "laboratory"),
        TokenValue(CATEGORY, "vital-signs"),
    ]
    assert vis.shared_compartment() == OBS_COMPARTMENT


def test_plain_scope_in_the_same_context_makes_a_filter_moot() -> None:
    scope = f"patient/Observation.rs?category={CATEGORY}|laboratory patient/Observation.r"
    assert rows(scope, "Observation", patient="p1") == Visibility((Alternative(OBS_COMPARTMENT),))
    assert rows(scope, "Observation", "search", patient="p1") != Visibility(
        (Alternative(OBS_COMPARTMENT),)
    )


def test_unconfined_granular_scope_filters_without_a_compartment() -> None:
    vis = rows(f"system/Observation.rs?category={CATEGORY}|laboratory", "Observation")
    assert vis is not None and vis.alternatives[0].compartment is None
    assert rows(f"system/Observation.rs?category={CATEGORY}|x system/*.rs", "Observation") is None


def test_a_patient_user_sees_only_their_own_record_whatever_the_launch_patient() -> None:
    caller = Caller(
        "u",
        ScopeSet.parse("patient/Observation.rs user/Observation.rs"),
        patient="p2",
        role="patient",
        fhir_user="Patient/p1",
    )
    vis = Access(caller).rows("Observation", "read")
    assert vis is not None
    patients = {p for a in vis.alternatives if a.compartment for p in a.compartment.patients}
    assert patients == {"p1"}  # policy: a patient's role reaches their own record only
    assert vis.shared_compartment() is not None


@pytest.mark.parametrize(
    "query",
    ["unknown-param=1", "_include=Observation:subject", "_count=5", "date=not-a-date"],
)
def test_a_scope_query_that_is_no_plain_search_on_the_type_is_a_400(query: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        rows(f"patient/Observation.rs?{query}", "Observation", patient="p1")
    assert info.value.status == 400
    assert "scope patient/Observation" in info.value.message


@pytest.mark.parametrize("query", ["category", "=x", "a=1&&b=2", "a=1&b"])
def test_a_malformed_scope_query_is_refused_when_the_scope_is_parsed(query: str) -> None:
    with pytest.raises(InvalidRequest):
        ScopeSet.parse(f"patient/Observation.rs?{query}")


def test_scope_query_survives_a_round_trip_through_text() -> None:
    text = f"patient/Observation.rs?category={CATEGORY}|laboratory"
    assert ScopeSet.parse(text).text() == text
