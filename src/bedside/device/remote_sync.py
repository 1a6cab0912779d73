"""The sync calls of the device's HTTP client: push, break-glass and pull (docs/sync-protocol.md).

A part of :class:`bedside.device.remote.Remote` (a mixin, so a device holds one client): the
request and answer types are the protocol's (:mod:`bedside.protocol.push`,
:mod:`bedside.protocol.pull`), so neither URL nor body is built anywhere else on the device.
"""

from __future__ import annotations

from typing import Any, Final

import httpx

from bedside.device.errors import DeviceError
from bedside.protocol import GLASS_PATH, PROTOCOL, pull, push
from bedside.protocol.pull import Pulled, PullRequest
from bedside.protocol.push import Push, Reply

__all__ = ["PushTooLarge", "SyncCalls"]

_TOO_LARGE: Final = "The server refused the push as larger than it accepts."


class PushTooLarge(DeviceError):
    """The server answered 413: the push body is past its limit (docs/api.md); send fewer."""

    def __init__(self) -> None:
        super().__init__(_TOO_LARGE)


class SyncCalls:
    """Push, break-glass and pull; :class:`~bedside.device.remote.Remote` gives the transport."""

    root: str

    def request(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        accept: str = "application/json",
        **kwargs: Any,
    ) -> httpx.Response:
        raise NotImplementedError  # Remote's

    def json_of(self, response: httpx.Response, doing: str) -> dict[str, Any]:
        raise NotImplementedError  # Remote's

    def push(self, token: str, body: Push) -> Reply:
        """``POST /sync/push``: send signed events; the server's answer for each.

        :class:`PushTooLarge` when the body is past the server's limit (nothing was applied).
        """
        url = f"{self.root}{push.PATH}"
        response = self.request("POST", url, token=token, json=body.body())
        if response.status_code == 413:
            raise PushTooLarge()
        return Reply.read(self.json_of(response, "the sync push"))

    def push_glass(self, token: str, grants: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """``POST /sync/break-glass``: the grants opened offline; the server's result for each
        (docs/device-offline.md), those it could not read left out."""
        body = {"protocol": PROTOCOL, "grants": grants}
        response = self.request("POST", f"{self.root}{GLASS_PATH}", token=token, json=body)
        results = self.json_of(response, "sending break-glass").get("results")
        return [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []

    def pull(self, token: str, ask: PullRequest) -> Pulled:
        """``GET /sync/pull``: the page after ``ask.since``."""
        url = f"{self.root}{pull.PATH}"
        response = self.request("GET", url, token=token, params=ask.params())
        return Pulled(self.json_of(response, "the sync pull"))
