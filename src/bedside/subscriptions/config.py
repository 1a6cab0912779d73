"""Where rest-hook notifications may go, and how often the dispatcher looks for changes.

Read from ``<data dir>/subscriptions.toml``. A rest-hook endpoint is an outbound request the
server makes on a client's behalf, so an arbitrary URL would let any client with a token make
the server call into the hospital network (SSRF). **Default: no rest-hook endpoint is allowed**
(only websocket channels work) until an administrator lists the endpoints' prefixes::

    rest_hook_endpoints = ["https://integration.example.org/fhir-hooks/"]
    poll_seconds = 1.0

An endpoint is allowed when its scheme, host and port equal a listed prefix's and its path
starts with the prefix's path. Only ``http`` and ``https`` are ever allowed.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from bedside.errors import BedsideError

__all__ = ["SubscriptionConfig", "load"]


def _origin(url: str) -> tuple[str, str, int | None, str]:
    parts = urlsplit(url)
    return (parts.scheme.lower(), (parts.hostname or "").lower(), parts.port, parts.path or "/")


@dataclass(frozen=True, slots=True)
class SubscriptionConfig:
    rest_hook_endpoints: tuple[str, ...] = ()
    poll_seconds: float = 1.0

    def allows(self, endpoint: str) -> bool:
        try:
            scheme, host, port, path = _origin(endpoint)
        except ValueError:  # a malformed port
            return False
        if scheme not in ("http", "https") or not host:
            return False
        for prefix in self.rest_hook_endpoints:
            p_scheme, p_host, p_port, p_path = _origin(prefix)
            if (scheme, host, port) == (p_scheme, p_host, p_port) and path.startswith(p_path):
                return True
        return False


def load(path: Path) -> SubscriptionConfig:
    """The file's settings, or the defaults when it does not exist; a mistake stops the start."""
    if not path.is_file():
        return SubscriptionConfig()
    try:
        data = tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise BedsideError(f"{path.name} is not valid TOML: {exc}") from None
    endpoints = data.get("rest_hook_endpoints", [])
    if not isinstance(endpoints, list) or not all(isinstance(e, str) for e in endpoints):
        raise BedsideError(f"rest_hook_endpoints in {path.name} must be a list of URLs.")
    for e in endpoints:
        if urlsplit(e).scheme not in ("http", "https") or not urlsplit(e).hostname:
            raise BedsideError(f"Each rest_hook_endpoints entry in {path.name} must be http(s).")
    poll = data.get("poll_seconds", 1.0)
    if not isinstance(poll, (int, float)) or not 0.05 <= float(poll) <= 60:
        raise BedsideError(f"poll_seconds in {path.name} must be 0.05 to 60.")
    return SubscriptionConfig(tuple(endpoints), float(poll))
