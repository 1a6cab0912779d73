"""Sync from the device's side: push the outbox, then pull what changed (docs/sync-protocol.md).

:func:`sync` is what ``bedside device sync`` and an app call with an unlocked :class:`Node`, a
:class:`Remote` and a fresh access token that names the device. Push sends outbox events in
``seq`` order in batches; each result settles its event (``merged`` is a confirmation with the
server's merged version; ``deferred`` returns the event to ``pending`` for the next sync). An
event leaves ``sending`` only with an answer: if the connection drops, the batch goes back to
``pending`` and is re-sent under the same idempotency keys, so the server answers with its
first results (G2). A batch past the server's body limit (413) goes back too and is re-sent in
halves; a single event past it stops the push (it stays pending). Then the attachments whose
records the server confirmed are uploaded (:mod:`bedside.device.uploads`). Pull then applies
page after page, each atomically with its cursor.

Every answer teaches the device the server's clock (:mod:`bedside.device.clock`): the node's
clock is the one the client learns into for the whole sync, and what it learned is kept in the
store at the end. A clock beyond ``MAX_SKEW`` stops the sync before anything is sent, with one
sentence saying how far off it is.

The summary holds counts only; a progress callback gets ``(phase, done, total)``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any, Final

from bedside.device.errors import DeviceError
from bedside.device.node import Node
from bedside.device.outbox import OutboxEntry
from bedside.device.remote import Remote
from bedside.device.remote_sync import PushTooLarge
from bedside.device.reviews_sync import fetch_details, send_choices
from bedside.device.uploads import upload
from bedside.protocol import MAX_EVENTS, MAX_LIMIT
from bedside.protocol.event import format_time
from bedside.protocol.pull import PullRequest
from bedside.protocol.push import Push, Reply
from bedside.protocol.results import CONFIRMED, DEFERRED, MERGED, NEEDS_REVIEW, REJECTED

__all__ = [
    "LOST",
    "NO_SIGN_IN",
    "REVOKED",
    "TOO_LARGE",
    "WIPED",
    "Progress",
    "SyncSummary",
    "access_token",
    "drain_and_wipe",
    "pull",
    "push",
    "push_glass",
    "report_health",
    "sync",
]

TOO_LARGE: Final = "One recorded action is larger than the server accepts: it stays on this device."
#: (phase "push" | "pull", done so far, total when known)
Progress = Callable[[str, int, int | None], None]


@dataclass(slots=True)
class SyncSummary:
    """What one sync did, in counts (what ``bedside device sync`` prints)."""

    sent: int = 0
    confirmed: int = 0
    merged: int = 0
    needs_review: int = 0
    rejected: int = 0
    deferred: int = 0
    uploaded: int = 0  # attachments the server confirmed keeping
    upload_failed: int = 0  # attachments it refused (they stay on the device)
    received: int = 0
    deleted: int = 0
    purged: int = 0
    reviews_settled: int = 0
    skew_ms: int | None = None
    snapshot: bool = False
    break_glass: int = 0  # offline break-glass grants the server acknowledged (sent first)
    reasons: list[str] = field(default_factory=list)  # rejection sentences (no PHI by contract)


NO_SIGN_IN: Final = "This device has no sign-in to sync with. Run: bedside device unlock --online"
_OTHER_DEVICE: Final = "The server did not issue a token for this device. Sign in online again."


def access_token(node: Node, remote: Remote) -> str:
    """A fresh access token for this device from the stored refresh token, which rotates: the
    new one is stored the moment the answer is read, before anything else can fail (the server
    treats a reused refresh token as theft). What ``bedside device sync`` and the clinician app
    both call."""
    refresh = node.refresh_token()
    if not refresh:
        raise DeviceError(NO_SIGN_IN)
    # Kept the moment it arrives, even if the answer then fails a check: the server has
    # already spent the old one (docs/auth.md "Refresh token rotation").
    tokens = remote.refresh(refresh, keep=node.set_refresh_token)
    if tokens.device != node.info.device_id:
        raise DeviceError(_OTHER_DEVICE)
    return tokens.access_token


def sync(
    node: Node, remote: Remote, token: str, *, progress: Progress | None = None
) -> SyncSummary:
    """Push, then pull. Raises DeviceError (a sentence) when the server cannot be used.

    When the server refuses, the device asks for its own status: a device flagged for wipe
    wipes itself there and then (docs/sync-protocol.md, "Common rules"), a revoked one says so.
    """
    clock = node.clock
    if remote.clock is not clock:
        clock.adopt(remote.clock)  # what the client learned already: its token refresh
        remote.clock = clock  # and whatever this sync's answers teach goes to the node
    clock.check()  # beyond MAX_SKEW: the sentence, before anything is sent
    summary = SyncSummary()
    try:
        push_glass(node, remote, token, summary)  # before any outbox event
        report_health(node, remote, token)  # today's posture, before the events it judges
        push(node, remote, token, summary, progress=progress)
        upload(node, remote, token, summary)
        send_choices(node, remote, token)  # withdrawals and merges the clinician chose
        pull(node, remote, token, summary, progress=progress)
        fetch_details(node, remote, token)  # the server's side of new review items
        node.mark_synced()
        report_health(node, remote, token)
    except DeviceError:
        _obey_status(node, remote, token, summary)
        raise
    finally:
        node.save_clock()
    if summary.skew_ms is None:
        summary.skew_ms = clock.skew_ms
    return summary


def report_health(node: Node, remote: Remote, token: str) -> bool:
    """Send the device's health report (:mod:`bedside.device.telemetry`); best effort: False
    when the server did not take it (an older server, a network drop), and the sync stands."""
    from bedside.device.posture import posture
    from bedside.device.telemetry import report

    body = report(node.status(), node.info.app_version, posture(node.home), node.clock())
    try:
        remote.report_telemetry(token, body)
    except DeviceError:
        return False
    return True


WIPED: Final = (
    "An administrator asked for this device to be wiped, so its data and keys have been erased. "
    "Enroll again to use it."
)
REVOKED: Final = "An administrator revoked this device. It can no longer sync; enroll again."


def _obey_status(node: Node, remote: Remote, token: str, summary: SyncSummary) -> None:
    """After a refusal: wipe if the server flagged this device for it, after draining what it
    can (:func:`drain_and_wipe`); name a revocation."""
    try:
        status = remote.device_status(token)
    except DeviceError:
        return  # the server cannot say: keep everything, the next sync asks again
    if status == "wipe":
        lost = drain_and_wipe(node, remote, token, summary)
        raise DeviceError(WIPED + (LOST.format(n=lost, s="s" if lost != 1 else "") if lost else ""))
    if status == "revoked":
        raise DeviceError(REVOKED) from None


LOST: Final = " {n} recorded action{s} could not be sent first and were lost with it."


def drain_and_wipe(
    node: Node, remote: Remote, token: str, summary: SyncSummary | None = None
) -> int:
    """Obey a wipe order: push what can be pushed (the server takes a wipe-flagged device's
    pushes, checked at commit as any), tell the server how many events were sent and how many
    never reached it (``POST /device/wiped``, best effort), then wipe. How many were lost.

    ``summary`` is the sync's so far: what its own push sent counts as sent before the wipe."""
    summary = summary if summary is not None else SyncSummary()
    with suppress(DeviceError):  # what could not go is counted below
        push_glass(node, remote, token, summary)
        push(node, remote, token, summary)
        upload(node, remote, token, summary)  # photos and documents of confirmed events
    outbox = node.status().outbox
    lost = int((outbox or {}).get("pending", 0)) + int((outbox or {}).get("sending", 0))
    if outbox is not None:  # locked: nothing can be counted, so nothing is claimed
        with suppress(DeviceError):  # else the registry says "not confirmed"; keys go anyway
            remote.report_wiped(token, sent=summary.sent, lost=lost)
    node.wipe()
    return lost


