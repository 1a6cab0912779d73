"""The device's sync client (bedside.device.sync) on a real SQLCipher home, against a scripted
server (httpx.MockTransport) that answers exactly as docs/sync-protocol.md says.

This tests one layer: how the device settles push results, re-queues what was not answered and
applies pulled pages atomically with their cursor. The same client against a real server
process is tested end to end in the sync tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bedside.auth.keys import SigningKeys, load_or_create
from bedside.device import DeviceError, pulled
from bedside.device.remote import Remote
from bedside.device.secret import ENV_KEYSTORE
from bedside.device.sync import SyncSummary, pull, push, sync
from tests.integration._device_world import ISSUER, Clock, World, enroll, patient, pulse
from tests.integration._outbox import settle, take

Handler = Callable[[httpx.Request], httpx.Response]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SigningKeys:
    return load_or_create(tmp_path_factory.mktemp("server"))


@pytest.fixture
def world(tmp_path: Path, keys: SigningKeys, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv(ENV_KEYSTORE, "file")
    w = enroll(tmp_path / "home", keys, Clock())
    w.node.receive([patient("p1", "Alba Quennell"), patient("p2", "Brin Ottaway")])
    yield w
    w.node.lock()


def remote(handler: Handler) -> Remote:
    return Remote(ISSUER, transport=httpx.MockTransport(handler))


def pushes(handler: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> Handler:
    """A /sync/push that answers each event by ``handler`` and records what it received."""

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/sync/push"
        assert request.headers["authorization"] == "Bearer t0k3n"
        body = json.loads(request.content)
        assert body["protocol"] == 1 and body["device_time"].endswith("Z")
        return httpx.Response(
            200, json={"protocol": 1, "skew_ms": -12, "results": handler(body["events"])}
        )

    return answer


def test_push_settles_each_result_and_requeues_what_the_server_deferred(world: World) -> None:
    done = [world.node.record("create", pulse("p1", 60 + i), "p1") for i in range(5)]
    states = ["confirmed", "merged", "needs-review", "rejected", "deferred"]

    batches: list[int] = []

    def results(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        batches.append(len(events))
        out = []
        for event in events:
            state = states[event["seq"] - done[0].seq]  # the deferred one stays deferred
            r: dict[str, Any] = {"seq": event["seq"], "idempotency_key": event["idempotency_key"]}
            r["state"] = state
            if state in ("confirmed", "merged"):
                r |= {"id": event["resource_id"], "version": "1"}
            if state in ("needs-review", "rejected"):
                r["reason"] = "You are no longer on this patient's care team."
            out.append(r)
        return out

    summary = SyncSummary()
    push(world.node, remote(pushes(results)), "t0k3n", summary)
    assert batches == [5, 1], "a deferred event is offered once more, then left for next time"
    assert (summary.sent, summary.confirmed, summary.merged) == (6, 1, 1)
    assert (summary.needs_review, summary.rejected, summary.deferred) == (1, 1, 2)
    assert summary.skew_ms == -12
    by_seq = {e.seq: e for e in world.node.outbox()}
    assert [by_seq[d.seq].state for d in done] == [
        "confirmed",
        "confirmed",
        "needs-review",
        "rejected",
        "pending",
    ]
    assert by_seq[done[1].seq].result is not None
    assert by_seq[done[1].seq].result["server_state"] == "merged"
    assert world.node.read("Observation", done[0].id).local_state == "synced"
    assert world.node.read("Observation", done[2].id).local_state == "saved-on-device"


def test_a_dropped_connection_puts_the_batch_back_and_the_retry_sends_the_same_bytes(
    world: World,
) -> None:
    world.node.record("create", pulse("p1", 70), "p1")
    sent: list[list[dict[str, Any]]] = []

    def down(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content)["events"])
        raise httpx.ConnectError("connection reset")

    with pytest.raises(DeviceError, match="cannot be reached"):
        push(world.node, remote(down), "t0k3n", SyncSummary())
    assert [e.state for e in world.node.outbox()] == ["pending"]

    def confirm(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        sent.append(events)
        return [{"seq": e["seq"], "state": "confirmed", "version": "1"} for e in events]

    push(world.node, remote(pushes(confirm)), "t0k3n", SyncSummary())
    assert sent[0] == sent[1], "a re-send is the same signed event, key and all"
    assert [e.state for e in world.node.outbox()] == ["confirmed"]


def test_a_batch_past_the_servers_body_limit_is_sent_again_in_halves(world: World) -> None:
    # a server whose push limit fits 2 events: 413 (as web/body_limit.py answers) beyond that
    for i in range(5):
        world.node.record("create", pulse("p1", 60 + i), "p1")
    sizes: list[int] = []

    def limited(request: httpx.Request) -> httpx.Response:
        events = json.loads(request.content)["events"]
        sizes.append(len(events))
        if len(events) > 2:
            return httpx.Response(413, json={"resourceType": "OperationOutcome", "issue": []})
        done = [{"seq": e["seq"], "state": "confirmed", "version": "1"} for e in events]
        return httpx.Response(200, json={"protocol": 1, "results": done})

    summary = SyncSummary()
    push(world.node, remote(limited), "t0k3n", summary)
    assert sizes == [5, 2, 2, 1]
    assert summary.confirmed == 5
    assert [e.state for e in world.node.outbox()] == ["confirmed"] * 5


def test_one_event_past_the_servers_body_limit_stops_the_push_and_stays_pending(
    world: World,
) -> None:
    world.node.record("create", pulse("p1", 61), "p1")

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(413, json={"resourceType": "OperationOutcome", "issue": []})

    with pytest.raises(DeviceError, match="larger than the server accepts"):
        push(world.node, remote(refuse), "t0k3n", SyncSummary())
    assert [e.state for e in world.node.outbox()] == ["pending"]


def pages(*bodies: dict[str, Any]) -> tuple[Handler, list[str | None]]:
    """A /sync/pull serving ``bodies`` in turn; also returns the ``since`` each call sent."""
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/device/telemetry":  # the health report at the end of a sync
            return httpx.Response(204)
        assert request.url.path == "/sync/pull" and request.url.params["protocol"] == "1"
        seen.append(request.url.params.get("since"))
        return httpx.Response(200, json={"protocol": 1, **bodies[len(seen) - 1]})

    return answer, seen


def test_pull_applies_pages_in_turn_with_tombstones_purges_and_review_outcomes(
    world: World,
) -> None:
    review = world.node.record("create", pulse("p1", 130), "p1")
    local = world.node.record("create", pulse("p1", 131), "p1")  # still pending: kept
    take(world.node, 1)
    settle(world.node, review.seq, {"state": "needs-review", "reason": "Clinical clash."})
    server_obs = pulse("p2", 88, oid="o-server", version="3")
    handler, seen = pages(
        {
            "next": "c1",
            "more": True,
            "resources": [server_obs, pulse("p1", 90, oid="o-1", version="1")],
        },
        {
            "next": "c2",
            "more": False,
            "deleted": [
                {"type": "Observation", "id": "o-1", "version": "2"},
                {"type": "Observation", "id": local.id, "version": "9"},
            ],
            "purge": [{"patient": "p2", "reason": "access-ended", "types": [], "labels": []}],
            "reviews": [{"review": "r-1", "seq": review.seq, "state": "confirmed", "version": "2"}],
        },
    )
    summary = SyncSummary()
    progress: list[tuple[str, int, int | None]] = []
    pull(world.node, remote(handler), "t0k3n", summary, progress=lambda *a: progress.append(a))
    assert seen == [None, "c1"]
    assert world.node.sync_token() == "c2"
    assert (summary.received, summary.deleted, summary.purged, summary.reviews_settled) == (
        2,
        1,
        1,
        1,
    )
    assert [p[0] for p in progress] == ["pull", "pull"]
    chart = {i.id for i in world.node.chart("p1")}
    assert "o-1" not in chart and local.id in chart  # unconfirmed local work is never dropped
    assert "p2" not in {p.id for p in world.node.patients()}
    by_seq = {e.seq: e for e in world.node.outbox()}
    assert by_seq[review.seq].state == "confirmed"
    assert world.node.read("Observation", review.id).server_version == "2"


def test_a_page_that_fails_half_way_leaves_nothing_and_keeps_the_old_cursor(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, _ = pages(
        {"next": "c1", "more": False, "resources": [pulse("p1", 90, oid="o-1", version="1")]}
    )
    pull(world.node, remote(first), "t0k3n", SyncSummary())
    assert world.node.sync_token() == "c1"

    def power_cut(*_: object) -> tuple[int, int]:
        raise RuntimeError("the process died here")

    monkeypatch.setattr(pulled, "_purge", power_cut)  # after the page's resources were written
    second, _ = pages(
        {
            "next": "c2",
            "more": False,
            "resources": [pulse("p1", 91, oid="o-2", version="1")],
            "purge": [{"patient": "p2", "reason": "access-ended", "types": [], "labels": []}],
        }
    )
    with pytest.raises(RuntimeError):
        pull(world.node, remote(second), "t0k3n", SyncSummary())
    assert world.node.sync_token() == "c1"
    assert "o-2" not in {i.id for i in world.node.chart("p1")}
    bad_snapshot, _ = pages({"next": "c3", "more": False, "snapshot": "not-a-jws"})
    with pytest.raises(DeviceError):
        pull(world.node, remote(bad_snapshot), "t0k3n", SyncSummary())
    assert world.node.sync_token() == "c1"


def test_sync_pushes_then_pulls_and_reports_counts(world: World) -> None:
    world.node.record("create", pulse("p1", 75), "p1")
    calls: list[str] = []
    push_answer = pushes(
        lambda events: [{"seq": e["seq"], "state": "confirmed", "version": "1"} for e in events]
    )
    pull_answer, _ = pages({"next": "c1", "more": False, "resources": []})

    def route(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return push_answer(request) if request.url.path == "/sync/push" else pull_answer(request)

    summary = sync(world.node, remote(route), "t0k3n")
    # the health report (posture) first, which the push is judged by (issue 19), and again after
    assert calls == ["/device/telemetry", "/sync/push", "/sync/pull", "/device/telemetry"]
    assert (summary.sent, summary.confirmed, summary.received) == (1, 1, 0)


def test_a_patient_purged_and_sent_again_in_one_page_keeps_what_was_resent(world: World) -> None:
    first, _ = pages(
        {
            "next": "c1",
            "more": False,
            "resources": [
                pulse("p1", 90, oid="o-old", version="1"),
                pulse("p1", 91, oid="o-kept", version="1"),
            ],
        }
    )
    pull(world.node, remote(first), "t0k3n", SyncSummary())
    again, _ = pages(
        {
            "next": "c2",
            "more": False,
            "purge": [{"patient": "p1", "reason": "access-changed", "types": [], "labels": []}],
            "resources": [pulse("p1", 91, oid="o-kept", version="1")],
        }
    )
    pull(world.node, remote(again), "t0k3n", SyncSummary())
    assert {i.id for i in world.node.chart("p1", "Observation")} == {"o-kept"}
    assert "p1" in {p.id for p in world.node.patients()}
