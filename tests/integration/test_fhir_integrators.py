"""What integrators' clients need from the FHIR API (issue 21), through the Repository, on
SQLite and PostgreSQL: chains and ``_has``, compartment search URLs, ``Patient/$everything``,
system and ``_at`` history, ``_summary``/``_elements`` on read, conditional reads,
``_include:iterate``, lenient handling and JSON Merge Patch.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import pytest

from bedside.audit.entry import NullAuditor
from bedside.auth.caller import Caller
from bedside.auth.scopes import ScopeSet
from bedside.consent.evaluate import shares_for
from bedside.errors import FhirError, InvalidRequest, MethodNotAllowed, NotFound, Unprocessable
from bedside.policy.decide import Policy
from bedside.policy.rules import parse
from bedside.rest import FhirRequest, FhirResponse, Repository
from bedside.store.base import Store
from tests.conftest import BASE, OPERATOR

Resource = dict[str, Any]
LOINC = "http://loinc.org"


def put(repo: Repository, resource: Resource) -> Resource:
    path = f"{resource['resourceType']}/{resource['id']}"
    resp = repo.handle(FhirRequest("PUT", path, body=resource))
    assert resp.status in (200, 201), resp.resource
    assert resp.resource is not None
    return resp.resource


def get(repo: Repository, path: str, *query: tuple[str, str], **kw: Any) -> FhirResponse:
    return repo.handle(FhirRequest("GET", path, query=query, **kw))


def body(repo: Repository, path: str, *query: tuple[str, str], **kw: Any) -> Resource:
    resp = get(repo, path, *query, **kw)
    assert resp.status == 200 and resp.resource is not None
    return resp.resource


def ids(bundle: Resource, mode: str = "match") -> set[str]:
    return {
        f"{e['resource']['resourceType']}/{e['resource']['id']}"
        for e in bundle.get("entry", [])
        if e.get("search", {}).get("mode", "match") == mode
    }


def refused(repo: Repository, path: str, *query: tuple[str, str]) -> FhirError:
    with pytest.raises(FhirError) as info:
        get(repo, path, *query)
    return info.value


def obs(oid: str, patient: str, code: str, **extra: Any) -> Resource:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{patient}"},
        "valueQuantity": {"value": 72, "unit": "/min"},
        "text": {"status": "generated", "div": "<div xmlns='http://www.w3.org/1999/xhtml'>x</div>"},
        **extra,
    }


@pytest.fixture
def clinic(repo: Repository) -> Repository:
    put(repo, {"resourceType": "Organization", "id": "org1", "name": "Northside Clinic"})
    put(repo, {"resourceType": "Organization", "id": "org2", "name": "Southside Clinic"})
    put(repo, {"resourceType": "Practitioner", "id": "gp1", "name": [{"family": "Gray"}]})
    put(repo, {"resourceType": "Patient", "id": "pa", "name": [{"family": "Adeyemi"}],
               "gender": "female", "managingOrganization": {"reference": "Organization/org1"},
               "generalPractitioner": [{"reference": "Practitioner/gp1"}]})  # fmt: skip
    put(repo, {"resourceType": "Patient", "id": "pb", "name": [{"family": "Brennan"}],
               "managingOrganization": {"reference": "Organization/org2"}})  # fmt: skip
    put(repo, obs("oa-hr", "pa", "8867-4"))
    put(repo, obs("oa-bp", "pa", "85354-9", hasMember=[{"reference": "Observation/oa-hr"}]))
    put(repo, obs("ob-hr", "pb", "8867-4"))
    put(repo, {"resourceType": "Condition", "id": "ca", "subject": {"reference": "Patient/pa"},
               "code": {"text": "asthma"}})  # fmt: skip
    return repo


# --- chaining and _has (search.html#chaining, #has) ------------------------------------------


def test_a_one_level_chain_matches_through_the_reference(clinic: Repository) -> None:
    assert ids(body(clinic, "Observation", ("subject:Patient.name", "adeyemi"))) == {
        "Observation/oa-hr",
        "Observation/oa-bp",
    }
    # patient has one target type, so the type may be left out
    assert ids(body(clinic, "Observation", ("patient.name", "brennan"))) == {"Observation/ob-hr"}


def test_a_two_level_chain_follows_two_references(clinic: Repository) -> None:
    found = body(clinic, "Observation", ("patient.organization:Organization.name", "southside"))
    assert ids(found) == {"Observation/ob-hr"}
    found = body(clinic, "Observation", ("patient.general-practitioner:Practitioner.name", "gray"))
    assert ids(found) == {"Observation/oa-hr", "Observation/oa-bp"}


def test_a_chain_without_a_type_tries_every_target_the_definition_names(
    clinic: Repository,
) -> None:
    # subject may point at Patient, Group, Device or Location; those with name are tried
    assert ids(body(clinic, "Observation", ("subject.name", "brennan"))) == {"Observation/ob-hr"}
    found = body(clinic, "Observation", ("patient.organization.name", "southside"))
    assert ids(found) == {"Observation/ob-hr"}


def test_a_chain_of_three_levels_or_through_a_non_reference_is_400(clinic: Repository) -> None:
    deep = ("patient.organization.partof.name", "x")
    assert isinstance(refused(clinic, "Observation", deep), InvalidRequest)
    assert isinstance(refused(clinic, "Observation", ("code.name", "x")), InvalidRequest)
    any_type = ("_has:Provenance:target:agent", "x")  # fine: _has names its type
    assert ids(body(clinic, "Patient", any_type)) == set()


def test_has_matches_patients_that_a_matching_resource_refers_to(clinic: Repository) -> None:
    found = body(clinic, "Patient", ("_has:Observation:patient:code", f"{LOINC}|85354-9"))
    assert ids(found) == {"Patient/pa"}
    both = body(clinic, "Patient", ("_has:Observation:patient:code", "8867-4"))
    assert ids(both) == {"Patient/pa", "Patient/pb"}
    none = body(clinic, "Patient", ("_has:Condition:patient:code", "diabetes"))
    assert ids(none) == set()


def test_unknown_parameters_in_a_chain_are_400_or_ignored_when_lenient(clinic: Repository) -> None:
    assert isinstance(refused(clinic, "Observation", ("patient.nonsense", "x")), InvalidRequest)
    lenient = body(clinic, "Observation", ("patient.nonsense", "x"), lenient=True)
    assert len(ids(lenient)) == 3
    (outcome,) = [e for e in lenient["entry"] if e["search"]["mode"] == "outcome"]
    assert "patient.nonsense" in outcome["resource"]["issue"][0]["diagnostics"]
    assert outcome["resource"]["issue"][0]["severity"] == "warning"


# --- compartment search (GET Patient/1/Observation) -------------------------------------------


def test_compartment_search_lists_only_that_patients_resources(clinic: Repository) -> None:
    found = body(clinic, "Patient/pa/Observation")
    assert ids(found) == {"Observation/oa-hr", "Observation/oa-bp"}
    assert found["link"][0]["url"] == f"{BASE}/Patient/pa/Observation"
    coded = body(clinic, "Patient/pa/Observation", ("code", "8867-4"))
    assert ids(coded) == {"Observation/oa-hr"}
    assert ids(body(clinic, "Patient/pb/Condition")) == set()


def test_compartment_search_of_a_missing_patient_is_404(clinic: Repository) -> None:
    assert isinstance(refused(clinic, "Patient/nobody/Observation"), NotFound)
    assert isinstance(refused(clinic, "Encounter/e1/Observation"), NotFound)


# --- Patient/$everything ---------------------------------------------------------------------


def test_everything_returns_the_patient_and_its_compartment(clinic: Repository) -> None:
    found = body(clinic, "Patient/pa/$everything")
    clinical = {i for i in ids(found) if not i.startswith("Provenance/")}  # writes' Provenance
    assert clinical == {"Patient/pa", "Observation/oa-hr", "Observation/oa-bp", "Condition/ca"}
    assert any(i.startswith("Provenance/") for i in ids(found))
    assert found["entry"][0]["resource"]["id"] == "pa"  # the Patient first
    typed = body(clinic, "Patient/pa/$everything", ("_type", "Condition"))
    assert ids(typed) == {"Condition/ca"}


def test_everything_pages_with_count_without_repeating_or_skipping(clinic: Repository) -> None:
    whole = ids(body(clinic, "Patient/pa/$everything", ("_count", "1000")))
    seen: list[str] = []
    page = body(clinic, "Patient/pa/$everything", ("_count", "1"))
    pages = 1
    while True:
        seen.extend(sorted(ids(page)))
        nxt = [link["url"] for link in page["link"] if link["relation"] == "next"]
        if not nxt:
            break
        cursor = nxt[0].split("_cursor=")[1]
        page = body(clinic, "Patient/pa/$everything", ("_count", "1"), ("_cursor", cursor))
        pages += 1
    assert pages == len(whole) and sorted(seen) == sorted(whole)


def test_everything_since_keeps_only_later_changes(clinic: Repository) -> None:
    later = put(clinic, {**obs("oa-hr", "pa", "8867-4"), "status": "amended"})
    since = later["meta"]["lastUpdated"]
    found = body(clinic, "Patient/pa/$everything", ("_since", since))
    assert {i for i in ids(found) if not i.startswith("Provenance/")} == {"Observation/oa-hr"}
    assert isinstance(refused(clinic, "Patient/pa/$everything", ("_since", "soon")), InvalidRequest)


def test_an_unknown_operation_is_404_not_supported(clinic: Repository) -> None:
    exc = refused(clinic, "Patient/pa/$nonsense")
    assert isinstance(exc, NotFound) and exc.issues[0].code == "not-supported"
    assert isinstance(refused(clinic, "$export"), NotFound)


# --- history: system-wide, _since, _at (http.html#history) ------------------------------------


def test_system_history_lists_every_type_newest_first(clinic: Repository) -> None:
    found = body(clinic, "_history", ("_count", "100"))
    types = {e["resource"]["resourceType"] for e in found["entry"]}
    assert {"Patient", "Observation", "Organization", "Condition"} <= types
    seqs = [e["response"]["lastModified"] for e in found["entry"]]
    assert seqs == sorted(seqs, reverse=True)


def test_history_at_keeps_the_versions_current_then(clinic: Repository) -> None:
    first = body(clinic, "Observation/ob-hr")["meta"]["lastUpdated"]
    put(clinic, {**obs("ob-hr", "pb", "8867-4"), "status": "amended"})
    at_first = body(clinic, "Observation/ob-hr/_history", ("_at", first))
    assert [e["resource"]["meta"]["versionId"] for e in at_first["entry"]] == ["1"]
    everything = body(clinic, "Observation/ob-hr/_history")
    assert len(everything["entry"]) == 2
    assert isinstance(refused(clinic, "_history", ("_at", "whenever")), InvalidRequest)


# --- _summary and _elements on read and vread; conditional read ------------------------------


def test_summary_true_keeps_the_summary_elements_and_marks_subsetted(clinic: Repository) -> None:
    summary = body(clinic, "Observation/oa-hr", ("_summary", "true"))
    assert "text" not in summary
    assert {"code", "status", "subject", "valueQuantity"} <= set(summary)
    assert {t["code"] for t in summary["meta"]["tag"]} == {"SUBSETTED"}
    text = body(clinic, "Observation/oa-hr/_history/1", ("_summary", "text"))
    assert set(text) == {"resourceType", "id", "meta", "text", "code", "status"}
    data = body(clinic, "Observation/oa-hr", ("_summary", "data"))
    assert "text" not in data and "valueQuantity" in data
    elements = body(clinic, "Patient/pa", ("_elements", "gender"))
    assert set(elements) == {"resourceType", "id", "meta", "gender"}
    whole = body(clinic, "Patient/pa")
    assert "name" in whole and "tag" not in whole["meta"]


def test_summary_on_search_true_and_text(clinic: Repository) -> None:
    found = body(clinic, "Observation", ("_summary", "true"), ("code", "85354-9"))
    (entry,) = found["entry"]
    assert "text" not in entry["resource"] and "hasMember" in entry["resource"]
    assert isinstance(refused(clinic, "Patient/pa", ("_summary", "count")), InvalidRequest)
    assert isinstance(refused(clinic, "Patient/pa", ("_summary", "maybe")), InvalidRequest)
    assert isinstance(refused(clinic, "Patient/pa", ("nonsense", "1")), InvalidRequest)


def test_conditional_read_answers_304_for_a_current_copy(clinic: Repository) -> None:
    assert get(clinic, "Patient/pa", if_none_match='W/"1"').status == 304
    assert get(clinic, "Patient/pa", if_none_match='W/"1"').resource is None
    assert get(clinic, "Patient/pa", if_none_match='W/"2"').status == 200
    modified = body(clinic, "Patient/pa")["meta"]["lastUpdated"]
    from datetime import datetime, timedelta
    from email.utils import format_datetime

    stamp = datetime.fromisoformat(modified.replace("Z", "+00:00"))
    later = format_datetime(stamp + timedelta(seconds=2), usegmt=True)
    earlier = format_datetime(stamp - timedelta(seconds=2), usegmt=True)
    assert get(clinic, "Patient/pa", if_modified_since=later).status == 304
    assert get(clinic, "Patient/pa", if_modified_since=earlier).status == 200
    assert get(clinic, "Patient/pa", if_modified_since="not a date").status == 200


# --- _include:iterate ------------------------------------------------------------------------


def test_include_iterate_follows_references_from_included_resources(clinic: Repository) -> None:
    plain = body(
        clinic,
        "Observation",
        ("code", "85354-9"),
        ("_include", "Observation:has-member"),
        ("_include", "Observation:patient"),
    )
    assert ids(plain, "include") == {"Observation/oa-hr", "Patient/pa"}
    iterated = body(
        clinic,
        "Observation",
        ("code", "85354-9"),
        ("_include", "Observation:patient"),
        ("_include:iterate", "Patient:organization"),
    )
    assert ids(iterated, "include") == {"Patient/pa", "Organization/org1"}
    without = body(
        clinic,
        "Observation",
        ("code", "85354-9"),
        ("_include", "Observation:patient"),
        ("_include", "Observation:subject"),
    )
    assert "Organization/org1" not in ids(without, "include")


# --- JSON Merge Patch and 405 -----------------------------------------------------------------


def test_merge_patch_changes_only_what_it_names(clinic: Repository) -> None:
    resp = clinic.handle(
        FhirRequest(
            "PATCH",
            "Patient/pa",
            body={"gender": "other", "generalPractitioner": None},
            content_type="application/merge-patch+json",
        )
    )
    assert resp.status == 200 and resp.resource is not None
    patched = resp.resource
    assert patched["gender"] == "other" and "generalPractitioner" not in patched
    assert patched["name"] == [{"family": "Adeyemi"}]
    assert patched["meta"]["versionId"] == "2"
    with pytest.raises(FhirError) as info:
        clinic.handle(FhirRequest("PATCH", "Patient/pa", body={"id": "other"}))
    assert info.value.status == 422


def test_methods_a_path_does_not_take_are_405(clinic: Repository) -> None:
    paths = [("DELETE", "metadata"), ("DELETE", "Patient/_history"), ("PUT", "Patient/_search")]
    for method, path in [*paths, ("DELETE", "Patient/pa/_history")]:
        with pytest.raises(MethodNotAllowed):
            clinic.handle(FhirRequest(method, path, body={}))


# --- referential integrity (policy [references]) ----------------------------------------------


def strict_repo(store: Store, caller: Caller = OPERATOR) -> Repository:
    text = resources.files("bedside.policy").joinpath("default.toml").read_text("utf-8")
    text = text.replace("reject = []", 'reject = ["Patient", "Encounter"]', 1)
    rules = parse(text, source="test")
    assert rules.references.mode("Patient") == "reject"
    return Repository(
        store, caller, BASE, policy=Policy(rules, consents=shares_for), auditor=NullAuditor()
    )


def test_dangling_references_are_stored_by_default(repo: Repository) -> None:
    stored = put(repo, obs("dangling", "no-such-patient", "8867-4"))
    assert stored["subject"] == {"reference": "Patient/no-such-patient"}


def test_a_rejected_type_must_name_a_stored_resource(store: Store, clinic: Repository) -> None:
    strict = strict_repo(store)
    with pytest.raises(Unprocessable) as info:
        put(strict, obs("dangling", "no-such-patient", "8867-4"))
    assert info.value.issues[0].expression == ("Observation.subject",)
    assert "Patient/no-such-patient" in info.value.message
    assert isinstance(refused(clinic, "Observation/dangling"), NotFound)  # nothing stored
    put(strict, obs("fine", "pa", "8867-4", performer=[{"reference": "Practitioner/nobody"}]))
    link = [{"other": {"reference": "Patient/self-linked"}, "type": "seealso"}]
    put(strict, {"resourceType": "Patient", "id": "self-linked", "link": link})
    clinic.handle(FhirRequest("DELETE", "Patient/pb"))
    with pytest.raises(Unprocessable):
        put(strict, obs("to-deleted", "pb", "8867-4"))


def test_a_reference_the_writer_cannot_read_is_refused_like_a_missing_one(
    store: Store, clinic: Repository
) -> None:
    caller = Caller(
        "app", ScopeSet.parse("patient/Observation.cru patient/Patient.r"), patient="pa"
    )
    strict = strict_repo(store, caller)
    hidden = obs("x1", "pa", "8867-4", focus=[{"reference": "Patient/pb"}])
    missing = obs("x2", "pa", "8867-4", focus=[{"reference": "Patient/zz"}])
    with pytest.raises(Unprocessable) as one:
        put(strict, hidden)
    with pytest.raises(Unprocessable) as other:
        put(strict, missing)
    assert one.value.message.replace("pb", "?") == other.value.message.replace("zz", "?")


def test_a_subsetted_resource_cannot_be_written_back(clinic: Repository) -> None:
    summary = body(clinic, "Patient/pa", ("_summary", "true"))
    with pytest.raises(Unprocessable) as info:
        clinic.handle(FhirRequest("PUT", "Patient/pa", body=summary))
    assert "SUBSETTED" in info.value.message
    assert body(clinic, "Patient/pa")["meta"]["versionId"] == "1"  # nothing stored
