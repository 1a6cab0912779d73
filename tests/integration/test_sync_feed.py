"""The pull's backfill query (bedside.store.feed.FeedSql.backfill) on a real store, both backends.

A backfill page reads windows of resources in rid order before falling back to the
compartments' index (docs/sync-pull.md "Rounds"); whatever the path, the pages must be exactly
those of the plain compartment query: every current resource of the patients, by rid, none
twice, none skipped. Dense, sparse and mixed patient sets are paged with several limits.
"""

from __future__ import annotations

from typing import Any

import pytest

from bedside.rest import FhirRequest, Repository
from bedside.store.base import Store
from bedside.store.feed import FeedSql


def _put(repo: Repository, resource: dict[str, Any]) -> None:
    path = f"{resource['resourceType']}/{resource['id']}"
    assert repo.handle(FhirRequest("PUT", path, body=resource)).status in (200, 201)


def _reference(feed: FeedSql, store: Store, patients: set[str]) -> list[int]:
    """Every current rid of the patients' compartments, in order, by the plain query."""
    where, args = feed._compartment_rids(patients)
    with store.read() as session:
        rows = session.records().rows(
            f"SELECT r.rid FROM resources r WHERE {where} ORDER BY r.rid", args
        )
    return [int(r[0]) for r in rows]


def _paged(feed: FeedSql, store: Store, patients: set[str], limit: int) -> list[int]:
    out: list[int] = []
    after: int | None = None
    with store.read() as session:
        db = session.records()
        while True:
            page = feed.backfill(db, patients, after, limit)
            assert len(page) <= limit
            out += [c.rid for c in page]
            if len(page) < limit:
                return out
            after = page[-1].rid


@pytest.fixture
def world(store: Store, repo: Repository) -> list[str]:
    """Eight patients; patient 0 has most of the data, 1-7 a little each, one deleted."""
    patients = [f"feed-p{i}" for i in range(8)]
    for i, pid in enumerate(patients):
        _put(repo, {"resourceType": "Patient", "id": pid, "gender": "female"})
        for n in range(40 if i == 0 else 2):
            _put(
                repo,
                {
                    "resourceType": "Observation",
                    "id": f"feed-o{i}-{n}",
                    "status": "final",
                    "code": {"text": "pulse"},
                    "subject": {"reference": f"Patient/{pid}"},
                },
            )
        _put(repo, {"resourceType": "Practitioner", "id": f"feed-dr{i}"})  # in no compartment
    assert repo.handle(FhirRequest("DELETE", "Observation/feed-o0-3")).status == 200
    return patients


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 1000])
def test_backfill_pages_are_those_of_the_compartment_query(
    store: Store, world: list[str], limit: int
) -> None:
    feed = FeedSql(store.dialect)
    for chosen in ({world[0]}, set(world), {world[5]}, {world[3], world[7]}, set(world[1:])):
        expected = _reference(feed, store, chosen)
        assert expected, chosen
        assert _paged(feed, store, chosen, limit) == expected, (chosen, limit)
    with store.read() as session:
        assert feed.backfill(session.records(), set(), None, limit) == []
