"""The websocket channel of Subscriptions (Backport IG, channels.html#websockets).

The client asks ``POST Subscription/<id>/$get-ws-binding-token`` (with its bearer token), opens
the websocket URL it is given and sends ``bind-with-token <token>``. The token is good once and
for :data:`~bedside.subscriptions.service.WS_TOKEN_SECONDS`. The server answers with a
handshake, then sends an ``event-notification`` for every event numbered after the bind (the
dispatcher numbers them, in whichever process; this process reads them from the database),
each re-checked against the owner's access at that moment and audited, and a ``heartbeat``
when idle for the Subscription's period. Events missed while disconnected are fetched with
``$events``. The socket closes when the Subscription is deleted or turned off.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.routing import WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from bedside.audit.entry import Auditor
from bedside.policy.decide import Policy
from bedside.store.base import Store
from bedside.subscriptions.dispatch import audit_send
from bedside.subscriptions.events import Notice, notification
from bedside.subscriptions.records import SubscriptionRow
from bedside.subscriptions.sockets import SocketFeed

__all__ = ["PATH", "SubscriptionSockets"]

PATH: Final = "/fhir/$subscription-websocket"
_BIND: Final = "bind-with-token "
_POLICY_VIOLATION: Final = 1008


class SubscriptionSockets:
    def __init__(
        self, store: Store, policy: Policy, auditor: Auditor, base: str, poll: float
    ) -> None:
        self.store = store
        self.policy = policy
        self.auditor = auditor
        self.base = base.rstrip("/")
        self.poll = poll
        self.feed = SocketFeed(store, policy)

    def routes(self) -> list[WebSocketRoute]:
        return [WebSocketRoute(PATH, self.socket)]

    async def socket(self, ws: WebSocket) -> None:
        await ws.accept()
        try:
            first = await asyncio.wait_for(ws.receive_text(), timeout=30)
        except (TimeoutError, WebSocketDisconnect, KeyError):
            with contextlib.suppress(Exception):
                await ws.close(_POLICY_VIOLATION)
            return
        sub = None
        if first.startswith(_BIND):
            sub = await run_in_threadpool(self.feed.bind, first[len(_BIND) :].strip())
        if sub is None:
            await ws.close(_POLICY_VIOLATION, "The binding token is not valid.")
            return
        await self._send(ws, sub, "handshake", [])
        last = sub.events
        idle = self.policy.clock()
        while True:
            try:
                message = await asyncio.wait_for(ws.receive(), timeout=self.poll)
                if message["type"] == "websocket.disconnect":
                    return
            except TimeoutError:
                pass
            current, notices, last_seen = await run_in_threadpool(self.feed.pending, sub.id, last)
            if current is None or current.status == "off":
                await ws.close(1000, "The Subscription has ended.")
                return
            if last_seen > last:
                last = last_seen
                if notices:
                    await self._send(ws, current, "event-notification", notices)
                    idle = self.policy.clock()
            beat = current.spec.heartbeat
            if beat and self.policy.clock() - idle >= beat:
                await self._send(ws, current, "heartbeat", [])
                idle = self.policy.clock()

    async def _send(
        self, ws: WebSocket, sub: SubscriptionRow, kind: str, notices: list[Notice]
    ) -> None:
        body = notification(self.base, sub, kind, notices, now=self.policy.clock())
        await ws.send_text(orjson.dumps(body).decode())
        await run_in_threadpool(
            audit_send, self.auditor, self.policy, sub, kind, notices, channel="websocket", ok=True
        )
