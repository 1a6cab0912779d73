"""Sign-off: a doctor makes a note or a discharge summary final, from the chart.

``GET /patients/<id>/sign-off/<type>/<rid>`` shows the document (its title, author, date and
text) and, for a user whose snapshot allows updating that type, the "Sign off" button; a user
without it (a nurse, by the default policy) is never offered the action, and a post from one
is refused with a sentence. Which users may sign is read from the policy snapshot the device
holds (:meth:`bedside.device.node.Node.may`), never from a role name.

``POST`` records the signed-off version (:func:`bedside.device.notes.signed_off`) through the
outbox like any write (G1). A sign-off is of the exclusive class (``[sync.conflicts]
sign_off``): the server applies it only if it is based on the current version, so of two
doctors signing the same document offline one is signed and the other goes to review. The page
and the confirmation say so plainly: "This sign-off will be checked when the device syncs".
"""

from __future__ import annotations

from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bedside.device.app import views
from bedside.device.app.pages import Pages, form_of
from bedside.device.chart import ChartItem
from bedside.device.errors import DeviceError, Refused
from bedside.device.index import display_of
from bedside.device.notes import SIGNABLE, note_text, note_title, signable, signed_off

__all__ = ["CHECKED_AT_SYNC", "routes"]

CHECKED_AT_SYNC: Final = (
    "This sign-off will be checked when the device syncs. If someone else signed this document "
    "off or changed it first, yours goes to the review queue instead of being applied twice."
)
_NOT_ALLOWED: Final = "Your access does not include signing documents off, so nothing was recorded."
_DONE_ALREADY: Final = "This document is already signed off, so nothing was recorded."
_NOT_A_DOCUMENT: Final = "Only a note or a discharge summary can be signed off."
_NOT_THIS_PATIENT: Final = (
    "This document does not belong to the patient whose chart is open, so it is not shown here."
)
_WRONG_PATIENT: Final = (
    "This sign-off was opened for another patient than the one this page is about, so nothing "
    "was recorded. Open the patient's chart again and sign off from there."
)


def routes(pages: Pages) -> list[Route]:
    node = pages.node

    def who(ref: dict[str, Any]) -> str:
        """An author in words: "You", a name the device holds, or what the record says."""
        target = str(ref.get("reference") or "")
        if target and target == node.practitioner():
            return "You"
        if ref.get("display"):
            return str(ref["display"])
        kind, _, rid = target.partition("/")
        if kind in ("Practitioner", "PractitionerRole") and rid:
            try:
                name = display_of(node.read(kind, rid).resource)[0]
            except DeviceError:
                name = None
            if name:
                return name
            return "A colleague whose details are not on this device"
        return target or "not stated in the record"

    def document(pid: str, rtype: str, rid: str) -> ChartItem:
        if rtype not in SIGNABLE:
            raise DeviceError(_NOT_A_DOCUMENT)
        found = node.read(rtype, rid)
        if found.patient != pid:
            raise DeviceError(_NOT_THIS_PATIENT)
        return found

    def page(
        request: Request, found: ChartItem, *, errors: list[str] | None = None, status: int = 200
    ) -> Response:
        pid = str(found.patient)
        resource = found.resource
        authors = [who(a) for a in resource.get("author") or () if isinstance(a, dict)]
        when = views.parse_when(resource.get("date"))
        return pages.render(
            request,
            "signoff",
            status=status,
            title="Sign off",
            banner=pages.banner(pid),
            patient_id=pid,
            item=found,
            heading=note_title(resource),
            text=note_text(resource),
            authors=", ".join(a for a in authors if a) or "not stated in the record",
            written=views.moment(when) if when else "not stated in the record",
            open=signable(resource),
            allowed=node.may("update", found.type),
            offline=pages.syncer.online is not True,
            checked=CHECKED_AT_SYNC,
            blocked=pages.can_record(),
            errors=errors or [],
        )

    def show(request: Request) -> Response:
        p = request.path_params
        return page(request, document(p["pid"], p["type"], p["rid"]))

    async def sign(request: Request) -> Response:
        form = await form_of(request)
        return await run_in_threadpool(record, request, form)

    def record(request: Request, form: dict[str, str]) -> Response:
        p = request.path_params
        found = document(p["pid"], p["type"], p["rid"])
        if form.get("patient") != p["pid"]:
            return page(request, found, errors=[_WRONG_PATIENT], status=409)
        if not node.may("update", found.type):
            raise Refused(_NOT_ALLOWED)
        if not signable(found.resource):
            return page(request, found, errors=[_DONE_ALREADY], status=409)
        blocked = pages.can_record()
        if blocked:
            return page(request, found, errors=[blocked], status=403)
        signed = signed_off(found.resource, node.practitioner(), at=node.clock())
        node.record("update", signed, found.patient)
        pages.gate.flash(
            f"Signed off on this device: {note_title(found.resource)}. {CHECKED_AT_SYNC}"
        )
        return RedirectResponse(f"/patients/{p['pid']}", status_code=303)

    return [
        Route("/patients/{pid}/sign-off/{type}/{rid}", show, methods=["GET"]),
        Route("/patients/{pid}/sign-off/{type}/{rid}", sign, methods=["POST"]),
    ]
