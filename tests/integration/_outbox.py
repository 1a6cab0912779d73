"""Drive a node's outbox by hand, as sync does (inside :meth:`Node.background`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bedside.device import Node
from bedside.device.outbox import OutboxEntry

__all__ = ["settle", "take"]


def take(node: Node, n: int) -> list[OutboxEntry]:
    """Mark up to ``n`` pending events ``sending``, as a push does."""
    with node.background() as s:
        return s.outbox.take(n, at=s.clock())


def settle(node: Node, seq: int, result: Mapping[str, Any]) -> OutboxEntry:
    """Record the server's answer for event ``seq``, as a push does."""
    with node.background() as s:
        return s.outbox.settle(seq, result, at=s.clock())
