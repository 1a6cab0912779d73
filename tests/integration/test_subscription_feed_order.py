"""The Subscription dispatcher reads the change feed in commit-safe order (ADR 0012).

On PostgreSQL a change-feed ``seq`` is allocated before its transaction commits, so a later
``seq`` can become visible first. A dispatcher that followed ``seq`` alone would number the
later row, move its cursor past the earlier one and never send it. Here a write is held open
while another commits: no event may be numbered past the one still in flight, and once it
commits both are numbered, in commit-safe order, none skipped.
"""

from __future__ import annotations

from typing import Any

import pytest

from bedside.audit.entry import NullAuditor
from bedside.policy.decide import Policy
from bedside.rest import FhirRequest, Repository
from bedside.store.base import Store
from bedside.subscriptions import records
from bedside.subscriptions.config import SubscriptionConfig
from bedside.subscriptions.dispatch import Dispatcher
from bedside.subscriptions.service import SubscriptionService
from tests.conftest import BASE, OPERATOR

TOPIC = "urn:bedside:subscription-topic:Observation"


def obs(oid: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"text": "pulse"}, "subject": {"reference": "Patient/fo-p"}}  # fmt: skip


def repository(store: Store) -> Repository:
    service = SubscriptionService(BASE, SubscriptionConfig(), "ws://127.0.0.1/ws")
    return Repository(store, OPERATOR, BASE, subscriptions=service)


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_row_still_in_flight_is_numbered_when_it_commits_never_skipped(store: Store) -> None:
    repo = repository(store)
    repo.handle(FhirRequest("PUT", "Patient/fo-p", body={"resourceType": "Patient", "id": "fo-p"}))
    body = {"resourceType": "Subscription", "criteria": TOPIC, "channel": {"type": "websocket"}}
    sid = repository(store).handle(FhirRequest("POST", "Subscription", body=body)).resource
    assert sid is not None
    dispatcher = Dispatcher(store, Policy(), NullAuditor(), BASE, SubscriptionConfig())
    with store.write() as session:  # an earlier seq, committed last
        early = repository(store).bind(session).create("Observation", obs("fo-early")).version.id
        repository(store).handle(FhirRequest("PUT", "Observation/fo-late", body=obs("fo-late")))
        sub = dispatcher.collect(sid["id"])
        assert sub is not None and sub.events == 0  # the later commit waits for the earlier
    sub = dispatcher.collect(sid["id"])
    assert sub is not None and sub.events == 2
    with store.records() as db:
        got = records.events(db, sid["id"], 1, 2, 10)
    assert [e.rid for e in got] == [early, "fo-late"]
