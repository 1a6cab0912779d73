"""What a Subscription's websocket sends, read for its owner (Backport IG, channels.html).

:class:`SocketFeed` binds a socket with a one-time token and reads the events numbered after
the last one sent, each re-checked against the Subscription owner's access at that moment
(:func:`bedside.subscriptions.events.visible`). The HTTP layer
(:mod:`bedside.web.subscriptions_ws`) holds the socket and writes what this gives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bedside.policy.decide import Policy
from bedside.store.base import Store
from bedside.subscriptions import records
from bedside.subscriptions.events import Notice, owner_access, visible
from bedside.subscriptions.records import SubscriptionRow

__all__ = ["BATCH", "SocketFeed"]

#: Most events read for a socket at a time
BATCH: Final = 100


@dataclass
class SocketFeed:
    store: Store
    policy: Policy

    def bind(self, token: str) -> SubscriptionRow | None:
        """The websocket Subscription the one-time ``token`` names (spent), or None."""
        with self.store.records(write=True) as db:
            sid = records.redeem_ws_token(db, token, self.policy.clock())
            sub = records.get(db, sid) if sid else None
        return sub if sub is not None and sub.spec.channel == "websocket" else None

    def pending(self, sid: str, after: int) -> tuple[SubscriptionRow | None, list[Notice], int]:
        """The Subscription now, the events after ``after`` its owner may see, the last number."""
        with self.store.read() as session:
            sub = records.get(session.records(), sid)
            if sub is None or sub.status == "off" or sub.events <= after:
                return sub, [], after
            access = owner_access(self.store, session, self.policy, sub)
            if access is None:
                return None, [], after
            found = records.events(session.records(), sid, after + 1, sub.events, BATCH)
            notices = [n for e in found if (n := visible(session, access, sub.spec, e))]
            return sub, notices, found[-1].number if found else after
