"""Encrypted attachments: wound photos, scanned consent forms, anything too big for a row.

The SQLCipher database holds the attachment rows; the bytes live beside it in
``DIR/attachments/<id>.bin`` so a photo never bloats the database or its WAL. Each file is

    b"BSA1" || nonce (12 bytes) || AES-256-GCM(ciphertext || 16-byte tag)

under K_att = HKDF-SHA256(DK, info=b"bedside attachments v1") (RFC 5869; NIST SP 800-38D), with
the attachment id as associated data, so a file renamed to another id, truncated or altered
fails its tag check instead of opening as some other patient's photo.

Plaintext never touches the disk: ``put`` encrypts in memory and writes only ciphertext, to a
temporary file in the same directory that is fsynced and renamed into place (a crash leaves no
partial attachment). Ids are 128 random bits, so they say nothing about the patient or the
order in which photos were taken. ``delete`` overwrites before unlinking; on flash storage that
is best effort, and the real guarantee is that the ciphertext is useless once DK is destroyed.
"""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from bedside.device.errors import AttachmentError
from bedside.device.secret import private_dir, shred_file, write_private

__all__ = ["FOLDER", "MAGIC", "Attachments"]

FOLDER: Final = "attachments"
MAGIC: Final = b"BSA1"
_INFO: Final = b"bedside attachments v1"
_NONCE_BYTES: Final = 12
_TAG_BYTES: Final = 16
_SUFFIX: Final = ".bin"
_ID: Final = re.compile(r"[0-9a-f]{32}")
_MISSING: Final = "This attachment is no longer on this device."


class Attachments:
    """The attachment files of one home, encrypted under a key derived from DK."""

    def __init__(self, home: Path, dk: bytes) -> None:
        if len(dk) != 32:
            raise ValueError("the data key must be 32 bytes")
        self.folder = home / FOLDER
        private_dir(self.folder)
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(dk)
        self._aead = AESGCM(key)

    def put(self, data: bytes) -> str:
        """Encrypt and store ``data``; returns its new random id (32 hex digits)."""
        attachment_id = secrets.token_hex(16)
        nonce = secrets.token_bytes(_NONCE_BYTES)
        sealed = self._aead.encrypt(nonce, data, attachment_id.encode("ascii"))
        write_private(self._path(attachment_id), MAGIC + nonce + sealed)
        return attachment_id

    def get(self, attachment_id: str) -> bytes:
        """The plaintext; :class:`AttachmentError` when missing, damaged or tampered with."""
        path = self._path(attachment_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise AttachmentError(_MISSING) from None
        header = len(MAGIC) + _NONCE_BYTES
        if raw[: len(MAGIC)] != MAGIC or len(raw) < header + _TAG_BYTES:
            raise _damaged()
        try:
            return self._aead.decrypt(
                raw[len(MAGIC) : header], raw[header:], attachment_id.encode("ascii")
            )
        except InvalidTag:
            raise _damaged() from None

    def delete(self, attachment_id: str) -> None:
        """Overwrite and remove the file; deleting an absent attachment is not an error."""
        shred_file(self._path(attachment_id))

    def ids(self) -> list[str]:
        """The ids stored, sorted (temporary files of an interrupted ``put`` are skipped)."""
        found = []
        for entry in os.scandir(self.folder):
            stem = entry.name.removesuffix(_SUFFIX)
            if entry.name.endswith(_SUFFIX) and _ID.fullmatch(stem) and entry.is_file():
                found.append(stem)
        return sorted(found)

    def _path(self, attachment_id: str) -> Path:
        if not _ID.fullmatch(attachment_id):
            raise AttachmentError(_MISSING)
        return self.folder / (attachment_id + _SUFFIX)


def _damaged() -> AttachmentError:
    return AttachmentError(
        "This attachment is damaged or was changed outside Bedside, so it was not opened."
    )
