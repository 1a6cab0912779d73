"""Search parameters the generated R4 table (ADR 0015) changed or added, on SQLite and PostgreSQL.

The hand-written table had every other row the generated one has, path for path; the existing
search tests cover those. These cover the three rows that differ.
"""

from __future__ import annotations

from typing import Any

from bedside.rest import FhirRequest, Repository
from bedside.rest.capability import capability_statement

Resource = dict[str, Any]


def put(repo: Repository, resource: Resource) -> None:
    resp = repo.handle(
        FhirRequest("PUT", f"{resource['resourceType']}/{resource['id']}", body=resource)
    )
    assert resp.status in (200, 201), resp.resource


def found(repo: Repository, rtype: str, *pairs: tuple[str, str]) -> set[str]:
    resp = repo.handle(FhirRequest("GET", rtype, query=pairs))
    assert resp.status == 200, resp.resource
    assert resp.resource is not None
    return {e["resource"]["id"] for e in resp.resource.get("entry", [])}


def test_source_searches_meta_source_as_a_uri(repo: Repository) -> None:
    for pid, source in (("a", "urn:bedside:ward-7"), ("b", "urn:bedside:clinic")):
        put(repo, {"resourceType": "Patient", "id": pid, "meta": {"source": source}})
    put(repo, {"resourceType": "Patient", "id": "c"})
    assert found(repo, "Patient", ("_source", "urn:bedside:ward-7")) == {"a"}
    assert found(repo, "Patient", ("_source", "urn:bedside:ward-7,urn:bedside:clinic")) == {
        "a",
        "b",
    }
    assert found(repo, "Patient", ("_source", "urn:bedside:ward")) == set()  # a uri is whole


def _service_request(rid: str, **fields: Any) -> Resource:
    return {
        "resourceType": "ServiceRequest",
        "id": rid,
        "status": "active",
        "intent": "order",
        "subject": {"reference": "Patient/p1"},
        **fields,
    }


def test_order_detail_matches_the_text_of_an_order_detail(repo: Repository) -> None:
    put(repo, {"resourceType": "Patient", "id": "p1"})
    put(repo, _service_request("fast", orderDetail=[{"text": "nil by mouth"}]))
    put(repo, _service_request("other", orderDetail=[{"text": "sitting up"}]))
    put(repo, _service_request("none"))
    assert found(repo, "ServiceRequest", ("order-detail", "nil by mouth")) == {"fast"}
    assert found(repo, "ServiceRequest", ("order-detail:not", "nil by mouth")) == {"other", "none"}


def _consent(cid: str, **fields: Any) -> Resource:
    return {
        "resourceType": "Consent",
        "id": cid,
        "status": "proposed",
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
        "provision": {"type": "permit"},
        **fields,
    }


def test_source_reference_still_matches_only_a_source_reference(repo: Repository) -> None:
    # The definition says Consent.source (a choice); only sourceReference can hold a reference,
    # so the generated path source[x] matches what the hand-written sourceReference matched.
    put(repo, {"resourceType": "Patient", "id": "p1"})
    put(
        repo,
        {
            "resourceType": "DocumentReference",
            "id": "form",
            "status": "current",
            "content": [{"attachment": {"url": "urn:form"}}],
        },
    )
    put(repo, _consent("by-ref", sourceReference={"reference": "DocumentReference/form"}))
    put(repo, _consent("by-file", sourceAttachment={"url": "urn:form", "title": "form"}))
    assert found(repo, "Consent", ("source-reference", "DocumentReference/form")) == {"by-ref"}
    assert found(repo, "Consent", ("source-reference:missing", "true")) == {"by-file"}


def test_the_capability_statement_offers_and_cites_the_new_parameters() -> None:
    cap = capability_statement("http://bedside.test/fhir", "2026-12-03")
    by_type = {
        r["type"]: {p["name"]: p for p in r.get("searchParam", [])}
        for r in cap["rest"][0]["resource"]
    }
    assert by_type["ServiceRequest"]["order-detail"]["definition"] == (
        "http://hl7.org/fhir/SearchParameter/ServiceRequest-order-detail"
    )
    assert by_type["Binary"]["_source"]["definition"] == (
        "http://hl7.org/fhir/SearchParameter/Resource-source"
    )
