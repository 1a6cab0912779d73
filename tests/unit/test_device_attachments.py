"""Encrypted attachments: round trip, the file format, tamper detection, and that a photo's
plaintext never reaches the disk, not even in the temporary file written before the rename."""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bedside.device.attachments import MAGIC, Attachments
from bedside.device.errors import AttachmentError


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def dk() -> bytes:
    return secrets.token_bytes(32)


def photo() -> tuple[bytes, bytes]:
    marker = b"BEDSIDE-TEST-PHOTO-" + secrets.token_hex(8).encode()
    return secrets.token_bytes(200_000) + marker + secrets.token_bytes(1000), marker


def every_file(root: Path) -> list[Path]:
    return [Path(d) / f for d, _, files in os.walk(root) for f in files]


def test_attachments_round_trip_under_random_ids(home: Path, dk: bytes) -> None:
    store = Attachments(home, dk)
    blobs = [b"", b"x", secrets.token_bytes(70_000)]
    ids = [store.put(blob) for blob in blobs]
    assert len(set(ids)) == 3 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    assert store.ids() == sorted(ids)
    reopened = Attachments(home, dk)
    assert [reopened.get(i) for i in ids] == blobs


def test_the_file_is_magic_nonce_ciphertext_under_an_hkdf_subkey(home: Path, dk: bytes) -> None:
    data = secrets.token_bytes(1234)
    attachment_id = Attachments(home, dk).put(data)
    raw = (home / "attachments" / f"{attachment_id}.bin").read_bytes()
    assert raw[:4] == MAGIC == b"BSA1"
    assert len(raw) == 4 + 12 + len(data) + 16
    key = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"bedside attachments v1"
    ).derive(dk)
    assert AESGCM(key).decrypt(raw[4:16], raw[16:], attachment_id.encode()) == data
    with pytest.raises(Exception):  # noqa: B017 - DK itself is not the attachment key
        AESGCM(dk).decrypt(raw[4:16], raw[16:], attachment_id.encode())


def test_a_photo_never_reaches_the_disk_in_plaintext(
    home: Path, dk: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, marker = photo()
    sample = data[5000:5064]
    renamed: list[bytes] = []
    real_replace = os.replace

    def spying_replace(src: str, dst: str) -> None:
        renamed.append(Path(src).read_bytes())  # the temporary file, just before the rename
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spying_replace)
    store = Attachments(home, dk)
    attachment_id = store.put(data)
    monkeypatch.undo()
    assert len(renamed) == 1
    assert store.get(attachment_id) == data
    contents = [*renamed, *(p.read_bytes() for p in every_file(home))]
    assert len(contents) == 2
    for content in contents:
        assert marker not in content and sample not in content


def test_files_are_private(home: Path, dk: bytes) -> None:
    attachment_id = Attachments(home, dk).put(b"consent form")
    folder = home / "attachments"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / f"{attachment_id}.bin").stat().st_mode) == 0o600
    assert [p.name for p in folder.iterdir()] == [f"{attachment_id}.bin"]


@pytest.mark.parametrize("offset", [4, 10, 16, 100, -1])
def test_a_changed_byte_is_refused(home: Path, dk: bytes, offset: int) -> None:
    store = Attachments(home, dk)
    attachment_id = store.put(secrets.token_bytes(500))
    path = home / "attachments" / f"{attachment_id}.bin"
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(AttachmentError, match="damaged"):
        store.get(attachment_id)


def test_truncated_or_foreign_files_are_refused(home: Path, dk: bytes) -> None:
    store = Attachments(home, dk)
    attachment_id = store.put(secrets.token_bytes(100))
    path = home / "attachments" / f"{attachment_id}.bin"
    raw = path.read_bytes()
    for broken in (raw[:20], b"XXXX" + raw[4:], b""):
        path.write_bytes(broken)
        with pytest.raises(AttachmentError, match="damaged"):
            store.get(attachment_id)


def test_a_file_renamed_to_another_id_is_refused(home: Path, dk: bytes) -> None:
    store = Attachments(home, dk)
    first, second = store.put(b"first photo"), store.put(b"second photo")
    folder = home / "attachments"
    os.replace(folder / f"{first}.bin", folder / f"{second}.bin")
    with pytest.raises(AttachmentError, match="damaged"):
        store.get(second)


def test_another_data_key_opens_nothing(home: Path, dk: bytes) -> None:
    attachment_id = Attachments(home, dk).put(b"wound photo")
    with pytest.raises(AttachmentError, match="damaged"):
        Attachments(home, secrets.token_bytes(32)).get(attachment_id)


def test_delete_overwrites_then_removes(home: Path, dk: bytes) -> None:
    store = Attachments(home, dk)
    attachment_id = store.put(secrets.token_bytes(300))
    path = home / "attachments" / f"{attachment_id}.bin"
    before = path.read_bytes()
    os.link(path, home / "same-inode")
    store.delete(attachment_id)
    assert not path.exists() and store.ids() == []
    after = (home / "same-inode").read_bytes()
    assert len(after) == len(before) and after != before
    with pytest.raises(AttachmentError, match="no longer on this device"):
        store.get(attachment_id)
    store.delete(attachment_id)  # deleting twice is not an error


@pytest.mark.parametrize("bad", ["../keys", "ABCDEF" * 5 + "AB", "", "0" * 31])
def test_ids_that_attachments_never_make_are_refused(home: Path, dk: bytes, bad: str) -> None:
    with pytest.raises(AttachmentError):
        Attachments(home, dk).get(bad)


def test_ids_skip_leftovers_of_an_interrupted_write(home: Path, dk: bytes) -> None:
    store = Attachments(home, dk)
    attachment_id = store.put(b"kept")
    (home / "attachments" / ".deadbeef.bin.tmp").write_bytes(b"partial")
    assert store.ids() == [attachment_id]
