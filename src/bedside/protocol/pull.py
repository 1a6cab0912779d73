"""The pull on the wire: ``GET /sync/pull``, its page, and its token (docs/sync-protocol.md "Pull").

A device asks for a page with ``protocol``, ``limit`` (at most :data:`~bedside.protocol.MAX_LIMIT`)
and, after its first page, ``since``: the ``next`` token of the last page it applied. A page
holds resources, tombstones (``deleted``), purge orders, review outcomes, maybe a new policy
snapshot, the progress of the round and the ``next`` token; ``more`` says another page waits.

The token is opaque to the device: a string it stores with the page it applied and sends back as
``since``, never read. The server signs it as a JWS typed :data:`SYNC_TYP`
(:mod:`bedside.sync.pull_token` holds what it carries).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from bedside.protocol import MAX_LIMIT, PROTOCOL

__all__ = ["PATH", "SYNC_TYP", "Page", "PullRequest", "Pulled"]

PATH: Final = "/sync/pull"
#: The JWS ``typ`` of a pull token: never mistaken for an access token or a policy snapshot.
SYNC_TYP: Final = "bedside-sync+jwt"


@dataclass(frozen=True, slots=True)
class PullRequest:
    """What a device asks for: the page after ``since`` (None: a first sync), ``limit`` long."""

    since: str | None = None
    limit: int = MAX_LIMIT

    def params(self) -> dict[str, Any]:
        """The query parameters."""
        params: dict[str, Any] = {"protocol": PROTOCOL, "limit": self.limit}
        if self.since:
            params["since"] = self.since
        return params


@dataclass
class Page:
    """One page as the server sends it; ``body()`` is the wire form."""

    next: str
    more: bool
    done: int
    total: int
    #: changed resources (dicts, or JSON the server splices in unparsed)
    resources: list[Any] = field(default_factory=list)
    deleted: list[dict[str, str]] = field(default_factory=list)
    purge: list[dict[str, Any]] = field(default_factory=list)
    snapshot: str | None = None
    reviews: list[dict[str, Any]] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "protocol": PROTOCOL,
            "next": self.next,
            "more": self.more,
            "progress": {"done": min(self.done, self.total), "total": self.total},
            "resources": self.resources,
            "deleted": self.deleted,
            "purge": self.purge,
            "reviews": self.reviews,
        }
        if self.snapshot is not None:
            out["snapshot"] = self.snapshot
        return out


@dataclass(frozen=True, slots=True)
class Pulled:
    """A page as a device receives it: ``body`` is applied whole (:mod:`bedside.device.pulled`
    checks each part), the rest is what the sync loop reads."""

    body: Mapping[str, Any]

    @property
    def next(self) -> str | None:
        """The token to send as ``since`` for the page after this one."""
        value = self.body.get("next")
        return value if isinstance(value, str) else None

    @property
    def more(self) -> bool:
        return bool(self.body.get("more"))

    @property
    def total(self) -> int | None:
        """How many entries the round has, when the server says."""
        progress = self.body.get("progress")
        total = progress.get("total") if isinstance(progress, dict) else None
        return total if isinstance(total, int) else None
