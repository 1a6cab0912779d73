"""Needs-review and rejected items on the device: explained, acknowledged, withdrawn, resolved.

An event the server sent to review or rejected stays in the outbox (retention removes only
confirmed events), and the app explains it in plain words (:func:`explain`): what the
clinician entered, what the server has and who changed it (the server's review item, fetched
at sync into the ``conflicts`` table: :func:`store_detail`), and what it means clinically.
The clinician then:

* **keeps it for the reviewer** (:func:`acknowledge`): nothing is sent; the item stays open in
  the review queue and in the outbox, marked as seen;
* **withdraws it** (:func:`withdraw`): for a needs-review item, the next sync asks the server to
  keep its own version (``POST /review/{id}/resolve`` ``keep: server``), and the outcome comes
  back at the pull as for any review; a rejected item is only acknowledged (nothing is owed);
* **resolves it**, for a mergeable type the user may update (:func:`resolve`): field by field,
  mine or theirs; the next sync sends the merge (``keep: merged``) against the server version
  it was made on. The server checks it as any write (G3), and refuses it when the item is not
  in the user's queue or the record moved on; that sentence is kept and shown (:func:`done`).

Choices are kept in the encrypted store's ``meta`` (``review_ack``, ``review_actions``,
``review_errors``) until the server answers; nothing here deletes an outbox event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import orjson

from bedside.device.chart import read
from bedside.device.errors import DeviceError
from bedside.device.index import display_of
from bedside.device.outbox import OutboxEntry
from bedside.device.session import Session
from bedside.device.store import Connection
from bedside.device.tasks import STATUS_WORDS
from bedside.policy.conflicts import IGNORED, differing, merge
from bedside.policy.rules import MERGEABLE, PolicyRules

__all__ = [
    "MERGEABLE_TYPES",
    "ReviewView",
    "acknowledge",
    "close_settled",
    "done",
    "explain",
    "queued",
    "resolve",
    "store_detail",
    "to_fetch",
    "withdraw",
]

_ACK: Final = "review_ack"
_ACTIONS: Final = "review_actions"
_ERRORS: Final = "review_errors"
_OPEN: Final = ("needs-review", "rejected")
#: Types the built-in policy merges field by field (the server decides again at resolution).
MERGEABLE_TYPES: Final = frozenset(
    t for t, k in PolicyRules.default().sync.classes.items() if k == MERGEABLE
)
_LABELS: Final = {
    "status": "Status",
    "statusReason": "Reason",
    "description": "Description",
    "note": "Note",
    "owner": "Owner",
    "title": "Title",
    "telecom": "Contact details",
    "address": "Address",
    "activity": "Activities",
    "valueQuantity": "Value",
    "dosageInstruction": "Dose",
    "priority": "Priority",
    "authenticator": "Signed off by",
    "docStatus": "Document status",
}


@dataclass(frozen=True, slots=True)
class ReviewView:
    """One needs-review or rejected item as the app explains it."""

    seq: int
    state: str
    type: str
    resource_id: str
    patient: str | None
    reason: str
    meaning: str
    #: (field, label, what the clinician entered, what the server has) for each field shown
    rows: list[tuple[str, str, str, str]] = field(default_factory=list)
    clashes: tuple[str, ...] = ()  # the fields changed both ways (the rows a resolution picks)
    server_known: bool = False
    changed_by: str = ""  # "Dr Ada Lovelace (on a device), 2027-01-15 08:00" or ""
    acknowledged: bool = False
    queued: str | None = None  # "server" (withdraw) | "merged" (resolve), waiting for sync
    error: str | None = None  # the server's sentence when it refused a choice
    can_resolve: bool = False


def _json(s: Session, key: str, default: Any) -> Any:
    text = s.store.meta(key)
    return orjson.loads(text) if text else default


def _entry(s: Session, seq: int) -> OutboxEntry:
    found = [e for e in s.outbox.list() if e.seq == seq]
    if not found:
        raise DeviceError("This item is not in this device's outbox.")
    return found[0]


def _conflict(s: Session, seq: int) -> tuple[dict[str, Any] | None, list[str]]:
    server, fields, _ = _conflict_row(s, seq)
    return server, fields


def _conflict_row(
    s: Session, seq: int
) -> tuple[dict[str, Any] | None, list[str], dict[str, Any] | None]:
    """(the server's side, the clashing fields, the base version's value) of event ``seq``."""
    with s.store.reading() as conn:
        row = conn.execute(
            "SELECT server_value, fields, base_value FROM conflicts WHERE outbox_seq = ?"
            " ORDER BY created DESC",
            (seq,),
        ).fetchone()
    if row is None:
        return None, [], None
    server = orjson.loads(row[0]) if row[0] else None
    base = orjson.loads(row[2]) if row[2] else None
    return server, [str(f) for f in orjson.loads(row[1] or "[]")], base


def explain(s: Session, seq: int) -> ReviewView:
    entry = _entry(s, seq)
    mine: dict[str, Any] = entry.event.get("resource") or {}
    server, fields, base = _conflict_row(s, seq)
    theirs = (server or {}).get("resource") if server else None
    shown = list(fields)
    if isinstance(base, dict):  # what else she changed: it waits with the clash
        shown += [k for k in differing(mine, base) if k not in fields]
    if not shown:
        shown = [k for k in ("status", "description", "note", "title") if k in mine] or [
            k for k in sorted(mine) if k not in IGNORED
        ][:6]
    rows = [
        (f, _label(f), _said(s, f, mine.get(f)), _said(s, f, theirs.get(f)) if theirs else "")
        for f in shown
    ]
    by = ""
    who = (server or {}).get("by") or {}
    if isinstance(who, dict) and (who.get("name") or who.get("who")):
        by = str(who.get("name") or who.get("who"))
        if who.get("device"):
            by += " (on their device)"
        if who.get("at"):
            by += f", {str(who['at'])[:16].replace('T', ' ')} UTC"
    actions = _json(s, _ACTIONS, {})
    letters = s.policy.letters(entry.type)
    return ReviewView(
        seq=seq,
        state=entry.state,
        type=entry.type,
        resource_id=entry.resource_id,
        patient=entry.patient,
        reason=entry.reason or "",
        meaning=_meaning(entry, fields, bool(theirs)),
        rows=rows,
        clashes=tuple(fields),
        server_known=theirs is not None,
        changed_by=by,
        acknowledged=seq in _json(s, _ACK, []),
        queued=(actions.get(str(seq)) or {}).get("keep"),
        error=_json(s, _ERRORS, {}).get(str(seq)),
        can_resolve=entry.state == "needs-review"
        and theirs is not None
        and entry.type in MERGEABLE_TYPES
        and "u" in letters,
    )


def _meaning(entry: OutboxEntry, fields: list[str], known: bool) -> str:
    what = " and ".join(f'"{_label(f)}"' for f in fields)
    if entry.state == "rejected":
        return (
            "Your change was not applied and will not be: the patient's record on the server does"
            " not include it, and colleagues do not see it. If it still matters for the patient's"
            " care, record it again if you still may, or hand it over to a colleague."
        )
    server = "the server's version shown here" if known else "the server's version"
    verb = "was" if len(fields) == 1 else "were"
    clash = f": {what} {verb} changed both here and by a colleague" if fields else ""
    return (
        f"Your change is not in the patient's record yet{clash}. Colleagues see {server}, and"
        " a reviewer will decide which stands. Until then, act on the server's version, and"
        " tell the team now if what you entered matters for the patient's care."
    )


def _label(key: str) -> str:
    if key in _LABELS:
        return _LABELS[key]
    words = "".join(f" {c.lower()}" if c.isupper() else c for c in key).strip()
    return words[:1].upper() + words[1:]


def _said(s: Session, key: str, value: Any) -> str:
    """:func:`_text`, with a Practitioner reference said as the name the device holds."""
    ref = value.get("reference") if isinstance(value, dict) else None
    if isinstance(ref, str) and ref.startswith("Practitioner/"):
        if ref == s.policy.claims.get("fhirUser"):
            return "You"
        try:
            name = display_of(read(s, "Practitioner", ref.split("/", 1)[1]).resource)[0]
        except DeviceError:
            name = None
        return str(name) if name else "A colleague whose details are not on this device"
    return _text(key, value)


def _text(key: str, value: Any) -> str:
    """A field's value in plain words."""
    if value is None or value == [] or value == "":
        return "(nothing)"
    if key == "status" and isinstance(value, str):
        return STATUS_WORDS.get(value, value.replace("-", " "))
    if isinstance(value, str | int | float | bool):
        return str(value)
    if isinstance(value, list):
        return "; ".join(_text(key, v) for v in value)
    if isinstance(value, dict):
        for k in ("text", "display", "value", "reference"):
            if isinstance(value.get(k), str | int | float):
                return str(value[k])
        coding = value.get("coding")
        if isinstance(coding, list) and coding:
            return _text(key, coding[0])
    return orjson.dumps(value).decode()[:200]


