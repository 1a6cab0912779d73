"""The working set a pull serves, and what the device is known to hold of it.

**Working set** (brief: "the patients a user's device may hold now"): the patients the policy
relates the user to automatically (care team, ward, assignment, their own record; the launch
patient of a ``patient/`` token) plus the device's pins that the user still reaches (through a
relationship, a consent share or break-glass; any pin when the user is not confined to
patients). This is the rule the device applies to its own snapshot
(:meth:`bedside.device.offline.OfflinePolicy.working_set`), computed here from the same view,
so the server sends exactly the patients the device keeps.

**Access fingerprint**: for each working-set patient, a digest of everything that decides which
of their data the user sees (relationship or not, break-glass or self, each consent share's
types, labels and named resources, each refusal, the role's letters, the sensitive labels, the
token's scopes), and nothing that does not (which care team, until when). When it changes,
what the device may hold changed: the pull purges the patient and sends their record again.

**Members**: patient → (fingerprint, state) where state ``b`` means the device holds the
patient's data up to the token's base horizon and ``e`` means the patient entered and is being
backfilled in the current round. They are stored in ``sync_members`` under their digest; the
token carries the digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Final

import orjson

from bedside.auth.caller import Caller
from bedside.policy.model import AccessView, Label
from bedside.store.base import Records, Store

__all__ = [
    "AUTOMATIC_BASES",
    "ENTERING",
    "HELD",
    "Members",
    "digest",
    "load",
    "reached",
    "save",
    "working_set",
]

#: Bases that put a patient in the working set without a pin (as on the device).
AUTOMATIC_BASES: Final = frozenset({"care-team", "location", "assignment", "self"})
HELD: Final = "b"
ENTERING: Final = "e"

#: patient → (access fingerprint, HELD or ENTERING)
Members = dict[str, tuple[str, str]]


def _limit(caller: Caller) -> str | None:
    """The launch patient a token with only ``patient/`` scopes is confined to ("" none)."""
    scopes = caller.scopes.scopes
    if scopes and all(s.context == "patient" for s in scopes):
        return caller.patient or ""
    return None


def reached(view: AccessView, caller: Caller) -> set[str] | None:
    """Every patient the caller reaches by any basis now; None when not confined to any."""
    limit = _limit(caller)
    entries = {a.patient for a in (*view.relations, *view.glass)} | {s.patient for s in view.shares}
    if limit is not None:
        entries &= {limit}
    if not view.confined:
        if limit is None:
            return None
        return {limit} if limit else set()
    return {p for p in entries if p}


def working_set(view: AccessView, caller: Caller, pins: Iterable[str]) -> dict[str, str]:
    """Working-set patient → access fingerprint."""
    limit = _limit(caller)
    reach = reached(view, caller)
    automatic = {
        a.patient
        for a in (*view.relations, *view.glass)
        if a.basis in AUTOMATIC_BASES and (limit is None or a.patient == limit)
    }
    if not view.confined and limit:
        automatic.add(limit)
    chosen = {p for p in automatic if p}
    chosen.update(p for p in pins if p and (reach is None or p in reach))
    common = _common(view, caller)
    return {p: _fingerprint(view, p, common) for p in sorted(chosen)}


def _labels(labels: Iterable[Label] | None) -> list[str] | None:
    return None if labels is None else sorted(f"{s}|{c}" for s, c in labels)


def _common(view: AccessView, caller: Caller) -> bytes:
    return orjson.dumps(
        {
            "role": view.role,
            "confined": view.confined,
            "letters": {k: "".join(sorted(v)) for k, v in sorted(view.permissions.items())},
            "sensitive": _labels(view.sensitive),
            "scopes": sorted(caller.scopes.text().split()),
            "patient": caller.patient,
        },
        option=orjson.OPT_SORT_KEYS,
    )


def _fingerprint(view: AccessView, patient: str, common: bytes) -> str:
    grants: set[str] = set()
    for a in view.relations:
        if a.patient == patient:
            grants.add("relation")
    for a in view.glass:
        if a.patient == patient:
            grants.add("whole-record")
    for s in view.shares:
        if s.patient == patient:
            types = None if s.types is None else sorted(s.types)
            share: list[object] = [types, _labels(s.labels_any), _labels(s.labels_not)]
            if s.ids is not None:  # only then, so fingerprints of other shares stay as they were
                share.append(sorted(s.ids))
            grants.add("share " + orjson.dumps(share).decode())
    for r in view.refusals:
        if r.patient == patient:
            types = None if r.types is None else sorted(r.types)
            grants.add("refusal " + orjson.dumps([types, _labels(r.labels_any)]).decode())
    body = common + orjson.dumps(sorted(grants))
    return hashlib.sha256(body).hexdigest()[:24]


def digest(members: Members) -> str:
    """The members' digest ("" for none), as the token carries it."""
    if not members:
        return ""
    raw = orjson.dumps({p: list(v) for p, v in members.items()}, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(raw).hexdigest()


def load(db: Records, device: str, key: str) -> Members | None:
    """The members a token names; {} for none; None when the row is gone (resync)."""
    if not key:
        return {}
    row = db.one(
        "SELECT members FROM sync_members WHERE device_id = ? AND digest = ?", [device, key]
    )
    if row is None:
        return None
    data = orjson.loads(row[0])
    return {str(p): (str(v[0]), str(v[1])) for p, v in data.items()}


def save(store: Store, device: str, members: Members, now: float) -> str:
    """Store ``members`` (once per distinct set) and return their digest."""
    key = digest(members)
    if not key:
        return key
    with store.records() as db:
        if db.one("SELECT 1 FROM sync_members WHERE device_id = ? AND digest = ?", [device, key]):
            return key
    raw = orjson.dumps({p: list(v) for p, v in members.items()}, option=orjson.OPT_SORT_KEYS)
    with store.records(write=True) as db:
        db.run(
            "INSERT INTO sync_members (device_id, digest, members, created_at)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (device_id, digest) DO NOTHING",
            [device, key, raw.decode(), int(now)],
        )
    return key
