"""Writes under confined and granular SMART scopes, on SQLite and PostgreSQL.

A write may only touch resources the caller can see, and may only leave behind resources it
could see: otherwise 404 (as if missing) or 403, with nothing stored.
"""

from __future__ import annotations

import pytest

from bedside.audit.entry import NullAuditor
from bedside.consent.evaluate import shares_for
from bedside.errors import Conflict, FhirError, Forbidden, NotFound
from bedside.policy.decide import Policy
from bedside.rest import FhirRequest, Repository
from bedside.store import Store
from tests.conftest import BASE, OPERATOR
from tests.integration._scoped import (
    CATEGORY,
    Resource,
    bundle,
    ids,
    observation,
    repo_as,
    seen_as,
    world,
)

__all__ = ["world"]  # the fixture

PATCH = [{"op": "replace", "path": "/status", "value": "amended"}]


def operator(store: Store) -> Repository:
    return Repository(
        store, OPERATOR, BASE, policy=Policy(consents=shares_for), auditor=NullAuditor()
    )


def refused(repo: Repository, req: FhirRequest) -> FhirError:
    with pytest.raises(FhirError) as info:
        repo.handle(req)
    return info.value


def stored(store: Store, path: str) -> Resource:
    resp = operator(store).handle(FhirRequest("GET", path))
    assert resp.resource is not None
    return resp.resource


def observation_count(store: Store) -> int:
    return int(bundle(operator(store), "Observation", ("_summary", "count"))["total"])


@pytest.fixture
def writer(world: Store) -> Repository:
    return repo_as(world, "patient/Observation.cruds patient/Patient.rs", patient="p1")


def test_create_in_own_compartment_is_stored(world: Store, writer: Repository) -> None:
    body = observation("new", "Patient/p1", "laboratory")
    resp = writer.handle(FhirRequest("POST", "Observation", body=body))
    assert resp.status == 201
    assert observation_count(world) == 6


def test_create_outside_the_compartment_is_403_and_rolled_back(
    world: Store, writer: Repository
) -> None:
    body = observation("new", "Patient/p2", "laboratory")
    exc = refused(writer, FhirRequest("POST", "Observation", body=body))
    assert isinstance(exc, Forbidden)
    assert "outside the patient's compartment" in exc.message
    assert observation_count(world) == 5
    assert bundle(operator(world), "Observation/_history")["entry"][0]["resource"]["id"] != "new"


def test_update_that_moves_a_resource_out_of_the_compartment_is_refused(
    world: Store, writer: Repository
) -> None:
    moved = {**observation("p1-lab", "Patient/p2", "laboratory"), "status": "amended"}
    exc = refused(writer, FhirRequest("PUT", "Observation/p1-lab", body=moved))
    assert isinstance(exc, Forbidden)
    after = stored(world, "Observation/p1-lab")
    assert after["meta"]["versionId"] == "1"
    assert after["subject"] == {"reference": "Patient/p1"}


def test_create_on_update_with_a_new_id_outside_the_compartment_is_refused(
    world: Store, writer: Repository
) -> None:
    body = observation("fresh", "Patient/p2", "laboratory")
    assert isinstance(
        refused(writer, FhirRequest("PUT", "Observation/fresh", body=body)), Forbidden
    )
    assert isinstance(refused(operator(world), FhirRequest("GET", "Observation/fresh")), NotFound)


def test_update_patch_and_delete_of_another_patients_resource_act_as_if_it_were_missing(
    world: Store, writer: Repository
) -> None:
    body = {**observation("p2-lab", "Patient/p1", "laboratory")}
    hidden = refused(writer, FhirRequest("PUT", "Observation/p2-lab", body=body))
    assert isinstance(hidden, Conflict)  # the id is taken, as for a conditional update
    assert "p2" not in hidden.message.replace("p2-lab", "")
    hidden = refused(writer, FhirRequest("PATCH", "Observation/p2-lab", body=PATCH))
    missing = refused(writer, FhirRequest("PATCH", "Observation/nope", body=PATCH))
    assert seen_as(hidden, "p2-lab") == seen_as(missing, "nope")
    gone = writer.handle(FhirRequest("DELETE", "Observation/p2-lab"))
    absent = writer.handle(FhirRequest("DELETE", "Observation/nope"))
    assert (gone.status, gone.resource, gone.version) == (200, absent.resource, absent.version)
    assert stored(world, "Observation/p2-lab")["meta"]["versionId"] == "1"


