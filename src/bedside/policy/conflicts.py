"""Conflict classes: how a device's change meets the server's current version (brief G4).

Pure functions, no database: :mod:`bedside.sync.ingest` loads the versions and calls
:func:`settle`, which answers with a :class:`Decision` — write this body (``confirmed`` or
``merged``) or send it to review, with the reason in plain words and the fields that differ.
The class of each type comes from the policy file (``[sync.conflicts]``,
:class:`bedside.policy.rules.SyncRules`):

* **append-only**: a create never conflicts; an update or ``correct`` is checked against the
  version it corrects: based on the current version → confirmed, else review.
* **mergeable**: a three-way merge field by field (top-level elements) against the base the
  device saw. A field changed on one side only takes that side's value; changed the same way on
  both sides is agreed; changed to different values on both sides goes to review, except that a
  list both sides only added items to keeps every item, and Task ``status`` merges by the FHIR
  Task state machine (task.html#statemachine): the later state wins when it can be reached from
  the other, never by clock.
* **exclusive** (orders, sign-offs, discharge): must be based on the current version, else
  review. A Composition or DocumentReference becoming ``final`` is exclusive whatever its class,
  so two offline sign-offs are never both applied.
* **read-only**: refused before this module is asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import orjson

from bedside.policy.rules import APPEND_ONLY, EXCLUSIVE, MERGEABLE, SyncRules

__all__ = [
    "CURRENT",
    "IGNORED",
    "Decision",
    "differing",
    "merge",
    "same_content",
    "settle",
    "signs_off",
    "task_next",
    "task_status",
]

#: A Decision state: the server's current version already says what the device sent.
CURRENT: Final = "current"
#: Elements a review never shows and a merge never compares: the server owns them.
IGNORED: Final = frozenset({"meta", "text", "id", "resourceType"})

#: FHIR R4 Task state machine: the states each state may move to directly.
_TASK_NEXT: Final = {
    "draft": {"requested", "ready", "cancelled"},
    "requested": {"received", "accepted", "rejected", "ready", "in-progress", "cancelled"},
    "received": {"accepted", "rejected", "ready", "in-progress", "cancelled"},
    "accepted": {"ready", "in-progress", "cancelled"},
    "ready": {"in-progress", "completed", "failed", "cancelled"},
    "in-progress": {"on-hold", "completed", "failed", "cancelled"},
    "on-hold": {"in-progress", "failed", "cancelled"},
    "completed": set(),
    "failed": set(),
    "cancelled": set(),
    "rejected": set(),
    "entered-in-error": set(),
}

#: The status element that says a document is signed off, by type.
_SIGN_OFF_ELEMENT: Final = {"Composition": "status", "DocumentReference": "docStatus"}


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a device's change: write ``body`` (state confirmed or merged), or send it
    to review (``body`` None) because of ``reason``, listing the ``fields`` that clash."""

    state: str  # confirmed, merged, needs-review, or CURRENT (already held: write nothing)
    body: dict[str, Any] | None
    reason: str = ""
    fields: tuple[str, ...] = ()


def settle(
    rules: SyncRules,
    rtype: str,
    mine: dict[str, Any],
    base: dict[str, Any] | None,
    current: dict[str, Any],
    *,
    based_on_current: bool,
) -> Decision:
    """Decide an update or correct of ``rtype``: ``mine`` is the device's resource, ``base`` the
    version its change was made on (None when the server no longer has it), ``current`` the
    server's current version; ``based_on_current`` says the device saw ``current`` itself."""
    if based_on_current:
        return Decision("confirmed", mine)
    klass = rules.conflict_class(rtype)
    if signs_off(rules, rtype, mine, base):
        klass = EXCLUSIVE
    fields = differing(mine, current)
    if klass == MERGEABLE and base is not None:
        return merge(rtype, base, mine, current)
    if not fields:  # the server already holds exactly this change: nothing to write again
        return Decision(CURRENT, None)
    if klass == APPEND_ONLY:
        reason = "The record was changed on the server after the version this correction is for."
    elif signs_off(rules, rtype, mine, base):
        reason = (
            "Someone else signed this document off or changed it on the server after you last "
            "saw it, so your sign-off was not applied: it is never signed off twice."
        )
    elif klass == EXCLUSIVE:
        reason = f"The {_words(rtype)} was changed on the server after you last saw it."
    else:
        reason = f"The {_words(rtype)} changed on the server, and the version you edited is gone."
    return Decision("needs-review", None, reason, fields)


