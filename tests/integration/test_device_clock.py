"""Device clock discipline (issue 14, finding 2): a device whose clock is minutes off the
server's syncs and opens as if it were right, and one hours off is told so in one sentence,
without losing its sign-in.

First the sync client against a scripted server (httpx.MockTransport), then real device homes
enrolled through a real `bedside serve` on loopback (SQLite: the clock is the device's
business, the backend plays no part), each with an injected device clock.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bedside.auth.keys import SigningKeys, load_or_create
from bedside.device import DeviceError, Node
from bedside.device.enroll import SignIn, enroll
from bedside.device.remote import Remote
from bedside.device.secret import ENV_KEYSTORE
from bedside.device.sync import SyncSummary, sync
from bedside.protocol.event import format_time
from tests.integration._device_world import ISSUER, Clock, World, mint, pulse
from tests.integration._device_world import enroll as enroll_world
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import observation
from tests.integration._sync_world import new_ward
from tests.integration.test_device_cli import PIN, walk_browser

MINUTE = 60.0
HOUR = 3600.0
OPEN: list[Node] = []  # nodes a test unlocked; locked at teardown


@pytest.fixture(autouse=True)
def _homes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(ENV_KEYSTORE, "file")  # no OS key store in CI
    yield
    while OPEN:
        OPEN.pop().lock()


def opened(home: Path, clock: Callable[[], float], pin: str = PIN) -> Node:
    """The home opened with the PIN, as a new process with ``clock`` would."""
    node = Node(home, clock=clock)
    node.unlock(pin)
    OPEN.append(node)
    return node


# --- the sync client against a scripted server ------------------------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SigningKeys:
    return load_or_create(tmp_path_factory.mktemp("server"))


@pytest.fixture
def world(tmp_path: Path, keys: SigningKeys) -> Iterator[World]:
    w = enroll_world(tmp_path / "home", keys, Clock())
    OPEN.append(w.node)
    yield w


def scripted(world: World, server_now: float, seen: list[str]) -> Remote:
    """A server whose clock says ``server_now`` (and moves with the device's)."""
    start = world.clock()

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        now = server_now + (world.clock() - start)
        if request.url.path == "/sync/push":
            events = json.loads(request.content)["events"]
            body: dict[str, Any] = {
                "protocol": 1,
                "server_time": format_time(now),
                "skew_ms": round((world.clock() - now) * 1000),
                "results": [
                    {"seq": e["seq"], "state": "confirmed", "version": "1"} for e in events
                ],
            }
            return httpx.Response(200, json=body)
        snapshot = mint(world.keys, now)  # the server issues it in its own time
        page = {"protocol": 1, "next": "c1", "more": False, "snapshot": snapshot}
        return httpx.Response(200, json=page)

    return Remote(ISSUER, transport=httpx.MockTransport(answer))


def test_sync_learns_the_servers_clock_from_the_push_and_the_device_keeps_it(
    world: World,
) -> None:
    world.clock.advance(60)
    world.node.record("create", pulse("p1", 72), "p1")
    seen: list[str] = []
    # The server's clock is 5 minutes ahead of this device's: its new snapshot starts "in the
    # device's future", which the device used to refuse ("it is not valid yet").
    summary = sync(world.node, scripted(world, world.clock() + 5 * MINUTE, seen), "t0k3n")
    # posture first (graduated compliance decides what the push may do), then the usual three
    assert seen == ["/device/telemetry", "/sync/push", "/sync/pull", "/device/telemetry"]
    assert summary.confirmed == 1 and summary.snapshot
    assert summary.skew_ms == -5 * 60 * 1000
    world.node.lock()
    again = opened(world.home, world.clock, world.pin)  # a restart: the offset came from the store
    assert again.clock.skew_ms == -5 * 60 * 1000
    assert again.status().mode == "normal"


def test_a_clock_beyond_the_limit_stops_the_sync_before_anything_is_sent(world: World) -> None:
    world.node.record("create", pulse("p1", 72), "p1")
    seen: list[str] = []
    remote = scripted(world, world.clock() - 3 * HOUR, seen)
    remote.clock.learn(world.clock() - 3 * HOUR, world.clock(), "token")  # its token refresh
    with pytest.raises(DeviceError, match="clock is 3 hours ahead of the server's"):
        sync(world.node, remote, "t0k3n")
    assert seen == [] and [e.state for e in world.node.outbox()] == ["pending"]


# --- real devices against a real server --------------------------------------------------------


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, "sqlite") as s:
        yield s


def enroll_with(smart: Smart, username: str, home: Path, clock: Callable[[], float]) -> None:
    """Enroll ``home`` for ``username`` (the test plays the browser) with ``clock``."""
    failures: list[BaseException] = []
    walkers: list[threading.Thread] = []

    def browse(url: str) -> None:
        try:
            landed = walk_browser(smart, url, username)
            assert landed.status_code == 200, landed.text
        except BaseException as exc:  # reported below
            failures.append(exc)

    def show(url: str) -> None:
        walkers.append(threading.Thread(target=browse, args=(url,), daemon=True))
        walkers[-1].start()

    try:
        enroll(home, smart.fhir, PIN, SignIn(show_url=show, timeout=60), clock=clock)
    finally:
        for walker in walkers:
            walker.join(timeout=30)
    assert not failures, failures


