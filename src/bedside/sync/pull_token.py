"""The sync token of a pull: where a device's copy of its working set stands (sync-protocol.md).

The device treats it as opaque (:mod:`bedside.protocol.pull`). It is a compact JWS (RFC 7515),
signed RS256 by the server's current key with ``typ: bedside-sync+jwt``
(:data:`~bedside.protocol.pull.SYNC_TYP`) so it is never mistaken for an access token or a
policy snapshot; the payload is JSON with a format version::

    v    1                              the token format
    dev  the device id                  a token only works for the device and user it was
    sub  the user (token sub)           issued to
    h    base horizon                   everything before it was delivered (see below)
    ws   members digest                 the working-set members row (``sync_members``)
    sn   snapshot digest                the policy snapshot claims last sent ("" none)
    r    the round in progress, or null:
         h   its horizon                the round delivers positions in [base, h)
         p   phase                      "backfill" or "delta"
         a   after                      the last position served: [rid, 0] or [major, seq]
         d   done, t total              progress
    o    review outcomes cursor         the device's outcome number last delivered
                                        (``sync_reviews.outcome_seq``; absent means 0)

A *position* is ``(major, seq)``: on PostgreSQL ``major`` is the writing transaction's id
(the change feed keeps it), on SQLite it is ``seq`` itself. A horizon is a ``major`` value below
which no transaction can still commit (docs/sync-pull.md explains why that loses nothing).

The signature keeps the server's bookkeeping honest, but no access rests on it: a pull filters
everything through the caller's current access whatever the token says, so a forged token can
at worst make the device miss or repeat its own data.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Final

from joserfc import jwt
from joserfc.errors import JoseError

from bedside.auth.keys import SigningKeys
from bedside.errors import InvalidRequest
from bedside.protocol.pull import SYNC_TYP

__all__ = ["BACKFILL", "DELTA", "VERSION", "PullToken", "Round", "decode", "encode"]

VERSION: Final = 1
BACKFILL: Final = "backfill"
DELTA: Final = "delta"
_PHASES: Final = (BACKFILL, DELTA)


@dataclass(frozen=True, slots=True)
class Round:
    """One pass from the base horizon to ``horizon``: backfill first, then the delta."""

    horizon: int
    phase: str = BACKFILL
    after: tuple[int, int] | None = None
    done: int = 0
    total: int = 0

    def advance(self, *, phase: str, after: tuple[int, int] | None, examined: int) -> Round:
        return replace(self, phase=phase, after=after, done=self.done + examined)


@dataclass(frozen=True, slots=True)
class PullToken:
    device: str
    subject: str
    base: int = 0
    members: str = ""
    snapshot: str = ""
    round: Round | None = None
    reviews: int = 0  # the last review outcome number delivered (docs/sync-pull.md)

    @property
    def fresh(self) -> bool:
        """True for a first sync: nothing delivered yet."""
        return not self.members and self.round is None and self.base == 0


def encode(token: PullToken, keys: SigningKeys) -> str:
    r = token.round
    claims: dict[str, Any] = {
        "v": VERSION,
        "dev": token.device,
        "sub": token.subject,
        "h": str(token.base),
        "ws": token.members,
        "sn": token.snapshot,
        "r": None
        if r is None
        else {
            "h": str(r.horizon),
            "p": r.phase,
            "a": None if r.after is None else [str(r.after[0]), r.after[1]],
            "d": r.done,
            "t": r.total,
        },
        "o": str(token.reviews),
    }
    header = {"alg": "RS256", "kid": keys.signing.kid, "typ": SYNC_TYP}
    return jwt.encode(header, claims, keys.signing)


def decode(text: str, keys: SigningKeys, *, device: str, subject: str) -> PullToken:
    """The token's state, or 400 when it is not a valid token of this device and user.

    Horizons are 64-bit transaction ids on PostgreSQL, so they travel as decimal strings.
    """
    try:
        decoded = jwt.decode(text, keys.all, algorithms=["RS256"])
        if decoded.header.get("typ") != SYNC_TYP:
            raise ValueError("typ")
        c = dict(decoded.claims)
        if c.get("v") != VERSION:
            raise ValueError("version")
        token = PullToken(
            device=str(c["dev"]),
            subject=str(c["sub"]),
            base=_whole(c["h"]),
            members=str(c["ws"]),
            snapshot=str(c["sn"]),
            round=_round(c["r"]),
            reviews=_whole(c.get("o", 0)),
        )
    except (JoseError, ValueError, TypeError, KeyError):
        raise _invalid("it is not a sync token of this server") from None
    if token.device != device or token.subject != subject:
        raise _invalid("it was issued to another device or user")
    return token


def _round(value: Any) -> Round | None:
    if value is None:
        return None
    if not isinstance(value, dict) or value.get("p") not in _PHASES:
        raise ValueError("round")
    after = value.get("a")
    position = None
    if after is not None:
        if not isinstance(after, list) or len(after) != 2:
            raise ValueError("after")
        position = (_whole(after[0]), _whole(after[1]))
    return Round(
        horizon=_whole(value["h"]),
        phase=str(value["p"]),
        after=position,
        done=_whole(value.get("d", 0)),
        total=_whole(value.get("t", 0)),
    )


def _whole(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError("not a whole number")
    number = int(value)
    if number < 0:
        raise ValueError("negative")
    return number


def _invalid(why: str) -> InvalidRequest:
    return InvalidRequest(f"The sync token cannot be used: {why}. Sync again without it.")
