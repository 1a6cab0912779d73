"""The device's idea of the server's clock (bedside.device.clock) and where it is used: token
checks (:func:`bedside.device.signin.jwt_claims` through :class:`Remote`) and the offline
policy's times (:class:`OfflinePolicy` with ``to_server``).

Issue 14, finding 2: a device clock 20 minutes ahead could not sync ("sent a token this device
cannot verify"), and one more than a minute behind could not open its snapshot.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from bedside.device.clock import (
    MAX_SKEW,
    TOLERANCE,
    ClockSkew,
    Offset,
    Reading,
    ServerClock,
    _duration,
)
from bedside.device.errors import DeviceError
from bedside.device.offline import Mode, OfflinePolicy
from bedside.device.remote import Remote
from tests.unit.test_device_offline import HOUR, NOW, claims
from tests.unit.test_device_remote import BASE, FakeServer

MINUTE = 60.0


class Hand:
    """A device clock the test moves."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def date_header(epoch: float) -> str:
    return format_datetime(datetime.fromtimestamp(epoch, UTC), usegmt=True)


# --- learning -----------------------------------------------------------------------------------


def test_a_reading_within_the_limit_sets_the_offset_and_the_servers_time() -> None:
    hand = Hand(NOW + 20 * MINUTE)  # the device is 20 minutes ahead
    clock = ServerClock(hand)
    assert clock.now() == hand.now and clock.skew_ms is None  # nothing learned: device time
    assert clock.learn(NOW, hand(), "push") is Reading.ADOPTED
    assert clock.now() == NOW and clock.skew_ms == 20 * 60 * 1000
    assert clock() == hand.now, "called, it is still the device's own clock"
    hand.now += 30
    assert clock.now() == NOW + 30 and clock.server(hand.now + 5) == NOW + 35
    clock.check()  # within the limit: no sentence


@pytest.mark.parametrize(
    ("skew", "words"),
    [
        (2 * HOUR, "2 hours ahead of"),
        (-3 * 86400, "3 days behind"),
        (-(MAX_SKEW + 5 * MINUTE), "65 minutes behind"),
    ],
)
def test_a_reading_beyond_the_limit_is_not_used_and_is_named_in_one_sentence(
    skew: float, words: str
) -> None:
    hand = Hand(NOW + skew)
    clock = ServerClock(hand)
    assert clock.learn(NOW, hand(), "token") is Reading.BEYOND
    assert clock.offset is None and clock.now() == hand.now  # never corrected by it
    with pytest.raises(ClockSkew) as raised:
        clock.check()
    assert str(raised.value) == (
        f"This device's clock is {words} the server's, more than the hour Bedside corrects by "
        "itself. Set the device's date, time and time zone correctly (automatic is best), then "
        "try again."
    )
    assert isinstance(raised.value, DeviceError) and "verify" not in str(raised.value)
    hand.now = NOW + 10  # the user set the clock: the next reading clears it
    assert clock.learn(NOW + 10, hand(), "date") is Reading.ADOPTED
    clock.check()


def test_a_stale_or_replayed_reading_never_winds_the_servers_time_back() -> None:
    hand = Hand()
    clock = ServerClock(hand)
    clock.learn(NOW, NOW, "token")
    hand.now += HOUR
    assert clock.learn(NOW + HOUR, hand(), "push") is Reading.ADOPTED
    # An old answer replayed now, even one the server really signed, would say "it is NOW".
    assert clock.learn(NOW, hand(), "token") is Reading.STALE
    assert clock.now() == NOW + HOUR and clock.offset == Offset(0.0, NOW + HOUR, "push")
    # Within the tolerance a reading is not stale (Date is to the second, answers cross).
    assert clock.learn(NOW + HOUR - TOLERANCE + 1, hand(), "date") is Reading.ADOPTED
    assert clock.offset is not None and clock.offset.server_at == NOW + HOUR


def test_the_offset_keeps_in_text_and_a_stored_one_beyond_the_limit_is_ignored() -> None:
    offset = Offset(-1200.5, NOW, "token")
    assert Offset.loads(offset.dumps()) == offset
    for bad in (None, "", "{", "[]", '{"offset": 1}', '{"offset": "x", "server_at": 1}'):
        assert Offset.loads(bad) is None
    too_far = Offset(MAX_SKEW + 1, NOW, "token").dumps()  # written by hand into the store
    assert Offset.loads(too_far) is None
    clock = ServerClock(Hand())
    clock.adopt(Offset(MAX_SKEW + 1, NOW, "token"))
    assert clock.offset is None


def test_adopt_takes_the_newer_offset_and_the_latest_reading() -> None:
    node, client = ServerClock(Hand()), ServerClock(Hand())
    node.adopt(Offset(5.0, NOW - HOUR, "date"))  # from the store
    client.learn(NOW + 2 * HOUR, NOW, "token")  # beyond: measured only
    client.learn(NOW + 1, NOW, "date")
    node.adopt(client)
    assert node.offset == Offset(1.0, NOW + 1, "date") and node.skew == -1.0
    node.adopt(Offset(9.0, NOW - 2 * HOUR, "date"))  # older: kept out
    assert node.offset == Offset(1.0, NOW + 1, "date")


def answer(status: int, token: str | None, **headers: str) -> httpx.Response:
    sent = {"Authorization": f"Bearer {token}"} if token else {}
    request = httpx.Request("GET", f"{BASE}/sync/pull", headers=sent)
    return httpx.Response(status, headers=headers, request=request)


