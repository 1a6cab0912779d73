"""Attachments at sync, piece by piece: what a signed record declares, the size and SHA-256
check, keeping bytes once on the server's store, the photo record the device signs, the
device's photo kinds, and the in-memory multipart parser. The device side with a real
SQLCipher store is tests/integration/test_device_photos.py."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from bedside.device.app.multipart import parse
from bedside.device.photos import kind_of, photo_document
from bedside.protocol.attachments import SHA256_URL, Declared, declared, mismatch
from bedside.store import Store, open_store
from bedside.sync.attachments import content, find, keep

PNG = b"\x89PNG\r\n\x1a\n" + secrets.token_bytes(300)
AID = "ab" * 16


def test_the_photo_record_declares_url_type_size_and_sha256() -> None:
    doc = photo_document("p1", AID, "image/png", PNG, "Left heel", 1_800_000_000)
    attachment = doc["content"][0]["attachment"]
    assert attachment["url"] == f"Binary/{AID}" and attachment["size"] == len(PNG)
    assert attachment["extension"] == [
        {"url": SHA256_URL, "valueString": hashlib.sha256(PNG).hexdigest()}
    ]
    assert doc["type"]["coding"][0]["code"] == "72170-4"
    assert declared(doc, AID) == Declared(
        AID, "image/png", len(PNG), hashlib.sha256(PNG).hexdigest()
    )


@pytest.mark.parametrize(
    "change",
    [
        lambda a: a.update(url="Binary/" + "cd" * 16),  # another attachment
        lambda a: a.pop("extension"),  # no hash
        lambda a: a.update(size=True),  # a bool is not a size
        lambda a: a.update(extension=[{"url": SHA256_URL, "valueString": "00"}]),  # not SHA-256
        lambda a: a.pop("contentType"),
    ],
)
def test_a_record_that_does_not_name_the_attachment_completely_declares_nothing(
    change: object,
) -> None:
    doc = photo_document("p1", AID, "image/png", PNG, "Left heel", 1_800_000_000)
    change(doc["content"][0]["attachment"])  # type: ignore[operator]
    assert declared(doc, AID) is None


def test_bytes_must_have_the_declared_size_and_hash() -> None:
    expected = Declared(AID, "image/png", len(PNG), hashlib.sha256(PNG).hexdigest())
    assert mismatch(PNG, expected) is None
    assert "bytes but its signed record says" in str(mismatch(PNG + b"x", expected))
    flipped = bytes([PNG[0] ^ 1]) + PNG[1:]
    assert "SHA-256 does not match" in str(mismatch(flipped, expected))


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = open_store(f"sqlite:///{tmp_path / 'server.db'}")
    yield s
    s.close()


def test_the_server_keeps_an_attachment_once_whatever_the_retries(store: Store) -> None:
    expected = Declared(AID, "image/png", len(PNG), hashlib.sha256(PNG).hexdigest())
    args = {"document_id": "d1", "patient": "p1", "device_id": "dev-1", "now": 1.0}
    with store.records(write=True) as db:
        assert keep(db, expected, PNG, **args) is True
    for _ in range(3):  # a lost answer, retried
        with store.records(write=True) as db:
            assert keep(db, expected, PNG, **args) is False
    with store.records() as db:
        assert db.one("SELECT COUNT(*) FROM attachments")[0] == 1  # type: ignore[index]
        kept = find(db, AID)
        assert kept is not None and (kept.document_id, kept.sha256) == ("d1", expected.sha256)
        assert content(db, AID) == PNG
        assert find(db, "ef" * 16) is None and content(db, "ef" * 16) is None


def test_photo_kinds_are_read_from_the_bytes_not_the_name() -> None:
    assert kind_of(b"\xff\xd8\xff\xe0" + b"0" * 10) == "image/jpeg"
    assert kind_of(PNG) == "image/png"
    assert kind_of(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert kind_of(b"\x00\x00\x00\x18ftypheic") == "image/heic"
    assert kind_of(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None
    assert kind_of(b"GIF89a") is None and kind_of(b"") is None


def test_multipart_is_parsed_in_memory_with_binary_parts_intact() -> None:
    image = b"\x89PNG\r\n\x1a\n\r\n--not-the-boundary\r\n\x00\xff" + secrets.token_bytes(64)
    body = (
        b'--XyZ\r\nContent-Disposition: form-data; name="csrf"\r\n\r\ntok\r\n'
        b'--XyZ\r\nContent-Disposition: form-data; name="photo"; filename="w.png"\r\n'
        b"Content-Type: image/png\r\n\r\n" + image + b"\r\n"
        b'--XyZ\r\nContent-Disposition: form-data; name="description"\r\n\r\n'
        + b"Talon gauche"
        + b"\r\n--XyZ--\r\n"
    )
    fields = parse("multipart/form-data; boundary=XyZ", body)
    assert fields["csrf"].text == "tok" and fields["description"].text == "Talon gauche"
    assert fields["photo"].data == image and fields["photo"].filename == "w.png"
    assert parse("application/x-www-form-urlencoded", body) == {}
    assert parse("multipart/form-data; boundary=Other", body) == {}
    assert parse("multipart/form-data; boundary=XyZ\r\nX: y", body) == {}
    assert orjson.dumps(list(fields)) == b'["csrf","photo","description"]'
