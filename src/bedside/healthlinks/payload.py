"""The SMART Health Link payload and its ``shlink:/`` form (SHL IG 1.0.0, "SHLink Payload").

A payload is a JSON object: ``url`` (the manifest URL, at most 128 characters, carrying at
least 256 bits of entropy), ``key`` (32 random bytes, base64url without padding: 43
characters), optional ``exp`` (expiry, seconds since the epoch), optional ``flag`` (``L`` long
term, ``P`` passcode, ``U`` direct file; concatenated in alphabetical order, ``U`` never with
``P``), optional ``label`` (at most 80 characters) and ``v`` (1). The link is ``shlink:/``
followed by the payload's JSON in base64url; a viewer prefix ``https://viewer#`` may come first.

:func:`check` is the one place these rules are written down; :func:`parse` runs it on what it
reads, and :func:`build` on what it makes, so Bedside never hands out a link it would refuse.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from typing import Any, Final

import orjson

from bedside.errors import InvalidRequest

__all__ = [
    "KEY_BYTES",
    "MAX_LABEL",
    "MAX_URL",
    "PREFIX",
    "LinkPayload",
    "b64url",
    "build",
    "check",
    "new_key",
    "parse",
]

PREFIX: Final = "shlink:/"
KEY_BYTES: Final = 32
MAX_LABEL: Final = 80
MAX_URL: Final = 128
_FLAGS: Final = "LPU"
_KEY_RE: Final = re.compile(r"[A-Za-z0-9_-]{43}")


def b64url(data: bytes) -> str:
    """base64url without padding (RFC 4648 §5)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key() -> str:
    """A fresh link key: 32 bytes from the OS's CSPRNG, base64url (43 characters)."""
    return b64url(secrets.token_bytes(KEY_BYTES))


@dataclass(frozen=True, slots=True)
class LinkPayload:
    url: str
    key: str
    exp: int | None = None
    flag: str = ""
    label: str | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self.url, "key": self.key}
        if self.exp is not None:
            out["exp"] = self.exp
        if self.flag:
            out["flag"] = self.flag
        if self.label:
            out["label"] = self.label
        out["v"] = 1
        return out

    def uri(self) -> str:
        """``shlink:/<base64url JSON>``."""
        return PREFIX + b64url(orjson.dumps(self.as_json()))

    @property
    def needs_passcode(self) -> bool:
        return "P" in self.flag


def check(payload: Any) -> LinkPayload:
    """The payload as a value, or InvalidRequest naming the first rule it breaks."""
    if not isinstance(payload, dict):
        raise InvalidRequest("A SMART Health Link payload is a JSON object.")
    url, key = payload.get("url"), payload.get("key")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        raise InvalidRequest("The link's url must be an http(s) URL.")
    if len(url) > MAX_URL:
        raise InvalidRequest(f"The link's url must be at most {MAX_URL} characters.")
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key) or len(_unb64url(key)) != KEY_BYTES:
        raise InvalidRequest("The link's key must be 32 bytes in base64url (43 characters).")
    exp = payload.get("exp")
    if exp is not None and (isinstance(exp, bool) or not isinstance(exp, (int, float))):
        raise InvalidRequest("The link's exp must be a number of seconds since 1970.")
    flag = payload.get("flag", "")
    if not isinstance(flag, str) or any(c not in _FLAGS for c in flag):
        raise InvalidRequest("The link's flag may only hold the letters L, P and U.")
    if "".join(sorted(set(flag))) != flag:
        raise InvalidRequest("The link's flags must be in alphabetical order, each once.")
    if "U" in flag and "P" in flag:
        raise InvalidRequest("A link cannot be both a direct file (U) and need a passcode (P).")
    label = payload.get("label")
    if label is not None and (not isinstance(label, str) or len(label) > MAX_LABEL):
        raise InvalidRequest(f"The link's label must be text of at most {MAX_LABEL} characters.")
    v = payload.get("v", 1)
    if v != 1:
        raise InvalidRequest("Only version 1 SMART Health Links are understood.")
    return LinkPayload(url, key, int(exp) if exp is not None else None, flag, label or None)


def build(url: str, *, exp: int | None, passcode: bool, label: str | None) -> LinkPayload:
    """A new payload with a fresh key, checked against the IG's rules."""
    payload = LinkPayload(url, new_key(), exp, "P" if passcode else "", label)
    return check(payload.as_json())


def parse(link: str) -> LinkPayload:
    """Read a link (``shlink:/...``, optionally after a viewer URL and ``#``)."""
    _, sep, tail = link.partition("#")
    text = tail if sep else link
    if not text.startswith(PREFIX):
        raise InvalidRequest("A SMART Health Link starts with shlink:/.")
    try:
        decoded = orjson.loads(_unb64url(text[len(PREFIX) :]))
    except (ValueError, orjson.JSONDecodeError):
        raise InvalidRequest("The SMART Health Link is not base64url JSON.") from None
    return check(decoded)
