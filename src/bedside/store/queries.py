"""Named lookups on the FHIR store's search index, for code outside ``store/``.

Policy (care relationships, consents), consent (expiry sweeps) and sync (a version's author) ask
the index questions that are not FHIR searches: which current resources of a type reference
one of some targets, which have a token, whose period has ended. The SQL for them lives here, so
no module outside ``store/`` names the store's tables (``resources``, ``resource_versions``,
``idx_*``, ``change_feed``); each runs on :class:`~bedside.store.base.Records` (``?``
placeholders, both backends) in the caller's transaction.

References are given as ``Type/id`` strings; contents come back parsed.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

import orjson

from bedside.store.base import Records

__all__ = [
    "current_by_id",
    "current_referring",
    "ending_consents",
    "referring_ids",
]

_CURRENT = (
    "SELECT r.type, r.id, v.content FROM resources r"
    " JOIN resource_versions v ON v.rid = r.rid AND v.version = r.version"
    " WHERE r.type = ? AND r.deleted = ? AND r.rid IN ({rids})"
)


def _current(db: Records, rtype: str, rid_sql: str, args: list[object]) -> list[dict[str, Any]]:
    """Current, undeleted resources of ``rtype`` whose rid is selected by ``rid_sql``."""
    rows = db.rows(_CURRENT.format(rids=rid_sql), [rtype, False, *args])
    return [orjson.loads(bytes(r[2])) for r in rows if r[2] is not None]


def _marks(items: Collection[object]) -> str:
    return ", ".join("?" for _ in items)


def _split(ref: str) -> tuple[str, str]:
    kind, _, rid = ref.partition("/")
    return kind, rid


def _referring(param: str, targets: Sequence[str]) -> tuple[str, list[object]]:
    """Rids whose ``param`` references one of ``targets``: ``target IN (…)`` when they share a
    type, else one ``(target, type)`` pair each."""
    pairs = [_split(t) for t in targets]
    kinds = {k for k, _ in pairs}
    if len(kinds) == 1:
        (kind,) = kinds
        ids = sorted({i for _, i in pairs})
        return (
            f"SELECT x.rid FROM idx_reference x WHERE x.param = ? AND x.target IN ({_marks(ids)})"
            " AND x.target_type = ?",
            [param, *ids, kind],
        )
    named = " OR ".join("(x.target = ? AND x.target_type = ?)" for _ in pairs)
    args: list[object] = [param]
    for kind, rid in pairs:
        args += [rid, kind]
    return f"SELECT x.rid FROM idx_reference x WHERE x.param = ? AND ({named})", args


def current_by_id(db: Records, rtype: str, rid: str) -> list[dict[str, Any]]:
    """The current version of ``rtype/rid`` (an empty list when missing or deleted)."""
    return _current(db, rtype, "SELECT rid FROM resources WHERE type = ? AND id = ?", [rtype, rid])


def current_referring(
    db: Records,
    rtype: str,
    refs: Sequence[tuple[str, Sequence[str]]],
    *,
    token: tuple[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Current, undeleted resources of ``rtype`` that reference, through any ``(param,
    targets)`` of ``refs``, one of the targets (``Type/id``); with ``token`` (``param, code``)
    only those that also have that token (e.g. ``("Consent.status", "active")``)."""
    parts = [_referring(param, targets) for param, targets in refs if targets]
    if not parts:
        return []
    select = " UNION ".join(text for text, _ in parts)
    args = [a for _, more in parts for a in more]
    if token is not None:
        select = (
            "SELECT t.rid FROM idx_token t WHERE t.param = ? AND t.code = ?"
            f" AND t.rid IN ({select})"
        )
        args = [*token, *args]
    return _current(db, rtype, select, args)


def referring_ids(db: Records, param: str, targets: Sequence[str]) -> set[str]:
    """Ids of undeleted resources whose ``param`` references one of ``targets`` (one type)."""
    if not targets:
        return set()
    select, args = _referring(param, targets)
    rows = db.rows(
        f"SELECT r.id FROM resources r WHERE r.rid IN ({select}) AND r.deleted = ?",
        [*args, False],
    )
    return {str(r[0]) for r in rows}


def ending_consents(db: Records, before_ms: int) -> list[tuple[str, int, bytes]]:
    """``(id, version, content)`` of each current active Consent whose indexed period ends
    before ``before_ms`` (UNIX milliseconds) and whose version ``consent_expiries`` has not
    noted yet, by id."""
    rows = db.rows(
        "SELECT r.id, r.version, v.content FROM idx_date d"
        " JOIN resources r ON r.rid = d.rid"
        " JOIN resource_versions v ON v.rid = r.rid AND v.version = r.version"
        " WHERE d.param = 'Consent.period' AND d.high < ? AND r.type = 'Consent'"
        " AND r.deleted = ?"
        " AND EXISTS (SELECT 1 FROM idx_token t WHERE t.rid = r.rid"
        " AND t.param = 'Consent.status' AND t.code = 'active')"
        " AND NOT EXISTS (SELECT 1 FROM consent_expiries e"
        " WHERE e.consent_id = r.id AND e.version = r.version)"
        " ORDER BY r.id",
        (before_ms, False),
    )
    return [(str(i), int(v), bytes(c)) for i, v, c in rows]
