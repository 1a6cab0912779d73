"""Attachments at sync: the bytes a signed DocumentReference refers to (docs/sync-protocol.md
"Attachments"). Both ends import this module, so the rules are written once (the server keeps
the bytes with :mod:`bedside.sync.attachments`).

A device never sends a photo inside an event. The event that creates the DocumentReference
carries, in its signed resource, the attachment's ``url`` (``Binary/<id>``, the device's random
attachment id), ``contentType``, ``size`` and SHA-256 (hex, in the extension
:data:`SHA256_URL`: FHIR R4's ``Attachment.hash`` is SHA-1). Once the server confirmed that
event, the device uploads the bytes (``PUT /sync/attachments/<id>?document=<id>``); the server
keeps them only when their size and hash are the signed ones (:func:`mismatch`), and only once
(:func:`keep`: the id is the key, a retry answers as the first upload did).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "ATTACHMENT_ID",
    "BINARY",
    "MAX_BYTES",
    "SHA256_URL",
    "Declared",
    "declared",
    "mismatch",
    "sha256_extension",
]

#: The most bytes one attachment may have (a phone photo is 2-5 MB).
MAX_BYTES: Final = 10 * 1024 * 1024
SHA256_URL: Final = "https://bedside.health/fhir/StructureDefinition/attachment-sha256"
BINARY: Final = "Binary/"
#: A device attachment id: 128 random bits, lower-case hex.
ATTACHMENT_ID: Final = re.compile(r"^[0-9a-f]{32}$")
_HEX256: Final = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, slots=True)
class Declared:
    """What a signed record says about one of its attachments."""

    id: str
    content_type: str
    size: int
    sha256: str


def sha256_extension(digest: str) -> dict[str, str]:
    """The extension that carries an attachment's SHA-256 (hex) in its Attachment."""
    return {"url": SHA256_URL, "valueString": digest}


def declared(resource: dict[str, Any], attachment_id: str) -> Declared | None:
    """The attachment ``Binary/<attachment_id>`` of a DocumentReference, with its content
    type, size and SHA-256; None when the record does not name it completely."""
    for item in resource.get("content") or ():
        attachment = item.get("attachment") if isinstance(item, dict) else None
        if not isinstance(attachment, dict) or attachment.get("url") != BINARY + attachment_id:
            continue
        digest = next(
            (
                e.get("valueString")
                for e in attachment.get("extension") or ()
                if isinstance(e, dict) and e.get("url") == SHA256_URL
            ),
            None,
        )
        size, ctype = attachment.get("size"), attachment.get("contentType")
        if (
            isinstance(digest, str)
            and _HEX256.match(digest)
            and isinstance(size, int)
            and not isinstance(size, bool)
            and isinstance(ctype, str)
        ):
            return Declared(attachment_id, ctype, size, digest)
    return None


def mismatch(data: bytes, expected: Declared) -> str | None:
    """None when ``data`` is what the signed record describes, else the sentence why not."""
    if len(data) != expected.size:
        return (
            f"The attachment has {len(data)} bytes but its signed record says {expected.size}; "
            "it was not kept."
        )
    if hashlib.sha256(data).hexdigest() != expected.sha256:
        return "The attachment's SHA-256 does not match its signed record; it was not kept."
    return None
