"""Access changes in the change feed: what devices and subscribers must drop, and when.

A device that synced a patient's data under a consent or a break-glass grant keeps it offline,
so the end of that access has to travel the same way the data did: through the change feed.
Each end becomes a change-feed entry (op ``access-revoked`` or ``access-expired``, from
:meth:`Session.mark`) and an ``access_changes`` row with the same ``seq`` saying what to drop:

    kind      consent-revoked           an active Consent went inactive
              consent-entered-in-error  an active Consent was marked entered-in-error
              consent-expired           an active Consent's root provision.period ended
              break-glass-expired       a break-glass grant ran out
    patient   the Patient id
    actors    JSON array of references ([] means everyone)
    types     JSON array of resource types ([] means all)
    labels    JSON array of "system|code" ([] means any)
    source    Consent/<id> or break-glass/<id>

Revocation is written in the transaction that stores the new Consent version
(:func:`note_consent_change`); expiry is found by a periodic :func:`sweep`, because nothing is
written when a date passes. Each end is noted once: ``consent_expiries`` and
``break_glass.expiry_noted`` remember what was. See docs/consent.md.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from bedside.consent.evaluate import Grant, grants, patient_id, period_bounds
from bedside.numerals import is_number
from bedside.policy.model import Label
from bedside.store import queries
from bedside.store.base import Records, Session, Store

__all__ = ["SWEEP_LOCK", "changes_since", "instant", "note_consent_change", "sweep"]

#: Kinds of access change a Consent's new status causes, when it was active before.
_REVOKING: Final = {"inactive": "consent-revoked", "entered-in-error": "consent-entered-in-error"}
SWEEP_LOCK: Final = "access-sweep"


def instant(now: float) -> str:
    """UNIX seconds as a FHIR instant (the ``recorded_at`` of sweep entries)."""
    stamp = datetime.fromtimestamp(now, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _json(items: list[str]) -> str:
    return json.dumps(sorted(items), separators=(",", ":"))


def _labels(labels: frozenset[Label] | None) -> list[str]:
    return [f"{system}|{code}" for system, code in labels or ()]


def _entry(
    session: Session,
    *,
    op: str,
    kind: str,
    ref: tuple[str, str, int],
    patient: str,
    grant: Grant,
    source: str,
    recorded_at: str,
) -> int:
    """One change-feed event and its access_changes row, sharing one seq."""
    seq = session.mark(op, *ref, recorded_at)
    session.records().run(
        "INSERT INTO access_changes"
        " (seq, kind, patient, actors, types, labels, source, recorded_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (
            seq,
            kind,
            patient,
            _json(list(grant.actors)),
            _json(list(grant.types or ())),
            _json(_labels(grant.labels)),
            source,
            recorded_at,
        ),
    )
    return seq


def _version(resource: Mapping[str, Any]) -> int | None:
    text = (resource.get("meta") or {}).get("versionId")
    return int(text) if isinstance(text, str) and is_number(text) else None


def note_consent_change(
    session: Session,
    old: Mapping[str, Any] | None,
    new: Mapping[str, Any],
    recorded_at: str,
) -> list[int]:
    """Write revocation entries when an active Consent is withdrawn or entered in error.

    Call it in the transaction that stores ``new``. One entry per permit the Consent had (see
    :func:`bedside.consent.evaluate.grants`); a deny that ends opens access rather than closing
    it, so it writes nothing. A Consent whose expiry was already noted has nothing left to drop.
    Returns the seqs written.
    """
    if old is None or old.get("status") != "active":
        return []
    kind = _REVOKING.get(str(new.get("status")))
    patient = patient_id(old)
    rid = old.get("id")
    if kind is None or patient is None or not isinstance(rid, str):
        return []
    before = _version(old)
    if before is not None and session.records().one(
        "SELECT 1 FROM consent_expiries WHERE consent_id = ? AND version = ?", (rid, before)
    ):
        return []
    version = _version(new) or (before or 0) + 1  # the version that revoked
    return [
        _entry(
            session,
            op="access-revoked",
            kind=kind,
            ref=("Consent", rid, version),
            patient=patient,
            grant=g,
            source=f"Consent/{rid}",
            recorded_at=recorded_at,
        )
        for g in grants(old)
    ]


def sweep(store: Store, now: float) -> int:
    """Note every access that has run out by ``now``: Consent periods and break-glass grants.

    One write transaction, serialized with other sweepers by the ``access-sweep`` lock (on
    PostgreSQL its statements then see what an earlier sweeper committed), so two processes
    sweeping at once note each end once. Returns how many access_changes rows it wrote.
    """
    recorded_at = instant(now)
    with store.write() as session:
        session.lock(SWEEP_LOCK)
        return _expire_consents(session, now, recorded_at) + _expire_glass(
            session, now, recorded_at
        )


def _expire_consents(session: Session, now: float, recorded_at: str) -> int:
    # The period end's high bound is its last covered millisecond: past it when high < now.
    rows = queries.ending_consents(session.records(), math.ceil(now * 1000))
    written = 0
    for rid, version, content in rows:
        consent: dict[str, Any] = orjson.loads(bytes(content))
        _, end = period_bounds((consent.get("provision") or {}).get("period"))
        patient = patient_id(consent)
        if end is None or end >= now or patient is None:
            continue  # the index and the content disagree: leave it for a later sweep
        seqs = [
            _entry(
                session,
                op="access-expired",
                kind="consent-expired",
                ref=("Consent", rid, int(version)),
                patient=patient,
                grant=g,
                source=f"Consent/{rid}",
                recorded_at=recorded_at,
            )
            for g in grants(consent)
        ]
        # seq 0: the Consent had no permit (a deny that ends drops nothing).
        session.records().run(
            "INSERT INTO consent_expiries (consent_id, version, seq) VALUES (?, ?, ?)",
            (rid, int(version), seqs[0] if seqs else 0),
        )
        written += len(seqs)
    return written


def _expire_glass(session: Session, now: float, recorded_at: str) -> int:
    rows = session.records().rows(
        "SELECT id, user_ref, patient FROM break_glass"
        " WHERE expires_at <= ? AND expiry_noted = 0 ORDER BY expires_at, id",
        (math.floor(now),),
    )
    for gid, user_ref, patient in rows:
        pid = str(patient).removeprefix("Patient/")
        _entry(
            session,
            op="access-expired",
            kind="break-glass-expired",
            ref=("Patient", pid, 0),
            patient=pid,
            grant=Grant(frozenset({str(user_ref)}), None, None),
            source=f"break-glass/{gid}",
            recorded_at=recorded_at,
        )
        session.records().run("UPDATE break_glass SET expiry_noted = 1 WHERE id = ?", (gid,))
    return len(rows)


def changes_since(
    records: Records, after_seq: int, *, actor: str | None = None, limit: int = 500
) -> list[dict[str, Any]]:
    """Access changes after ``after_seq`` in seq order; with ``actor``, only those naming that
    actor or everyone (an empty actor list)."""
    where = "seq > ?"
    args: list[object] = [after_seq]
    if actor is not None:
        pattern = json.dumps(actor).replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where += " AND (actors = '[]' OR actors LIKE ? ESCAPE '\\')"
        args.append(f"%{pattern}%")
    rows = records.rows(
        "SELECT seq, kind, patient, actors, types, labels, source, recorded_at"
        f" FROM access_changes WHERE {where} ORDER BY seq LIMIT ?",
        [*args, limit],
    )
    return [
        {
            "seq": int(seq),
            "kind": kind,
            "patient": patient,
            "actors": json.loads(actors),
            "types": json.loads(types),
            "labels": json.loads(labels),
            "source": source,
            "recorded_at": recorded_at,
        }
        for seq, kind, patient, actors, types, labels, source, recorded_at in rows
    ]