@pytest.mark.parametrize("rid", ["p2-lab", "never-stored"])
def test_put_outside_the_compartment_answers_alike_whether_or_not_the_id_exists(
    world: Store, writer: Repository, rid: str
) -> None:
    """Finding 13 of issue 13: an existing invisible id answered 404, a new one 403."""
    body = observation(rid, "Patient/p2", "laboratory")
    exc = refused(writer, FhirRequest("PUT", f"Observation/{rid}", body=body))
    fresh = refused(
        writer, FhirRequest("PUT", "Observation/other-new", body=body | {"id": "other-new"})
    )
    assert (exc.status, exc.issues, exc.headers) == (fresh.status, fresh.issues, fresh.headers)
    assert exc.status == 403
    assert stored(world, "Observation/p2-lab")["meta"]["versionId"] == "1"


def test_own_resource_can_be_patched_and_deleted(world: Store, writer: Repository) -> None:
    assert writer.handle(FhirRequest("PATCH", "Observation/p1-lab", body=PATCH)).status == 200
    assert writer.handle(FhirRequest("DELETE", "Observation/p1-vital")).version == 2
    assert observation_count(world) == 4


def test_readable_but_not_writable_resource_is_403(world: Store) -> None:
    repo = repo_as(world, "patient/*.rs patient/Observation.u", patient="p1")
    body = {"resourceType": "Practitioner", "id": "doc", "name": [{"family": "Changed"}]}
    assert isinstance(refused(repo, FhirRequest("PUT", "Practitioner/doc", body=body)), Forbidden)
    assert stored(world, "Practitioner/doc")["name"] == [{"family": "Who"}]


def test_granular_write_scope_refuses_resources_outside_its_query(world: Store) -> None:
    repo = repo_as(world, f"patient/Observation.c?category={CATEGORY}|laboratory", patient="p1")
    lab = observation("lab2", "Patient/p1", "laboratory")
    assert repo.handle(FhirRequest("POST", "Observation", body=lab)).status == 201
    vital = observation("vital2", "Patient/p1", "vital-signs")
    assert isinstance(refused(repo, FhirRequest("POST", "Observation", body=vital)), Forbidden)
    assert observation_count(world) == 6


def test_conditional_operations_only_see_visible_resources(
    world: Store, writer: Repository
) -> None:
    req = FhirRequest("DELETE", "Observation", query=(("_id", "p2-lab"),))
    assert writer.handle(req).status == 200
    assert stored(world, "Observation/p2-lab")["meta"]["versionId"] == "1"
    body = observation("p2-lab", "Patient/p1", "laboratory")
    cond = FhirRequest("PUT", "Observation", query=(("_id", "p2-lab"),), body=body)
    assert isinstance(refused(writer, cond), Conflict)  # no visible match; the id is taken
    assert stored(world, "Observation/p2-lab")["subject"] == {"reference": "Patient/p2"}


def test_transaction_with_one_entry_outside_the_compartment_stores_nothing(
    world: Store, writer: Repository
) -> None:
    entries = [
        {
            "fullUrl": f"urn:uuid:0000000{i}-0000-4000-8000-000000000000",
            "resource": {k: v for k, v in observation("x", subject, "laboratory").items()
                         if k != "id"},
            "request": {"method": "POST", "url": "Observation"},
        }
        for i, subject in enumerate(["Patient/p1", "Patient/p2"])
    ]  # fmt: skip
    tx = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    exc = refused(writer, FhirRequest("POST", "", body=tx))
    assert exc.status == 403
    assert observation_count(world) == 5
    ok = {**tx, "entry": entries[:1]}
    assert writer.handle(FhirRequest("POST", "", body=ok)).status == 200
    assert observation_count(world) == 6


def test_batch_entries_are_enforced_one_by_one(world: Store, writer: Repository) -> None:
    batch = {
        "resourceType": "Bundle",
        "type": "batch",
        "entry": [
            {"request": {"method": "GET", "url": "Observation/p1-lab"}},
            {"request": {"method": "GET", "url": "Observation/p2-lab"}},
            {"request": {"method": "GET", "url": "Observation?_summary=count"}},
        ],
    }
    resp = writer.handle(FhirRequest("POST", "", body=batch))
    assert resp.resource is not None
    statuses = [e["response"]["status"] for e in resp.resource["entry"]]
    assert [s.split()[0] for s in statuses] == ["200", "404", "200"]
    assert resp.resource["entry"][2]["resource"]["total"] == 3


def test_operator_sees_and_changes_everything(world: Store) -> None:
    op = operator(world)
    assert ids(bundle(op, "Observation")) == {"p1-lab", "p1-vital", "p2-lab", "p2-vital",
                                              "p2-by-p1"}  # fmt: skip
    body = observation("p2-lab", "Patient/p1", "laboratory")
    assert op.handle(FhirRequest("PUT", "Observation/p2-lab", body=body)).status == 200