def merge(
    rtype: str, base: dict[str, Any], mine: dict[str, Any], theirs: dict[str, Any]
) -> Decision:
    """Three-way merge of top-level elements; ``theirs`` is the server's current version."""
    out: dict[str, Any] = {k: v for k, v in theirs.items() if k in IGNORED}
    out.update({k: mine[k] for k in ("resourceType", "id") if k in mine})
    clashes: list[str] = []
    keys = (set(base) | set(mine) | set(theirs)) - IGNORED
    for key in sorted(keys):
        b, m, t = base.get(key), mine.get(key), theirs.get(key)
        if _eq(m, t) or _eq(m, b):
            value = t  # mine left it alone, or made the same change
        elif _eq(t, b):
            value = m  # only mine changed it
        elif rtype == "Task" and key == "status":
            value = task_status(b, m, t)
        elif isinstance(b, list) and isinstance(m, list) and isinstance(t, list):
            value = _union(b, m, t)
        else:
            value = _CLASH
        if value is _CLASH:
            clashes.append(key)
        elif value is not None:  # None: the element is absent in the merge
            out[key] = value
    if clashes:
        what = ", ".join(clashes)
        reason = f"Both you and someone else changed the {_words(rtype)}'s {what}."
        return Decision("needs-review", None, reason, tuple(clashes))
    if not differing(out, theirs):
        return Decision(CURRENT, None)
    if differing(out, mine):
        return Decision("merged", out)
    return Decision("confirmed", mine)


_CLASH: Final[Any] = object()


def task_status(base: Any, mine: Any, theirs: Any) -> Any:
    """The merged Task status when both sides moved it: the state reachable from the other
    (in-progress after accepted), else a clash (completed against cancelled)."""
    if not isinstance(mine, str) or not isinstance(theirs, str):
        return _CLASH
    if "entered-in-error" in (mine, theirs):
        return _CLASH
    forward, backward = _reaches(theirs, mine), _reaches(mine, theirs)
    if forward and not backward:
        return mine
    if backward and not forward:
        return theirs
    return _CLASH


def task_next(status: str) -> frozenset[str]:
    """The states a Task in ``status`` may move to directly (none for a final or unknown one);
    the device offers only these (:mod:`bedside.device.tasks`)."""
    return frozenset(_TASK_NEXT.get(status, ()))


def _reaches(start: str, goal: str) -> bool:
    seen, todo = {start}, [start]
    while todo:
        for nxt in _TASK_NEXT.get(todo.pop(), set()):
            if nxt == goal:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return False


def _union(base: list[Any], mine: list[Any], theirs: list[Any]) -> Any:
    """Both sides only added items (every base item kept on both): theirs plus mine's new ones."""
    keys = [_key(x) for x in base]
    mine_keys, theirs_keys = [_key(x) for x in mine], [_key(x) for x in theirs]
    if not all(k in mine_keys and k in theirs_keys for k in keys):
        return _CLASH
    added = [x for x, k in zip(mine, mine_keys, strict=True) if k not in theirs_keys]
    return [*theirs, *added]


def signs_off(
    rules: SyncRules, rtype: str, mine: dict[str, Any], base: dict[str, Any] | None
) -> bool:
    """Whether this change makes a document ``final`` (a sign-off)."""
    element = _SIGN_OFF_ELEMENT.get(rtype, "status")
    if rtype not in rules.sign_off:
        return False
    return mine.get(element) == "final" and (base or {}).get(element) != "final"


def differing(a: dict[str, Any], b: dict[str, Any] | None) -> tuple[str, ...]:
    """The top-level elements whose values differ, ignoring meta and text (sorted)."""
    other = b or {}
    keys = (set(a) | set(other)) - IGNORED
    return tuple(sorted(k for k in keys if not _eq(a.get(k), other.get(k))))


def same_content(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return not differing(a, b)


def _eq(a: Any, b: Any) -> bool:
    return a == b or _key(a) == _key(b)


def _key(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _words(rtype: str) -> str:
    """``MedicationRequest`` → ``medication request``: a type as a sentence says it."""
    if rtype in ("DocumentReference", "Composition"):
        return "document"  # what a clinician calls a note or a discharge summary
    out = "".join(f" {c.lower()}" if c.isupper() else c for c in rtype).strip()
    return out
