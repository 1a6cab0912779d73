"""Pinning a patient to this device: the app's online-only action (issue 16, "How it runs").

A pin keeps a patient on the device beyond the automatic working set (a community nurse's home
visits, docs/device-offline.md). The server decides and records it (``PUT`` or ``DELETE
/device/pins/<id>``), and the device learns it from a fresh policy snapshot, so pinning needs
the network: with the server away the answer is one sentence, and nothing else changes.
"""

from __future__ import annotations

from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bedside.device.app.pages import Pages, form_of
from bedside.device.errors import DeviceError
from bedside.device.remote import Remote
from bedside.device.sync import access_token

__all__ = ["NEEDS_NETWORK", "routes"]

NEEDS_NETWORK: Final = (
    "Pinning needs the network, and the server cannot be reached now: try again when online."
)
_WRONG_PATIENT: Final = "This form was for another patient, so nothing was changed."


def routes(pages: Pages) -> list[Route]:
    node, syncer = pages.node, pages.syncer

    def change(pid: str, unpin: bool) -> str:
        """Pin or unpin ``pid`` on the server, then take the new snapshot; the sentence."""
        node.chart(pid, "Patient")  # a use of the device, and the patient must be reachable
        if not syncer.probe():
            return NEEDS_NETWORK
        try:
            with Remote(node.info.server, clock=node.clock) as remote:
                token = access_token(node, remote)
                if unpin:
                    remote.unpin(token, pid)
                else:
                    remote.pin(token, pid)
                node.apply_snapshot(remote.snapshot(token), remote.jwks())
        except DeviceError as exc:
            return str(exc)
        if unpin:
            return "Unpinned: this patient stays on the device only while they are yours."
        return "Pinned: this patient stays on this device."

    async def pin(request: Request) -> Response:
        pid = request.path_params["pid"]
        form = await form_of(request)
        if form.get("patient") != pid:
            said = _WRONG_PATIENT
        else:
            said = await run_in_threadpool(change, pid, form.get("action") == "unpin")
        pages.gate.flash(said)
        unpinned = form.get("action") == "unpin" and said.startswith("Unpinned")
        return RedirectResponse("/patients" if unpinned else f"/patients/{pid}", status_code=303)

    return [Route("/patients/{pid}/pin", pin, methods=["POST"])]
