"""The Subscription dispatcher reads the change feed in commit-safe order (ADR 0012).

On PostgreSQL a change-feed ``seq`` is allocated before its transaction commits, so a later
``seq`` can become visible first. A dispatcher that followed ``seq`` alone would number the
later row, move its cursor past the earlier one and never send it. Here a write is held open
while another commits: no event may be numbered past the one still in flight, and once it
commits both are numbered, in commit-safe order, none skipped.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import pytest

from bedside.audit.entry import NullAuditor
from bedside.consent.evaluate import shares_for
from bedside.policy.decide import Policy
from bedside.rest import FhirRequest, Repository
from bedside.store.base import Store
from bedside.subscriptions import records
from bedside.subscriptions.config import SubscriptionConfig
from bedside.subscriptions.dispatch import LEASE, Dispatcher
from bedside.subscriptions.service import SubscriptionService
from tests.conftest import BASE, OPERATOR

TOPIC = "urn:bedside:subscription-topic:Observation"


def obs(oid: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"text": "pulse"}, "subject": {"reference": "Patient/fo-p"}}  # fmt: skip


def repository(store: Store) -> Repository:
    service = SubscriptionService(BASE, SubscriptionConfig(), "ws://127.0.0.1/ws")
    return Repository(
        store,
        OPERATOR,
        BASE,
        subscriptions=service,
        policy=Policy(consents=shares_for),
        auditor=NullAuditor(),
    )


@pytest.mark.parametrize("backend", ["postgresql"])
def test_a_row_still_in_flight_is_numbered_when_it_commits_never_skipped(store: Store) -> None:
    repo = repository(store)
    repo.handle(FhirRequest("PUT", "Patient/fo-p", body={"resourceType": "Patient", "id": "fo-p"}))
    body = {"resourceType": "Subscription", "criteria": TOPIC, "channel": {"type": "websocket"}}
    sid = repository(store).handle(FhirRequest("POST", "Subscription", body=body)).resource
    assert sid is not None
    dispatcher = Dispatcher(
        store, Policy(consents=shares_for), NullAuditor(), BASE, SubscriptionConfig()
    )
    with store.write() as session:  # an earlier seq, committed last
        early = repository(store).bind(session).create("Observation", obs("fo-early")).version.id
        repository(store).handle(FhirRequest("PUT", "Observation/fo-late", body=obs("fo-late")))
        sub = dispatcher.collect(sid["id"])
        assert sub is not None and sub.events == 0  # the later commit waits for the earlier
    deadline = time.monotonic() + 20  # another session's open transaction (any database on
    while True:  # the cluster) holds the horizon back: later, never lost
        sub = dispatcher.collect(sid["id"])
        assert sub is not None
        if sub.events == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert sub.events == 2
    with store.records() as db:
        got = records.events(db, sid["id"], 1, 2, 10)
    assert [e.rid for e in got] == [early, "fo-late"]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def test_one_sender_per_subscription_until_its_lease_runs_out(store: Store) -> None:
    """Two dispatchers (two server processes) on one database: only the lease holder numbers
    events; the other takes over once the holder has stopped renewing its lease."""
    clock = Clock()
    repo = repository(store)
    repo.handle(FhirRequest("PUT", "Patient/fo-p", body={"resourceType": "Patient", "id": "fo-p"}))
    body = {"resourceType": "Subscription", "criteria": TOPIC, "channel": {"type": "websocket"}}
    created = repo.handle(FhirRequest("POST", "Subscription", body=body)).resource
    assert created is not None
    sid = created["id"]
    first, second = (
        Dispatcher(
            store,
            Policy(clock=clock, consents=shares_for),
            NullAuditor(),
            BASE,
            SubscriptionConfig(),
        )
        for _ in range(2)
    )

    def events() -> int:
        with store.records() as db:
            sub = records.get(db, sid)
        assert sub is not None
        return sub.events

    def settle(dispatcher: Dispatcher, wanted: int) -> None:
        """Rounds until ``wanted`` events (on PostgreSQL another session's open transaction
        anywhere on the cluster may hold the horizon back for a moment)."""
        deadline = time.monotonic() + 20
        while events() != wanted and time.monotonic() < deadline:
            dispatcher.round()
            time.sleep(0.05)
        assert events() == wanted

    repo.handle(FhirRequest("PUT", "Observation/fo-1", body=obs("fo-1")))
    settle(first, 1)
    repo.handle(FhirRequest("PUT", "Observation/fo-2", body=obs("fo-2")))
    clock.now += LEASE / 2
    second.round()  # the first still holds the lease
    assert events() == 1
    settle(first, 2)  # renews it
    repo.handle(FhirRequest("PUT", "Observation/fo-3", body=obs("fo-3")))
    clock.now += LEASE * 2  # the first has stopped (a crashed process)
    settle(second, 3)


def test_a_subscription_whose_grant_has_ended_is_turned_off(store: Store) -> None:
    """The grant (token family) it was created under is checked at every round: one that was
    revoked, expired or never existed turns the Subscription off, and nothing is numbered."""
    caller = replace(OPERATOR, grant_id="g-ended")
    service = SubscriptionService(BASE, SubscriptionConfig(), "ws://127.0.0.1/ws")
    repo = Repository(
        store,
        caller,
        BASE,
        subscriptions=service,
        policy=Policy(consents=shares_for),
        auditor=NullAuditor(),
    )
    body = {"resourceType": "Subscription", "criteria": TOPIC, "channel": {"type": "websocket"}}
    created = repo.handle(FhirRequest("POST", "Subscription", body=body)).resource
    assert created is not None and created["status"] == "active"
    repository(store).handle(FhirRequest("PUT", "Observation/fo-g", body=obs("fo-g")))
    Dispatcher(
        store, Policy(consents=shares_for), NullAuditor(), BASE, SubscriptionConfig()
    ).round()
    with store.records() as db:
        sub = records.get(db, created["id"])
    assert sub is not None and sub.status == "off" and sub.events == 0
