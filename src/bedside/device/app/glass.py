"""Break-glass in the app: a patient outside the working set is refused in plain words, and,
where the policy allows it offline, opened with the PIN again and a typed reason.

``GET /break-glass`` asks for the patient (their id, or their whole name when this device
still holds them: never a partial match, so nobody is hinted at); the chart of a patient the
policy does not reach answers 403 with :func:`refused`: why, what this device holds for them
(often nothing), and the break-glass form when it may open. ``POST /patients/{id}/break-glass``
checks the PIN (a counted attempt, as at unlock) and the reason, opens the grant
(:meth:`bedside.device.node.Node.break_glass`), asks for a sync at once when online, and goes
to the chart. The reason is never put in a URL, a flash or a log.
"""

from __future__ import annotations

import re
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bedside.device.app.pages import Pages, form_of
from bedside.device.breakglass import MAX_REASON
from bedside.device.errors import DeviceError, KeysLocked, WrongPin
from bedside.device.node_glass import GlassState

__all__ = ["held_text", "refused", "routes"]

_MAX_FIND: Final = 100
_FHIR_ID: Final = re.compile(r"^[A-Za-z0-9.-]{1,64}$")
_NOT_HELD: Final = (
    "No patient with that id or full name is on this device. Enter their Bedside patient id "
    "(for example from the wristband or the ward list) to ask for break-glass."
)
_NOT_YOURS: Final = (
    "This patient is not among your patients, so this device will not open their record."
)


def held_text(state: GlassState) -> str:
    """What this device holds for the patient, honestly."""
    if state.held == 0:
        return (
            "This device holds no records for this patient, so their chart here will be "
            "empty: break-glass on a device shows only what the device holds. Their full "
            "record opens only online."
        )
    return (
        f"This device still holds {state.held} record{'s' if state.held != 1 else ''} for this "
        "patient from earlier. Break-glass shows only those; anything newer is on the server."
    )


def refused(
    pages: Pages,
    request: Request,
    pid: str,
    *,
    error: str = "",
    status: int = 403,
    reason: str = "",
) -> Response:
    """The refusal page for a patient outside the working set (with the break-glass form when
    the policy allows it now)."""
    state = pages.node.glass(pid)
    return pages.render(
        request,
        "glass",
        status=status,
        title="Not among your patients",
        patient_id=None,
        target=pid,
        state=state,
        refused_text=_NOT_YOURS,
        held_text=held_text(state),
        error=error,
        reason=reason[:MAX_REASON],  # kept when the PIN was wrong: nothing typed is lost
        max_reason=MAX_REASON,
    )


def routes(pages: Pages) -> list[Route]:
    node = pages.node

    def ask(request: Request, error: str = "", status: int = 200) -> Response:
        return pages.render(
            request, "glass_find", status=status, title="Another patient", error=error
        )

    def show(request: Request) -> Response:
        return ask(request)

    async def find(request: Request) -> Response:
        form = await form_of(request)
        text = str(form.get("patient") or "").strip()[:_MAX_FIND]
        if not text:
            return ask(request, "Enter the patient's id or full name.", 400)
        pid = await run_in_threadpool(node.held_patient, text)
        if pid is None:
            if not _FHIR_ID.match(text):
                return ask(request, _NOT_HELD, 404)
            pid = text
        return RedirectResponse(f"/patients/{pid}", status_code=303)

    def form_page(request: Request) -> Response:
        pid = request.path_params["pid"]
        if node.glass(pid).reached:
            return RedirectResponse(f"/patients/{pid}", status_code=303)
        return refused(pages, request, pid, status=200)

    async def open_glass(request: Request) -> Response:
        pid = request.path_params["pid"]
        form = await form_of(request)
        pin, reason = str(form.get("pin") or ""), str(form.get("reason") or "")
        if not pin:
            return refused(
                pages, request, pid, error="Enter your PIN again.", status=400, reason=reason
            )
        try:
            await run_in_threadpool(node.break_glass, pid, pin, reason)  # argon2id
        except WrongPin as exc:
            return refused(pages, request, pid, error=str(exc), status=401, reason=reason)
        except KeysLocked:
            raise
        except DeviceError as exc:
            return refused(pages, request, pid, error=str(exc), status=409, reason=reason)
        if pages.syncer.online:  # immediate sync when possible: the grant goes first
            await run_in_threadpool(pages.syncer.request)
        pages.gate.flash(
            "Break-glass is open. Everything you view is recorded and will be reviewed."
        )
        return RedirectResponse(f"/patients/{pid}", status_code=303)

    return [
        Route("/break-glass", show, methods=["GET"]),
        Route("/break-glass", find, methods=["POST"]),
        Route("/patients/{pid}/break-glass", form_page, methods=["GET"]),
        Route("/patients/{pid}/break-glass", open_glass, methods=["POST"]),
    ]
