"""Tasks on the device: a patient's outstanding Tasks, "my tasks", and moving one on (G1).

A Task reaches the device by the patient it is ``for`` (ADR 0018), so everything here reads
through the chart (:mod:`bedside.device.chart`: the offline policy decides, and every read is
logged) and writes through the one local-first write path (:func:`bedside.device.writes.record`:
committed on the device at once with its signed event, rechecked by the server at sync, G3).

A status change follows the FHIR R4 Task state machine (task.html#statemachine, the same table
sync merges by: :func:`bedside.policy.conflicts.task_next`): only the states the current one may
move to are offered, in plain words. A change may also edit the Task's description and its
note. The device never sets ``lastModified``: two devices stamping it would clash at every
merge; the event's Provenance says when.

"My tasks" are the outstanding Tasks, among the patients this device holds and the user still
reaches, that the user owns or that nobody owns yet.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Final

from bedside.device import chart as reading
from bedside.device import writes
from bedside.device.chart import ChartItem
from bedside.device.errors import DeviceError
from bedside.device.session import Session
from bedside.policy.conflicts import task_next

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_NOTE",
    "NEEDS_REASON",
    "OUTSTANDING",
    "STATUS_WORDS",
    "TaskChange",
    "TaskView",
    "choices",
    "mine",
    "outstanding",
    "update",
    "view_of",
]

#: States in which a Task still asks something of someone.
OUTSTANDING: Final = frozenset(
    {"draft", "requested", "received", "accepted", "ready", "in-progress", "on-hold"}
)
#: Each status as a clinician says it (what the Task is now).
STATUS_WORDS: Final = {
    "draft": "Not yet requested",
    "requested": "Requested, not yet accepted",
    "received": "Received, not yet accepted",
    "accepted": "Accepted, not started",
    "rejected": "Declined",
    "ready": "Ready to start",
    "in-progress": "In progress",
    "on-hold": "On hold",
    "completed": "Done",
    "failed": "Could not be done",
    "cancelled": "Cancelled",
    "entered-in-error": "Entered in error",
}
#: Each move as the button or option says it (what the clinician does).
_MOVE_WORDS: Final = {
    "requested": "Request it",
    "received": "Mark as received",
    "accepted": "Accept it",
    "rejected": "Decline it",
    "ready": "Mark as ready to start",
    "in-progress": "Start it",
    "on-hold": "Put it on hold",
    "completed": "Mark as done",
    "failed": "Mark as could not be done",
    "cancelled": "Cancel it",
}
#: The order moves are offered in: onward first, stopping last.
_MOVE_ORDER: Final = (
    "received",
    "accepted",
    "ready",
    "in-progress",
    "completed",
    "on-hold",
    "requested",
    "rejected",
    "failed",
    "cancelled",
)
#: Moves that need a reason (the Task's ``statusReason``).
NEEDS_REASON: Final = frozenset({"on-hold", "rejected", "failed", "cancelled"})
MAX_DESCRIPTION: Final = 500
MAX_NOTE: Final = 2000


@dataclass(frozen=True, slots=True)
class TaskView:
    """One Task as the screens show it."""

    id: str
    patient: str
    title: str
    status: str
    status_words: str
    description: str
    note: str
    owner: str  # the owner's reference, "" when nobody owns it
    owner_words: str  # "You", the owner's name as the Task gives it, or "Nobody has taken it yet"
    priority: str
    moves: tuple[tuple[str, str], ...]  # (status, words) the clinician may choose
    local_state: str
    resource: dict[str, Any]

    @property
    def outstanding(self) -> bool:
        return self.status in OUTSTANDING


@dataclass(frozen=True, slots=True)
class TaskChange:
    """What the clinician asked for: a new status (None: keep), description and note text
    (None: keep; "" clears), and the reason for a stopping move."""

    status: str | None = None
    description: str | None = None
    note: str | None = None
    reason: str | None = None


def choices(status: str) -> tuple[tuple[str, str], ...]:
    """The moves offered from ``status``: (status, words), onward first."""
    allowed = task_next(status) & _MOVE_WORDS.keys()
    return tuple((s, _MOVE_WORDS[s]) for s in _MOVE_ORDER if s in allowed)


def view_of(item: ChartItem, me: str | None = None) -> TaskView:
    """The Task as the screens show it; ``me`` is the user's FHIR reference (for "You")."""
    r = item.resource
    status = str(r.get("status") or "")
    code = r.get("code")
    code_text = ""
    if isinstance(code, dict):
        first: dict[str, Any] = next(iter(code.get("coding") or [{}]), {})
        code_text = str(code.get("text") or first.get("display") or "")
    description = str(r.get("description") or "")
    owner = r.get("owner")
    ref = str(owner.get("reference") or "") if isinstance(owner, dict) else ""
    if me and ref == me:
        words = "You"
    elif isinstance(owner, dict) and (owner.get("display") or ref):
        words = str(owner.get("display") or "A colleague or team")
    else:
        words = "Nobody has taken it yet"
    return TaskView(
        id=item.id,
        patient=item.patient or "",
        title=description or code_text or "A task with no description",
        status=status,
        status_words=STATUS_WORDS.get(status, status.replace("-", " ") or "No status"),
        description=description,
        note=_note_text(r),
        owner=ref,
        owner_words=words,
        priority=str(r.get("priority") or "routine"),
        moves=choices(status),
        local_state=item.local_state,
        resource=r,
    )


