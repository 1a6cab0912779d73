"""A wipe order drains first (issue 19): a real enrolled device flagged for wipe pushes what it
can, reports how many events were sent and lost, then destroys its keys; the server's registry
(CLI and console data) shows a drained wipe, or an undrained one with the count lost."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bedside.device import DeviceError
from bedside.device.sync import sync
from tests.conftest import BACKENDS
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, count, enroll_phone, observation
from tests.integration._sync_world import new_ward


@pytest.fixture(scope="module", params=BACKENDS)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, str(request.param)) as s:
        yield s


@pytest.fixture(autouse=True)
def _homes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("BEDSIDE_DEVICE_KEYSTORE", "file")
    yield
    while OPENED:
        OPENED.pop().lock()


class NoPush(httpx.BaseTransport):
    """The real server, except that every push fails to connect (a network that lets the
    small requests through and drops the big one)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path == "/sync/push":
            raise httpx.ConnectError("connection refused", request=request)
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def listed(smart: Smart, device_id: str) -> dict[str, object]:
    devices = json.loads(smart.admin("device", "list", "--json"))
    return next(d for d in devices if d["device_id"] == device_id)


def test_a_wipe_sends_everything_first_and_the_registry_says_drained(
    smart: Smart, tmp_path: Path
) -> None:
    ward, users = new_ward(smart, "nurse")
    phone = enroll_phone(smart, users[0][0], tmp_path / "home", ward.patient)
    before = count(smart, "Observation", ward.patient)
    for value in (70, 71):
        phone.record("create", observation(ward.patient, value))
    smart.admin("device", "wipe", phone.device_id)
    assert listed(smart, phone.device_id)["wiped"] is None  # ordered, not yet done
    with phone.remote() as remote:
        token = phone.token(remote)
        with pytest.raises(DeviceError, match="data and keys have been erased") as info:
            sync(phone.node, remote, token)
    assert "lost" not in str(info.value)
    assert not (phone.node.home / "store.db").exists()
    assert count(smart, "Observation", ward.patient) == before + 2  # drained before the wipe
    wiped = listed(smart, phone.device_id)["wiped"]
    assert isinstance(wiped, dict)
    assert wiped["drained"] is True and wiped["lost"] == 0 and wiped["sent"] == 2


def test_an_undrained_wipe_says_how_many_events_were_lost(smart: Smart, tmp_path: Path) -> None:
    ward, users = new_ward(smart, "nurse")
    phone = enroll_phone(smart, users[0][0], tmp_path / "home", ward.patient)
    before = count(smart, "Observation", ward.patient)
    for value in (80, 81, 82):
        phone.record("create", observation(ward.patient, value))
    smart.admin("device", "wipe", phone.device_id)
    with phone.remote() as plain, phone.remote(NoPush()) as remote:
        token = phone.token(plain)
        with pytest.raises(DeviceError, match="3 recorded actions could not be sent first"):
            sync(phone.node, remote, token)
    assert not (phone.node.home / "store.db").exists()
    assert count(smart, "Observation", ward.patient) == before
    wiped = listed(smart, phone.device_id)["wiped"]
    assert isinstance(wiped, dict)
    assert wiped["drained"] is False and wiped["lost"] == 3 and wiped["sent"] == 0
