"""What sync does for review items: send the clinician's queued choices, fetch the server's side.

Run by :func:`bedside.device.sync.sync`: :func:`send_choices` after the push (so a withdrawal
or merge is settled on the server before the pull brings its outcome back), and
:func:`fetch_details` after the pull (the server's review item for each new needs-review event:
its value, the differing fields, who changed it). Both are best effort: when the server cannot
be reached the choices stay queued and the details are fetched at a later sync; nothing here
changes or deletes an outbox event (the outcome settles it, at a pull, as for any review).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from bedside.device.errors import DeviceError
from bedside.device.remote import Remote

if TYPE_CHECKING:
    from bedside.device.node import Node

__all__ = ["fetch_details", "send_choices"]

_REFUSED: Final = "The server did not take your choice"


def send_choices(node: Node, remote: Remote, token: str) -> int:
    """POST each queued choice to ``/review/{id}/resolve``; how many the server took."""
    taken = 0
    for seq, action in sorted(node.review_choices().items()):
        body = {k: action[k] for k in ("keep", "resource", "version") if action.get(k) is not None}
        try:
            response = remote.request(
                "POST", f"{remote.root}/review/{action['review']}/resolve", token=token, json=body
            )
        except DeviceError:
            return taken  # offline again: the choices wait for the next sync
        if response.status_code == 200:
            node.review_choice_done(seq, None)
            taken += 1
        elif response.status_code in (401, 429) or response.status_code >= 500:
            return taken  # not an answer about the choice: ask again next time
        else:
            node.review_choice_done(seq, f"{_REFUSED}: {_sentence(response)}")
    return taken


def fetch_details(node: Node, remote: Remote, token: str) -> int:
    """Store the server's review item for needs-review events that lack it; how many."""
    stored = 0
    for seq, review in node.reviews_to_fetch():
        try:
            response = remote.request("GET", f"{remote.root}/review/{review}", token=token)
        except DeviceError:
            break
        if response.status_code != 200:
            continue  # not this user's to see: the item shows the server's reason only
        try:
            detail = response.json()
        except ValueError:
            continue
        if isinstance(detail, dict):
            node.store_review_detail(seq, detail)
            stored += 1
    node.close_settled_reviews()
    return stored


def _sentence(response: object) -> str:
    try:
        body = response.json()  # type: ignore[attr-defined]
    except ValueError:
        return "it gave no reason."
    issues = body.get("issue") if isinstance(body, dict) else None
    if isinstance(issues, list) and issues and isinstance(issues[0], dict):
        text = issues[0].get("diagnostics")
        if isinstance(text, str) and text:
            return text
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return "it gave no reason."
