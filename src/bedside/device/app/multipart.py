"""``multipart/form-data`` (RFC 7578) parsed in memory: how the photo form arrives.

Starlette's own form parser spools a file part of more than 1 MB to a temporary file, which
would put a patient's photo on disk in plaintext (G8). The guard has read the whole body into
memory already (it is size-limited there), so this parses those bytes with the standard
library's MIME parser and never touches the disk. A malformed body is an empty form.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Final

__all__ = ["Part", "is_multipart", "parse"]

_TYPE: Final = "multipart/form-data"


@dataclass(frozen=True, slots=True)
class Part:
    """One form field: its bytes, and the file name and content type a file part declares."""

    data: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.data.decode("utf-8", "replace")


def is_multipart(content_type: str) -> bool:
    return content_type.split(";")[0].strip().lower() == _TYPE


def parse(content_type: str, body: bytes) -> dict[str, Part]:
    """The fields of a ``multipart/form-data`` body, first value per name."""
    if not is_multipart(content_type) or "\r" in content_type or "\n" in content_type:
        return {}
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1")
    try:
        message = BytesParser(policy=HTTP).parsebytes(head + body)
    except (ValueError, TypeError, UnicodeError):
        return {}
    if not message.is_multipart():
        return {}
    out: dict[str, Part] = {}
    for part in message.iter_parts():
        if not isinstance(part, Message):
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or name in out:
            continue
        payload = part.get_payload(decode=True)
        filename = part.get_filename()
        out[name] = Part(
            payload if isinstance(payload, bytes) else b"",
            filename,
            part.get_content_type() if filename is not None else None,
        )
    return out
