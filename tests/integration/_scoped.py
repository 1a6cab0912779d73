"""Two patients' data and scoped callers, shared by the access-enforcement tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from bedside.audit.entry import NullAuditor
from bedside.auth.caller import Caller
from bedside.auth.scopes import ScopeSet
from bedside.consent.evaluate import shares_for
from bedside.errors import FhirError
from bedside.fhir.outcome import operation_outcome
from bedside.policy.decide import Policy
from bedside.rest import FhirRequest, FhirResponse, Repository
from bedside.store import Store
from tests.conftest import BASE, OPERATOR

CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
LAB_SCOPE = f"patient/Observation.rs?category={CATEGORY}|laboratory"
VITAL_SCOPE = f"patient/Observation.rs?category={CATEGORY}|vital-signs"

Resource = dict[str, Any]


def observation(oid: str, subject: str, category: str, performer: str | None = None) -> Resource:
    body: Resource = {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
        "code": {"coding": [{"system": "http://loinc.org", "code": "718-7"}]},
        "subject": {"reference": subject},
    }
    if performer:
        body["performer"] = [{"reference": performer}]
    return body


WORLD: list[Resource] = [
    {"resourceType": "Patient", "id": "p1", "name": [{"family": "One"}]},
    {"resourceType": "Patient", "id": "p2", "name": [{"family": "Two"}]},
    {"resourceType": "Practitioner", "id": "doc", "name": [{"family": "Who"}]},
    observation("p1-lab", "Patient/p1", "laboratory", "Practitioner/doc"),
    observation("p1-vital", "Patient/p1", "vital-signs"),
    observation("p2-lab", "Patient/p2", "laboratory", "Practitioner/doc"),
    observation("p2-vital", "Patient/p2", "vital-signs"),
    # about p2, but performed (self-reported) by p1: in both compartments (R4 performer)
    observation("p2-by-p1", "Patient/p2", "survey", "Patient/p1"),
    {"resourceType": "Encounter", "id": "p1-enc", "status": "finished",
     "class": {"code": "AMB"}, "subject": {"reference": "Patient/p1"}},
    {"resourceType": "Encounter", "id": "p2-enc", "status": "finished",
     "class": {"code": "AMB"}, "subject": {"reference": "Patient/p2"}},
    {"resourceType": "Task", "id": "p1-task", "status": "requested", "intent": "order",
     "for": {"reference": "Patient/p1"}},
]  # fmt: skip


@pytest.fixture
def world(store: Store) -> Store:
    op = Repository(
        store, OPERATOR, BASE, policy=Policy(consents=shares_for), auditor=NullAuditor()
    )
    for resource in WORLD:
        path = f"{resource['resourceType']}/{resource['id']}"
        assert op.handle(FhirRequest("PUT", path, body=resource)).status == 201
    return store


def repo_as(store: Store, scope: str, **context: str) -> Repository:
    return Repository(
        store,
        Caller("app", ScopeSet.parse(scope), **context),
        BASE,
        policy=Policy(consents=shares_for),
        auditor=NullAuditor(),
    )


def get(repo: Repository, path: str, *query: tuple[str, str]) -> FhirResponse:
    return repo.handle(FhirRequest("GET", path, query=query))


def bundle(repo: Repository, path: str, *query: tuple[str, str]) -> Resource:
    resp = get(repo, path, *query)
    assert resp.status == 200 and resp.resource is not None
    return resp.resource


def ids(b: Resource, mode: str = "match") -> set[str]:
    return {e["resource"]["id"] for e in b.get("entry", []) if e["search"]["mode"] == mode}


def refusal(repo: Repository, path: str, *query: tuple[str, str]) -> FhirError:
    with pytest.raises(FhirError) as info:
        get(repo, path, *query)
    return info.value


def seen_as(exc: FhirError, rid: str) -> tuple[int, str, dict[str, str]]:
    """What the client gets (status, OperationOutcome, headers), with the asked-for id blanked."""
    return exc.status, str(operation_outcome(exc.issues)).replace(rid, "<id>"), exc.headers


def follow(repo: Repository, url: str) -> Resource:
    parts = urlsplit(url)
    query = tuple(parse_qsl(parts.query, keep_blank_values=True))
    return bundle(repo, parts.path.rsplit("/", 1)[-1], *query)