def _owed(s: Session, seq: int, states: tuple[str, ...] = _OPEN) -> OutboxEntry:
    entry = _entry(s, seq)
    if entry.state == "rejected" and entry.state not in states:
        raise DeviceError(
            "A rejected change cannot be resolved: the server will not apply it. Record it"
            " again if it still matters."
        )
    if entry.state not in states:
        raise DeviceError("This item no longer needs a decision here.")
    return entry


def acknowledge(s: Session, seq: int) -> None:
    """The clinician has read it and keeps it for the reviewer (or, rejected, has seen it)."""
    _owed(s, seq)
    seen = set(_json(s, _ACK, []))
    seen.add(seq)
    s.store.set_meta(_ACK, orjson.dumps(sorted(seen)).decode())


def withdraw(s: Session, seq: int) -> None:
    """Ask (at the next sync) that the server keep its version; a rejected item: acknowledge."""
    entry = _owed(s, seq)
    if entry.state == "rejected":
        acknowledge(s, seq)
        return
    _queue(s, entry, {"keep": "server"})


def resolve(s: Session, seq: int, choices: dict[str, str]) -> None:
    """Queue a field-by-field merge: for each differing field, ``mine`` or ``theirs``."""
    entry = _owed(s, seq, ("needs-review",))
    view = explain(s, seq)
    server, fields = _conflict(s, seq)
    if not view.can_resolve or server is None:
        raise DeviceError("This item can only be kept for the reviewer or withdrawn.")
    if set(choices) != set(fields) or not set(choices.values()) <= {"mine", "theirs"}:
        raise DeviceError("Choose yours or the server's for every field, then save.")
    mine: dict[str, Any] = dict(entry.event.get("resource") or {})
    theirs: dict[str, Any] = dict(server["resource"])
    base = _conflict_row(s, seq)[2]
    if not isinstance(base, dict):
        base = theirs  # no base: only the clashing fields move, as chosen
    # each clash settled as chosen, then the same three-way merge the server runs (other
    # fields by side, Task status by the state machine)
    for key, pick in choices.items():
        take, into = (theirs, mine) if pick == "theirs" else (base, theirs)
        if key in take:
            into[key] = take[key]
        else:
            into.pop(key, None)
    decision = merge(entry.type, base, mine, theirs)
    if decision.state == "needs-review":
        raise DeviceError("These choices still clash; choose again.")
    merged = decision.body if decision.body is not None else dict(server["resource"])
    why = s.policy.refuse_write("update", merged, entry.patient, s.clock())
    if why is not None:
        raise DeviceError(why)
    _queue(s, entry, {"keep": "merged", "resource": merged, "version": server.get("version")})