def test_only_a_2xx_answer_to_a_request_with_the_devices_token_teaches_the_clock() -> None:
    hand = Hand(NOW + 20 * MINUTE)
    clock = ServerClock(hand)
    date = date_header(NOW)
    for status, token in ((200, None), (401, "t0k3n"), (500, "t0k3n")):
        clock.heard(answer(status, token, date=date))
    clock.heard(answer(200, "t0k3n", date="yesterday"))
    clock.heard(answer(200, "t0k3n"))
    assert clock.offset is None and clock.skew is None
    clock.heard(answer(204, "t0k3n", date=date))
    assert clock.offset == Offset(-20 * MINUTE, NOW, "date")


def test_a_remote_learns_from_the_date_of_its_authenticated_answers() -> None:
    clock = ServerClock(lambda: time.time() + 20 * MINUTE)

    def server(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"pins": []}, headers={"date": date_header(time.time())})

    with Remote(BASE, transport=httpx.MockTransport(server), clock=clock) as remote:
        remote.request("GET", f"{BASE}/.well-known/smart-configuration")  # no token: no lesson
        assert clock.offset is None
        remote.pins("t0k3n")
    assert clock.offset is not None and clock.offset.source == "date"
    assert abs(clock.offset.seconds + 20 * MINUTE) < 2


def test_durations_are_words() -> None:
    assert _duration(45) == "45 seconds"
    assert _duration(60) == "60 seconds"
    assert _duration(91) == "2 minutes"
    assert _duration(20 * MINUTE + 10) == "20 minutes"
    assert _duration(HOUR * 2.4) == "2 hours"
    assert _duration(86400 * 2) == "2 days"


# --- tokens -------------------------------------------------------------------------------------


def _remote(fake: FakeServer, clock: ServerClock) -> Remote:
    return Remote(BASE, transport=httpx.MockTransport(fake.handle), clock=clock)


def test_a_refresh_with_the_clock_20_minutes_ahead_verifies_and_teaches_the_offset() -> None:
    clock = ServerClock(lambda: time.time() + 20 * MINUTE)
    with _remote(FakeServer(), clock) as remote:
        tokens = remote.refresh("first-refresh")  # was: "sent a token this device cannot verify"
    assert tokens.refresh_token == "rotated-1" and tokens.device == "dev-1"
    assert clock.offset is not None and clock.offset.source == "token"
    assert abs(clock.offset.seconds + 20 * MINUTE) < 2
    assert abs(clock.now() - time.time()) < 2


def test_a_refresh_with_the_clock_hours_off_keeps_the_rotated_token_and_names_the_skew() -> None:
    clock = ServerClock(lambda: time.time() - 3 * HOUR)
    with _remote(FakeServer(), clock) as remote:
        tokens = remote.refresh("first-refresh")
    assert tokens.refresh_token == "rotated-1", "the sign-in is not burnt"
    with pytest.raises(ClockSkew, match="3 hours behind the server's"):
        clock.check()


def test_a_token_signed_by_another_key_teaches_nothing() -> None:
    clock = ServerClock(lambda: time.time() + 20 * MINUTE)
    fake, other = FakeServer(), FakeServer()
    with _remote(fake, clock) as remote, pytest.raises(DeviceError, match="cannot verify"):
        remote._verified(other.access(), "at+jwt")
    assert clock.offset is None and clock.skew is None


def test_an_old_token_replayed_is_still_refused() -> None:
    clock = ServerClock()
    clock.learn(time.time(), time.time(), "date")  # the device knows the server's time now
    fake = FakeServer()
    old = int(time.time()) - 2 * 900
    stale = fake.sign(
        {"iss": BASE, "aud": BASE, "sub": "u1", "iat": old, "exp": old + 900}, "at+jwt"
    )
    with _remote(fake, clock) as remote, pytest.raises(DeviceError, match="cannot verify"):
        remote._verified(stale, "at+jwt")
    assert clock.offset is not None and abs(clock.offset.seconds) < 1, "not wound back"


# --- the offline policy -----------------------------------------------------------------------


def test_the_snapshot_is_read_in_the_servers_time_and_still_ends_at_its_exp() -> None:
    exp, grace = NOW + 8 * HOUR, 2 * HOUR
    ahead, behind = ServerClock(Hand()), ServerClock(Hand())
    ahead.learn(NOW, NOW + 20 * MINUTE, "token")  # the device says 10:20 when the server 10:00
    behind.learn(NOW, NOW - 5 * MINUTE, "token")
    fast, slow = OfflinePolicy(claims(), ahead.server), OfflinePolicy(claims(), behind.server)
    # Five minutes behind: the snapshot issued "in the device's future" opens (was: locked,
    # "not valid yet"), and still locks when the clock is set back before it.
    assert OfflinePolicy(claims()).mode(NOW - 5 * MINUTE) is Mode.LOCKED
    assert slow.mode(NOW - 5 * MINUTE) is Mode.NORMAL
    assert slow.mode(NOW - 5 * MINUTE - 2 * MINUTE - TOLERANCE) is Mode.LOCKED
    # Twenty minutes ahead: normal until the server's exp, which is 20 minutes later on the
    # device's clock; offline nothing moves that instant (G6).
    assert fast.mode(exp + 20 * MINUTE - 1) is Mode.NORMAL
    assert fast.mode(exp + 20 * MINUTE) is Mode.READ_ONLY
    assert fast.mode(exp + 20 * MINUTE + grace) is Mode.LOCKED
    assert fast.refuse_write("create", {"resourceType": "Observation"}, "p1", exp + HOUR)
    # Each entry's until is the server's too: p1's care team ends at NOW + 1 h server time.
    assert "p1" in fast.reachable(NOW + HOUR + 20 * MINUTE - 1)
    assert "p1" not in fast.reachable(NOW + HOUR + 20 * MINUTE)
    assert fast.purpose("p9", NOW + 1800 + 20 * MINUTE - 1) == "BTG"
    assert fast.purpose("p9", NOW + 1800 + 20 * MINUTE) is None