def sync_with(node: Node) -> SyncSummary:
    """`bedside device sync`, in-process: refresh (keeping the rotated token), then sync."""
    with Remote(node.info.server, clock=node.clock) as remote:
        return sync(node, remote, access_token(node, remote))


def access_token(node: Node, remote: Remote) -> str:
    refresh = node.refresh_token()
    assert refresh
    tokens = remote.refresh(refresh)
    assert tokens.refresh_token and tokens.device == node.info.device_id
    node.set_refresh_token(tokens.refresh_token)
    return tokens.access_token


def sync_until(node: Node, done: Callable[[], bool]) -> None:
    """Sync until ``done()`` (a fresh write may come one pull later)."""
    deadline = time.monotonic() + 60
    while not done():
        assert time.monotonic() < deadline, "not delivered within 60 s"
        sync_with(node)


def nurse(smart: Smart, tmp_path: Path, clock: Callable[[], float]) -> tuple[Node, str]:
    """A nurse's device enrolled with ``clock`` and synced once; (its node, her patient)."""
    ward, [(username, _, _)] = new_ward(smart, "nurse")
    enroll_with(smart, username, tmp_path / "home", clock)
    node = opened(tmp_path / "home", clock)
    sync_until(node, lambda: any(p.id == ward.patient for p in node.patients()))
    return node, ward.patient


def test_a_device_20_minutes_ahead_syncs_and_keeps_its_sign_in(
    smart: Smart, tmp_path: Path
) -> None:
    node, patient = nurse(smart, tmp_path, time.time)
    node.lock()
    ahead = opened(node.home, lambda: time.time() + 20 * MINUTE)
    ahead.record("create", observation(patient, 72), patient)
    first = sync_with(ahead)  # was: "The server ... sent a token this device cannot verify."
    assert (first.sent, first.confirmed, first.rejected) == (1, 1, 0)
    assert first.skew_ms is not None and abs(first.skew_ms - 20 * 60 * 1000) < 5000
    assert {e.state for e in ahead.outbox()} == {"confirmed"}
    assert sync_with(ahead).sent == 0, "the sign-in is intact: the next sync refreshes again"
    ahead.lock()
    restarted = opened(node.home, lambda: time.time() + 20 * MINUTE)
    assert restarted.clock.offset is not None
    assert abs(restarted.clock.offset.seconds + 20 * MINUTE) < 5
    assert abs(restarted.clock.now() - time.time()) < 5


def test_a_device_5_minutes_behind_enrolls_opens_and_syncs(smart: Smart, tmp_path: Path) -> None:
    behind: Callable[[], float] = lambda: time.time() - 5 * MINUTE  # noqa: E731
    # Enrolling learns the offset at sign-in; the snapshot, issued 5 minutes "in the device's
    # future", was refused ("The policy snapshot cannot be used: it is not valid yet").
    node, patient = nurse(smart, tmp_path, behind)
    assert node.clock.offset is not None and abs(node.clock.offset.seconds - 5 * MINUTE) < 5
    node.record("create", observation(patient, 64), patient)
    assert sync_with(node).confirmed == 1
    with Remote(node.info.server, clock=node.clock) as remote:
        node.apply_snapshot(remote.snapshot(access_token(node, remote)))  # issued just now
    node.lock()
    again = opened(node.home, behind)  # a restart opens with it: the offset was kept
    assert again.status().mode == "normal"
    assert abs(again.clock.now() - time.time()) < 5


def test_a_clock_hours_ahead_is_told_in_one_sentence_and_keeps_its_sign_in(
    smart: Smart, tmp_path: Path
) -> None:
    node, patient = nurse(smart, tmp_path, time.time)
    node.lock()
    off = opened(node.home, lambda: time.time() + 2 * HOUR)
    off.record("create", observation(patient, 58), patient)
    with Remote(off.info.server, clock=off.clock) as remote:
        token = access_token(off, remote)  # the refresh succeeds and its rotated token is kept
        with pytest.raises(DeviceError) as refused:
            sync(off, remote, token)
    assert str(refused.value) == (
        "This device's clock is 2 hours ahead of the server's, more than the hour Bedside "
        "corrects by itself. Set the device's date, time and time zone correctly (automatic is "
        "best), then try again."
    )
    assert {e.state for e in off.outbox()} == {"pending"}, "nothing was sent"
    off.lock()
    fixed = opened(node.home, time.time)  # the user set the clock right: the sign-in still works
    assert sync_with(fixed).sent == 1
    # Recorded while the clock said two hours later: the server does not write it as if that
    # time were true, it sends it to review (docs/sync-protocol.md, "Clock discipline").
    [entry] = fixed.outbox()
    assert (
        entry.state == "needs-review"
        and entry.result
        and entry.result["code"] == "implausible-time"
    )


def test_a_clock_set_hours_back_is_told_so_when_the_device_opens(
    smart: Smart, tmp_path: Path
) -> None:
    node, _ = nurse(smart, tmp_path, time.time)
    node.lock()
    with pytest.raises(DeviceError) as refused:
        opened(node.home, lambda: time.time() - 3 * HOUR)
    assert str(refused.value).startswith(
        "This device's clock is 3 hours behind the time its offline policy was issued, so the "
        "policy cannot be used yet."
    )
    assert opened(node.home, time.time).status().mode == "normal"
