"""What a device and the server share on the wire, defined once (docs/sync-protocol.md).

Both ends import this package and nothing of each other: the server's sync (``bedside.sync``)
and the device (``bedside.device``) meet only here. It holds

* the sync protocol version and the limits of one request (this module);
* the signed event, its canonical JSON (RFC 8785) and Ed25519 signature (:mod:`.event`);
* the push body and its answer (:mod:`.push`), each event's result (:mod:`.results`);
* the pull request, its page and its token as the device sees them (:mod:`.pull`);
* the policy snapshot's claims and their verification (:mod:`.snapshot`; the server signs);
* the attachment rules (:mod:`.attachments`).

Nothing here touches a database, the server's keys or its HTTP layer.
"""

from __future__ import annotations

from typing import Final

from bedside.errors import InvalidRequest

__all__ = [
    "GLASS_PATH",
    "MAX_EVENTS",
    "MAX_LIMIT",
    "PROTOCOL",
    "PROTOCOLS",
    "unsupported_protocol",
]

#: Protocol versions the server speaks; a device sends the last.
PROTOCOLS: Final = (1,)
#: The version a device sends and the server answers with.
PROTOCOL: Final = PROTOCOLS[-1]
#: Most events in one push (a device sends batches of at most this many).
MAX_EVENTS: Final = 500
#: Where a device sends the break-glass grants it opened offline, before any push.
GLASS_PATH: Final = "/sync/break-glass"
#: Most entries in one pull page (the largest ``limit`` a device may ask for, and its default).
MAX_LIMIT: Final = 1000


def unsupported_protocol() -> InvalidRequest:
    """The refusal of a request in a protocol version the server does not speak."""
    spoken = ", ".join(str(v) for v in PROTOCOLS)
    return InvalidRequest(
        f'This server speaks sync protocol version {spoken}: send "protocol": {PROTOCOLS[-1]}.',
        code="not-supported",
    )
