"""A device never loses its sign-in to a refresh that went wrong (issue 14, finding 1): a real
enrolled home (SQLCipher) against a real `bedside serve` on each backend.

The token the device syncs with comes from ``bedside.device.sync.access_token`` (what
`bedside device sync` and the clinician app call): it trades the stored refresh token for an
access token naming the device. The server spends the old refresh token as it answers, so the
device must keep the rotated one the moment it has it, even when the access token in the same
answer then fails the device's check; and an answer lost on the way is asked for again at
once, and the server's retry within the grace gives the same rotated token (docs/auth.md
"Refresh token rotation").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bedside.device import DeviceError
from bedside.device.remote import Remote
from bedside.device.sync import access_token, sync
from tests.conftest import BACKENDS
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, LostAnswer, Phone, enroll_phone, observation
from tests.integration._sync_world import new_ward


@pytest.fixture(scope="module", params=BACKENDS)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, str(request.param)) as s:
        yield s


@pytest.fixture
def phone(smart: Smart, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Phone]:
    monkeypatch.setenv("BEDSIDE_DEVICE_KEYSTORE", "file")  # no OS key store in CI
    ward, users = new_ward(smart, "nurse")
    try:
        yield enroll_phone(smart, users[0][0], tmp_path / "home", ward.patient)
    finally:
        while OPENED:
            OPENED.pop().lock()


class BadAccessToken(httpx.BaseTransport):
    """Forwards to the real server; in the answers of ``/auth/token`` the access token's
    signature is spoiled, so the device's check of it fails after the server rotated. Keeps the
    refresh tokens the server handed out."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.handed_out: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.url.path != "/auth/token":
            return response
        body = json.loads(response.read())
        response.close()
        if "refresh_token" in body:
            self.handed_out.append(body["refresh_token"])
        if "access_token" in body:
            head, _, _ = body["access_token"].rpartition(".")
            body["access_token"] = head + ".c3BvaWx0"
        return httpx.Response(response.status_code, json=body)

    def close(self) -> None:
        self.inner.close()


def _sync(phone: Phone) -> int:
    """One sync on `bedside device sync`'s own token path; the events confirmed."""
    with Remote(phone.node.info.server) as remote:
        return sync(phone.node, remote, access_token(phone.node, remote)).confirmed


def test_the_rotated_refresh_token_is_kept_when_the_new_access_token_fails_the_check(
    phone: Phone,
) -> None:
    node = phone.node
    before = node.refresh_token()
    spoiler = BadAccessToken()
    with Remote(node.info.server, transport=spoiler) as remote, pytest.raises(DeviceError):
        access_token(node, remote)  # "... sent a token this device cannot verify."
    assert len(spoiler.handed_out) == 1, "the server answered, so it rotated"
    assert node.refresh_token() == spoiler.handed_out[0] != before, "kept, not thrown away"
    # The next sync works from the kept token, no retry of the spent one needed.
    phone.record("create", observation(phone.patient, 71))
    assert _sync(phone) == 1
    assert set(phone.states().values()) == {"confirmed"}


def test_a_lost_refresh_answer_is_asked_again_and_the_device_syncs_on(phone: Phone) -> None:
    node = phone.node
    before = node.refresh_token()
    lost = LostAnswer("/auth/token")
    with Remote(node.info.server, transport=lost) as remote:
        token = access_token(node, remote)
    assert lost.dropped == [200], "the first answer was lost after the server rotated"
    assert node.refresh_token() != before
    phone.record("create", observation(phone.patient, 72))
    with Remote(node.info.server) as remote:
        assert sync(node, remote, token).confirmed == 1
    assert _sync(phone) == 0  # the kept refresh token is live: the family went on