def push_glass(node: Node, remote: Remote, token: str, summary: SyncSummary) -> None:
    """Send the break-glass grants opened offline and the views under them, first
    (``POST /sync/break-glass``, :mod:`bedside.device.breakglass`); a refusal stops the sync."""
    grants, carried = node.glass_outgoing()
    if not grants:
        return
    summary.break_glass += node.glass_settle(remote.push_glass(token, grants), carried)


def push(
    node: Node,
    remote: Remote,
    token: str,
    summary: SyncSummary,
    *,
    progress: Progress | None = None,
    batch: int = MAX_EVENTS,
) -> None:
    total = (node.status().outbox or {}).get("pending", 0)  # a background read: not a use
    while True:
        with node.background() as s:
            entries = s.outbox.take(batch, at=s.clock())
        if not entries:
            return
        try:
            reply = _post_push(remote, token, entries, node)
        except PushTooLarge:  # past the server's push body limit: send half as many at a time
            _requeue(node, [e.seq for e in entries])
            if len(entries) == 1:
                raise DeviceError(TOO_LARGE) from None
            batch = len(entries) // 2
            continue
        except BaseException:
            _requeue(node, [e.seq for e in entries])  # unanswered: same keys next time
            raise
        summary.sent += len(entries)
        if reply.skew_ms is not None:
            summary.skew_ms = reply.skew_ms
        settled = _settle(node, entries, reply, summary)
        if progress is not None:
            progress("push", summary.sent, total)
        if not settled:
            return  # everything deferred: try again at the next sync, never spin


