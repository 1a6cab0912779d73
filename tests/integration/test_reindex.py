"""``bedside admin reindex`` rebuilds exactly the index a write makes (hazard H-25), both stores.

The index of resources stored before a change of the search parameter table lacks the new
parameters; these tests take the index away and check that reindexing gives back, row for row,
what the writes themselves made, for current versions only.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bedside.rest import FhirRequest, Repository
from bedside.store.base import Store
from bedside.store.reindex import reindex

TABLES = ("idx_token", "idx_string", "idx_date", "idx_reference", "idx_quantity")


def put(repo: Repository, resource: dict[str, Any]) -> None:
    rtype, rid = resource["resourceType"], resource["id"]
    resp = repo.handle(FhirRequest("PUT", f"{rtype}/{rid}", body=resource))
    assert resp.status in (200, 201), resp.resource


def index(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    with store.records() as records:
        return {
            t: sorted(tuple(map(str, r)) for r in records.rows(f"SELECT * FROM {t}"))
            for t in TABLES
        }


def wipe(store: Store) -> None:
    with store.records(write=True) as records:
        for table in TABLES:
            records.run(f"DELETE FROM {table}")


def live(store: Store) -> int:
    """Stored resources whose current version is not a delete (Provenance included)."""
    with store.records() as records:
        rows = records.rows("SELECT type, deleted FROM resources")
    assert ("Patient", True) in {(t, bool(d)) for t, d in rows}
    return sum(1 for _, d in rows if not d)


def found(repo: Repository, rtype: str, *pairs: tuple[str, str]) -> set[str]:
    resp = repo.handle(FhirRequest("GET", rtype, query=pairs))
    assert resp.status == 200 and resp.resource is not None
    return {e["resource"]["id"] for e in resp.resource.get("entry", [])}


def small_world(repo: Repository) -> None:
    put(repo, {"resourceType": "Patient", "id": "p1", "name": [{"family": "Ångström"}]})
    put(repo, {"resourceType": "Patient", "id": "p1", "name": [{"family": "Berg"}]})  # v2
    put(repo, {"resourceType": "Patient", "id": "gone", "meta": {"source": "urn:x"}})
    assert repo.handle(FhirRequest("DELETE", "Patient/gone")).status == 200
    for i in range(7):  # more than one batch of 3
        put(
            repo,
            {
                "resourceType": "Observation",
                "id": f"o{i}",
                "meta": {"source": "urn:bedside:ward-7"},
                "status": "final",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                "subject": {"reference": "Patient/p1"},
                "effectiveDateTime": f"2026-12-0{i + 1}T10:00:00Z",
                "valueQuantity": {"value": 60 + i, "unit": "/min", "code": "/min"},
            },
        )


def test_reindex_rebuilds_exactly_the_rows_the_writes_made(repo: Repository, store: Store) -> None:
    small_world(repo)
    before = index(store)
    assert all(before[t] for t in TABLES)
    wipe(store)
    assert found(repo, "Observation", ("_source", "urn:bedside:ward-7")) == set()  # stale
    assert reindex(store, batch=3) == live(store) >= 8  # the deleted Patient is not counted
    assert index(store) == before
    assert found(repo, "Observation", ("_source", "urn:bedside:ward-7")) == {
        f"o{i}" for i in range(7)
    }
    assert found(repo, "Patient", ("family", "berg")) == {"p1"}
    assert found(repo, "Patient", ("family", "angstrom")) == set()  # the old version stays out


def test_reindex_twice_changes_nothing(repo: Repository, store: Store) -> None:
    small_world(repo)
    before = index(store)
    reindex(store)
    reindex(store)
    assert index(store) == before


def test_the_command_reindexes_and_says_how_many(
    repo: Repository, store: Store, db_url: str, tmp_path: Path
) -> None:
    small_world(repo)
    before = index(store)
    wipe(store)
    command = ["admin", "reindex", "--data-dir", str(tmp_path), "--database", db_url]
    done = subprocess.run(
        [sys.executable, "-m", "bedside", *command],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"},
    )
    assert done.returncode == 0, done.stderr
    assert f"Reindexed {live(store)} resources." in done.stderr  # console output
    assert index(store) == before