def _queue(s: Session, entry: OutboxEntry, action: dict[str, Any]) -> None:
    review = (entry.result or {}).get("review")
    if not isinstance(review, str):
        raise DeviceError("The server has not said which review item this is; sync first.")
    with s.store.transaction() as tx:
        actions = _json(s, _ACTIONS, {})
        actions[str(entry.seq)] = {**action, "review": review}
        _set(tx, _ACTIONS, actions)
        errors = _json(s, _ERRORS, {})
        errors.pop(str(entry.seq), None)
        _set(tx, _ERRORS, errors)


def _set(tx: Connection, key: str, value: Any) -> None:
    tx.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, orjson.dumps(value).decode()),
    )


# --- what sync does with them -----------------------------------------------------------------


def queued(s: Session) -> dict[int, dict[str, Any]]:
    """Choices waiting to be sent: seq -> ``{"review", "keep", "resource"?, "version"?}``."""
    return {int(k): v for k, v in _json(s, _ACTIONS, {}).items()}


def done(s: Session, seq: int, error: str | None) -> None:
    """The server answered a queued choice: taken (``error`` None) or refused with a sentence,
    which the item then shows; either way it is no longer queued."""
    with s.store.transaction() as tx:
        actions = _json(s, _ACTIONS, {})
        actions.pop(str(seq), None)
        _set(tx, _ACTIONS, actions)
        if error is not None:
            errors = _json(s, _ERRORS, {})
            errors[str(seq)] = error
            _set(tx, _ERRORS, errors)
            tx.execute("DELETE FROM conflicts WHERE outbox_seq = ?", (seq,))  # fetch it again


def to_fetch(s: Session) -> list[tuple[int, str]]:
    """(seq, review item id) of needs-review events whose server detail is not here yet."""
    with s.store.reading() as conn:
        have = {int(r[0]) for r in conn.execute("SELECT outbox_seq FROM conflicts").fetchall()}
    return [
        (e.seq, str((e.result or {})["review"]))
        for e in s.outbox.list("needs-review")
        if e.seq not in have and isinstance((e.result or {}).get("review"), str)
    ]


def store_detail(s: Session, seq: int, detail: dict[str, Any]) -> None:
    """Keep the server's review item for event ``seq`` (its values, fields, who changed it)."""
    server = {
        "resource": detail.get("server_value"),
        "version": detail.get("server_version"),
        "by": detail.get("server_changed_by"),
    }
    with s.store.transaction() as tx:
        tx.execute(
            "INSERT OR REPLACE INTO conflicts (id, outbox_seq, patient, type, resource_id,"
            " device_value, server_value, base_value, fields, state, created)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?)",
            (
                str(detail.get("id")),
                seq,
                detail.get("patient"),
                str(detail.get("type") or ""),
                str(detail.get("resource", "/").split("/")[-1]),
                orjson.dumps(detail.get("device_value")).decode(),
                orjson.dumps(server).decode() if server["resource"] is not None else None,
                orjson.dumps(detail.get("base_value")).decode(),
                orjson.dumps(list(detail.get("fields") or [])).decode(),
                s.clock(),
            ),
        )


def close_settled(s: Session) -> int:
    """Mark resolved the conflicts whose event the server has settled; how many."""
    with s.store.transaction() as tx:
        return int(
            tx.execute(
                "UPDATE conflicts SET state = 'resolved', outcome = (SELECT o.state FROM outbox o"
                " WHERE o.seq = conflicts.outbox_seq) WHERE state = 'open' AND outbox_seq IN"
                " (SELECT seq FROM outbox WHERE state != 'needs-review')"
            ).rowcount
        )
