"""A patient app on real (Synthea) records sees exactly its own patient's record, on both backends.

Two sample Bundles (one patient each, plus their own Practitioner and Organization copies) are
loaded by the operator; an app launched for the first patient with ``patient/*.rs`` then searches
and reads every type the Bundles hold.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import orjson

from bedside.audit.entry import NullAuditor
from bedside.consent.evaluate import shares_for
from bedside.errors import NotFound
from bedside.fhir.compartment import REFERENCE_TYPES
from bedside.policy.decide import Policy
from bedside.rest import FhirRequest, Repository
from bedside.store import Store
from tests.conftest import BASE, OPERATOR, sample_bundles
from tests.integration._scoped import bundle, repo_as


def load(repo: Repository, path: Path) -> dict[str, set[str]]:
    """POST one transaction Bundle; the ids it created, by type."""
    resp = repo.handle(FhirRequest("POST", "", body=orjson.loads(path.read_bytes())))
    assert resp.status == 200 and resp.resource is not None
    created: dict[str, set[str]] = defaultdict(set)
    for entry in resp.resource["entry"]:
        created[entry["resource"]["resourceType"]].add(entry["resource"]["id"])
    return created


def every_id(repo: Repository, rtype: str) -> set[str]:
    page = bundle(repo, rtype, ("_count", "1000"))
    assert not [link for link in page["link"] if link["relation"] == "next"]
    found = {e["resource"]["id"] for e in page.get("entry", [])}
    assert page["total"] == len(found)
    return found


def test_patient_app_sees_exactly_its_own_record(store: Store) -> None:
    smallest = sorted(sample_bundles(), key=lambda p: p.stat().st_size)[:2]
    operator = Repository(
        store, OPERATOR, BASE, policy=Policy(consents=shares_for), auditor=NullAuditor()
    )
    mine, theirs = (load(operator, path) for path in smallest)
    (me,) = mine["Patient"]
    app = repo_as(store, "patient/*.rs", patient=me)
    for rtype in sorted(set(mine) | set(theirs)):
        visible = every_id(app, rtype)
        if rtype in REFERENCE_TYPES:
            assert visible == mine[rtype] | theirs[rtype], rtype
            continue
        assert visible == mine[rtype], rtype
        assert bundle(app, rtype, ("_summary", "count"))["total"] == len(mine[rtype])
        for rid in theirs[rtype]:
            try:
                app.handle(FhirRequest("GET", f"{rtype}/{rid}"))
            except NotFound:
                continue
            raise AssertionError(f"{rtype}/{rid} of another patient was readable")
    assert len(mine["Observation"]) > 10 and theirs["Observation"]
