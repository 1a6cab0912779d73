"""Attachments at sync, end to end (docs/sync-protocol.md "Attachments"): a real device home
(SQLCipher, encrypted attachment file) takes a photo offline, syncs against a real `bedside
serve` over loopback on each backend; the server keeps the bytes once after checking them
against the signed record, serves them to a clinician who may read the record and to no one
else, and the device deletes its copy after the retention window."""

from __future__ import annotations

import hashlib
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bedside.device import DeviceError
from bedside.device.retention import enforce
from bedside.device.sync import sync
from bedside.protocol.attachments import MAX_BYTES
from tests.conftest import BACKENDS
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, LostAnswer, enroll_phone
from tests.integration._sync_world import new_ward, sql


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


def png(width: int = 8) -> bytes:
    """A small real PNG (a grey square)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") * 2 + b"\x08\x00\x00\x00\x00"
    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(width))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def test_photo_syncs_once_is_read_only_by_its_readers_and_leaves_the_device(
    smart: Smart, tmp_path: Path
) -> None:
    ward, users = new_ward(smart, "doctor")
    _, others = new_ward(smart, "doctor")  # a doctor of another patient's team
    phone = enroll_phone(smart, users[0][0], tmp_path / "a", ward.patient)
    stranger = enroll_phone(smart, others[0][0], tmp_path / "b", _.patient)
    data = png()

    made = phone.node.attach_photo(ward.patient, data, "Left heel, pressure sore")
    [photo] = phone.node.photos(ward.patient)
    assert (photo.document, photo.state, photo.on_device) == (made.id, "saved-on-device", True)
    aid = photo.attachment
    assert data not in b"".join(p.read_bytes() for p in (tmp_path / "a").rglob("*") if p.is_file())

    # the first upload's answer is lost: the bytes are kept, the device does not know yet
    lost = LostAnswer(f"/sync/attachments/{aid}")
    with phone.remote() as plain, phone.remote(lost) as remote, pytest.raises(DeviceError):
        sync(phone.node, remote, phone.token(plain))  # the dropped connection
    assert lost.dropped == [201]
    assert phone.node.photos(ward.patient)[0].state == "record-sent"

    again = phone.sync()  # the retry: answered 200, stored once, now marked synced
    assert (again.uploaded, again.upload_failed) == (1, 0)
    assert phone.node.photos(ward.patient)[0].state == "sent"
    rows = sql(smart, "SELECT COUNT(*), MIN(sha256), MIN(size) FROM attachments WHERE id = ?", aid)
    assert rows[0][0] == 1 and rows[0][1] == hashlib.sha256(data).hexdigest()
    assert int(rows[0][2]) == len(data)
    assert phone.sync().uploaded == 0  # nothing left to send

    # the referencing record says where the bytes are; the Binary read is policy-checked
    with phone.remote() as plain:
        token, other = phone.token(plain), stranger.token(plain)
    doc = smart.get(f"/DocumentReference/{made.id}", token).json()
    assert doc["content"][0]["attachment"]["url"] == f"Binary/{aid}"
    mine = httpx.get(f"{smart.fhir}/Binary/{aid}", headers=_bearer(token, "image/png"))
    assert mine.status_code == 200 and mine.content == data
    assert mine.headers["content-type"] == "image/png"
    assert mine.headers["cache-control"] == "no-store"
    as_fhir = httpx.get(f"{smart.fhir}/Binary/{aid}", headers=_bearer(token, "application/json"))
    assert as_fhir.json()["securityContext"] == {"reference": f"DocumentReference/{made.id}"}
    refused = httpx.get(f"{smart.fhir}/Binary/{aid}", headers=_bearer(other, "image/png"))
    assert refused.status_code == 403 and data not in refused.content
    assert refused.headers["cache-control"] == "no-store"
    anonymous = httpx.get(f"{smart.fhir}/Binary/{aid}")
    assert anonymous.status_code == 401

    # a retry by hand is idempotent; other bytes under the same record are refused
    put = f"{smart.root}/sync/attachments/{aid}"
    query = {"protocol": "1", "document": made.id}
    same = httpx.put(put, params=query, content=data, headers=_bearer(token, "application/json"))
    assert same.status_code == 200 and same.json()["state"] == "stored"
    bad = httpx.put(put, params=query, content=data + b"x", headers=_bearer(token, "*/*"))
    assert bad.status_code == 422 and "signed record" in bad.text
    big = httpx.put(put, params=query, content=b"0" * (MAX_BYTES + 1), headers=_bearer(token))
    assert big.status_code == 413 and "at most 10 MB" in big.text
    theirs = httpx.put(put, params=query, content=data, headers=_bearer(other))
    assert theirs.status_code == 409  # not a record this device sent
    assert sql(smart, "SELECT COUNT(*) FROM attachments")[0][0] >= 1
    assert sql(smart, "SELECT COUNT(*) FROM attachments WHERE id = ?", aid)[0][0] == 1

    # retention: the device's copy goes once the window after the confirmed upload has passed
    node = phone.node
    with node._use(background=True) as s:  # what the node's timer runs, at a later time
        keep = s.policy.settings.attachment_retention_seconds
        early = enforce(s.store.conn, s.policy, time.time() + keep - 60, s.attachments.delete)
        assert aid in s.attachments.ids() and early.total.attachments == 0
        enforce(s.store.conn, s.policy, time.time() + keep + 60, s.attachments.delete)
        assert aid not in s.attachments.ids()
    assert phone.node.photos(ward.patient)[0].state == "on-server-only"


def _bearer(token: str, accept: str = "application/json") -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Accept": accept}
