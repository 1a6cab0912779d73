"""A needs-review or rejected item, explained, and the clinician's choice about it.

``GET /sync/item/<seq>`` shows, in plain words, what the clinician entered, what the server has
and who changed it (when the server let this device see its review item), the server's reason,
and what it means for the patient's care; then the choices (:mod:`bedside.device.reviews`):
keep it for the reviewer, withdraw it, or, for a mergeable record the user may change, resolve
it field by field. ``POST`` records the choice on the device; a withdrawal or a merge is sent at
the next sync and settled by the server like any review. Nothing leaves the outbox here.
"""

from __future__ import annotations

from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bedside.device.app.pages import Pages, form_of
from bedside.device.errors import DeviceError

__all__ = ["routes"]

_SAID: Final = {
    "keep": "Kept for the reviewer. It stays in the outbox until the server settles it.",
    "withdraw": "Withdrawn: at the next sync the server is asked to keep its own version.",
    "resolve": "Your choice is saved on the device and will be sent at the next sync.",
}


def _seq(request: Request) -> int:
    text = str(request.path_params["seq"])
    if not text.isdigit() or len(text) > 12:
        raise DeviceError("There is no such item in the outbox.")
    return int(text)


#: What a record type is called in the item's heading, where its FHIR name is not a word.
_KINDS: Final = {
    "DocumentReference": "Document",
    "Composition": "Document",
    "MedicationRequest": "Medicine order",
    "MedicationAdministration": "Medicine given",
}


def routes(pages: Pages) -> list[Route]:
    node = pages.node

    def page(
        request: Request, seq: int, errors: list[str] | None = None, status: int = 200
    ) -> Response:
        item = node.review_item(seq)
        names = {p.id: p.display for p in node.patients()}
        return pages.render(
            request,
            "review",
            status=status,
            title="Needs review" if item.state == "needs-review" else "Rejected",
            item=item,
            kind=_KINDS.get(item.type, item.type),
            who=names.get(item.patient or "", "a patient no longer on this device"),
            errors=errors or [],
        )

    def show(request: Request) -> Response:
        return page(request, _seq(request))

    async def choose(request: Request) -> Response:
        seq = _seq(request)
        form = await form_of(request)
        return await run_in_threadpool(decide, request, seq, form)

    def decide(request: Request, seq: int, form: dict[str, str]) -> Response:
        action = form.get("action", "")
        try:
            if action == "keep":
                node.acknowledge_review(seq)
            elif action == "withdraw":
                node.withdraw_review(seq)
            elif action == "resolve":
                picks = {k[5:]: v for k, v in form.items() if k.startswith("pick-")}
                node.resolve_review(seq, picks)
            else:
                raise DeviceError("Choose what to do with this item.")
        except DeviceError as exc:
            return page(request, seq, [str(exc)], 422)
        pages.gate.flash(_SAID[action])
        return RedirectResponse(f"/sync/item/{seq}", status_code=303)

    return [
        Route("/sync/item/{seq}", show, methods=["GET"]),
        Route("/sync/item/{seq}", choose, methods=["POST"]),
    ]