def _post_push(remote: Remote, token: str, entries: list[OutboxEntry], node: Node) -> Reply:
    sent = node.clock()
    reply = remote.push(token, Push(format_time(sent), [e.event for e in entries]))
    if reply.server_time is not None:  # stamped as the server answered; to the ms, Date to the s
        remote.clock.learn(reply.server_time, node.clock(), "push")
    return reply


def _requeue(node: Node, seqs: list[int]) -> None:
    """``sending`` events back to ``pending`` (deferred by the server, or unanswered)."""
    with node.background() as s:
        s.outbox.requeue(seqs, at=s.clock())


def _settle(node: Node, entries: list[OutboxEntry], reply: Reply, summary: SyncSummary) -> int:
    """Settle each answered event; requeue the deferred and the unanswered. How many settled."""
    again: list[int] = []
    answers: list[tuple[int, dict[str, Any]]] = []
    settled = 0
    for entry in entries:
        result = reply.results.get(entry.seq)
        state = result.get("state") if result else None
        if result is None or state == DEFERRED or state not in _STATES:
            again.append(entry.seq)
            summary.deferred += 1
            continue
        if result.get("idempotency_key") not in (None, entry.idempotency_key):
            raise DeviceError("The server answered for another event; the sync was stopped.")
        answers.append((entry.seq, {**result, "state": _STATES[state], "server_state": state}))
        settled += 1
        if state == CONFIRMED:
            summary.confirmed += 1
        elif state == MERGED:
            summary.merged += 1
        elif state == NEEDS_REVIEW:
            summary.needs_review += 1
        else:
            summary.rejected += 1
            if isinstance(result.get("reason"), str):
                summary.reasons.append(result["reason"])
    with node.background() as s:  # one transaction for the batch's answers
        s.outbox.settle_many(answers, at=s.clock())
    _requeue(node, again)
    return settled


#: Server result state -> outbox state.
_STATES: Final = {
    CONFIRMED: "confirmed",
    MERGED: "confirmed",
    NEEDS_REVIEW: "needs-review",
    REJECTED: "rejected",
}


def pull(
    node: Node,
    remote: Remote,
    token: str,
    summary: SyncSummary,
    *,
    progress: Progress | None = None,
    limit: int = MAX_LIMIT,
) -> None:
    since = node.sync_token()
    while True:
        page = remote.pull(token, PullRequest(since, limit))
        applied = node.apply_pull(page.body)
        summary.received += applied.received
        summary.deleted += applied.deleted
        summary.purged += applied.purged_patients
        summary.reviews_settled += applied.reviews
        summary.snapshot = summary.snapshot or applied.snapshot
        if progress is not None:
            progress("pull", summary.received, page.total)
        since = page.next
        if not page.more:
            return