def outstanding(s: Session, patient: str, *, all_states: bool = False) -> list[TaskView]:
    """The patient's Tasks on this device: outstanding ones (or every one), urgent first."""
    me = s.policy.claims.get("fhirUser")
    found = [
        view_of(i, me if isinstance(me, str) else None) for i in reading.chart(s, patient, "Task")
    ]
    shown = [t for t in found if all_states or t.outstanding]
    return sorted(shown, key=_order)


def mine(s: Session) -> list[TaskView]:
    """Outstanding Tasks the user owns, or nobody owns, for the patients the user reaches."""
    me = s.policy.claims.get("fhirUser")
    out: list[TaskView] = []
    for entry in reading.patients(s):
        for task in outstanding(s, entry.id):
            if not task.owner or (isinstance(me, str) and task.owner == me):
                out.append(task)
    return sorted(out, key=_order)


_PRIORITY: Final = {"stat": 0, "asap": 1, "urgent": 2, "routine": 3}


def _order(t: TaskView) -> tuple[int, str, str]:
    return (_PRIORITY.get(t.priority, 3), str(t.resource.get("authoredOn") or ""), t.id)


def update(s: Session, task_id: str, change: TaskChange) -> writes.Recorded:
    """Record the change as an update of the Task: checked, then committed on the device."""
    item = reading.read(s, "Task", task_id)
    if item.type != "Task" or item.patient is None:
        raise DeviceError("This is not a task of one of your patients.")
    body = copy.deepcopy(item.resource)
    current = str(body.get("status") or "")
    changed = False
    if change.status is not None and change.status != current:
        if change.status not in dict(choices(current)):
            now = STATUS_WORDS.get(current, current)
            raise DeviceError(
                f"This task is {now.lower()}, so it cannot be changed to"
                f" {STATUS_WORDS.get(change.status, 'that').lower()}. Nothing was saved."
            )
        reason = (change.reason or "").strip()
        if change.status in NEEDS_REASON and not reason:
            raise DeviceError("Say why, in a few words, before you save. Nothing was saved.")
        body["status"] = change.status
        if reason:
            body["statusReason"] = {"text": reason[:MAX_DESCRIPTION]}
        changed = True
    if change.description is not None:
        text = change.description.strip()
        if len(text) > MAX_DESCRIPTION:
            raise DeviceError(
                f"The description is longer than {MAX_DESCRIPTION} characters. Nothing was saved."
            )
        if text != str(body.get("description") or ""):
            if text:
                body["description"] = text
            else:
                body.pop("description", None)
            changed = True
    if change.note is not None:
        text = change.note.strip()
        if len(text) > MAX_NOTE:
            raise DeviceError(f"The note is longer than {MAX_NOTE} characters. Nothing was saved.")
        if text != _note_text(body):
            _set_note(body, text)
            changed = True
    if not changed:
        raise DeviceError("Nothing was changed, so nothing was saved.")
    return writes.record(s, "update", body, item.patient)


def _note_text(resource: dict[str, Any]) -> str:
    notes = resource.get("note")
    if isinstance(notes, list) and notes and isinstance(notes[0], dict):
        return str(notes[0].get("text") or "")
    return ""


def _set_note(body: dict[str, Any], text: str) -> None:
    """The Task's note is its first annotation: edited in place, the others kept."""
    notes = [n for n in body.get("note") or [] if isinstance(n, dict)]
    if text:
        first = dict(notes[0]) if notes else {}
        first["text"] = text
        first.pop("time", None)  # the annotation's time was the old text's
        notes = [first, *notes[1:]]
    else:
        notes = notes[1:]
    if notes:
        body["note"] = notes
    else:
        body.pop("note", None)
