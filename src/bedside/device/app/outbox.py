"""Sync and outbox: "Sync now" with its progress, and every recorded item with its state.

The outbox page lists every event this device holds, grouped as the clinician needs them:
needing review and rejected first (each with the server's sentence), then those waiting to be
sent, then the confirmed ones. Nothing is ever dropped from the list by the app; only the
node's retention removes confirmed events, after the clinical grace.

``GET /status.json`` is what every page polls for its status strip (counts and times only,
and a background read of the node: polling never keeps the device awake).
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bedside.device.app import views
from bedside.device.app.pages import Pages, json_answer
from bedside.device.outbox import OutboxEntry

__all__ = ["GROUPS", "routes"]

#: (heading, states) in the order the page shows them
GROUPS: Final = (
    ("Needs review", ("needs-review",)),
    ("Rejected", ("rejected",)),
    ("Waiting to be sent", ("pending", "sending")),
    ("Confirmed", ("confirmed",)),
)


def _what(entry: OutboxEntry) -> str:
    resource: dict[str, Any] = entry.event.get("resource") or {}
    for key in ("code", "medicationCodeableConcept", "type"):
        text = views.concept(resource.get(key))
        if text:
            value = views.value_text(resource) if entry.type == "Observation" else ""
            return f"{text} {value}".strip()
    return entry.type


def routes(pages: Pages) -> list[Route]:
    node, syncer = pages.node, pages.syncer

    def show(request: Request) -> Response:
        entries = node.outbox()
        names = {p.id: p.display for p in node.patients()}
        groups = []
        for heading, states in GROUPS:
            rows = [
                {
                    "seq": e.seq,
                    "what": _what(e),
                    "type": e.type,
                    "id": e.resource_id,
                    "patient": e.patient,
                    "name": names.get(e.patient or "", "a patient no longer on this device"),
                    "recorded": views.moment(e.created),
                    "state": views.state_label(e.state),
                    "raw_state": e.state,
                    "reason": e.reason,
                }
                for e in reversed(entries)
                if e.state in states
            ]
            groups.append((heading, rows))
        return pages.render(
            request, "outbox", title="Sync and outbox", groups=groups, progress=syncer.progress
        )

    def start(request: Request) -> Response:
        refused = syncer.request()
        if "application/json" in request.headers.get("accept", ""):
            return json_answer({"started": refused is None, "message": refused or ""})
        if refused:
            pages.gate.flash(refused)
        return RedirectResponse("/sync", status_code=303)

    def progress(request: Request) -> Response:
        return json_answer(syncer.progress.to_json())

    def status(request: Request) -> Response:
        return json_answer(pages.strip())

    return [
        Route("/sync", show, methods=["GET"]),
        Route("/sync", start, methods=["POST"]),
        Route("/sync/progress", progress, methods=["GET"]),
        Route("/status.json", status, methods=["GET"]),
    ]
