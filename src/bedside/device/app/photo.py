"""Add a wound photo: take or pick an image, describe it, keep it only in the encrypted store.

``GET /patients/<id>/photo`` is the form: one ``<input type=file accept="image/*"
capture="environment">`` (a phone opens its camera, a desktop a file picker) and a short
description. ``POST`` arrives as ``multipart/form-data``, which the guard has read whole into
memory (up to :data:`~bedside.device.app.guard.MAX_PHOTO_BODY`) and which is parsed there too
(:mod:`~bedside.device.app.multipart`): the photo never touches the disk unencrypted.
:meth:`Node.attach_photo` checks it (an allowed image kind by its bytes, the size), then saves
the encrypted file, its DocumentReference and the signed event together (G1).

``GET /patients/<id>/photos/<attachment id>`` serves a photo of *this* patient back to the app
for its thumbnail (``Content-Disposition: inline``, ``Cache-Control: no-store`` from the guard):
never a download, never cached by the browser. Every read is logged by the node.
"""

from __future__ import annotations

from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bedside.device.app import multipart, views
from bedside.device.app.pages import Pages
from bedside.device.errors import DeviceError, Refused
from bedside.device.photos import Photo

__all__ = ["STATES", "captions", "routes"]

#: A photo's sync state in plain words (the chart's thumbnail caption).
STATES: Final = {
    "saved-on-device": "Saved on this device; it will be sent at the next sync.",
    "record-sent": "Record sent; the photo itself is sent at the next sync.",
    "sent": "Sent: the server has the photo. This device removes its copy later, as your "
    "organisation's policy sets.",
    "on-server-only": "Kept on the server only (removed from this device).",
    "not-accepted": "Not accepted by the server: see Sync and outbox.",
}
_WRONG_PATIENT: Final = (
    "This form was opened for another patient than the one this page is about, so nothing was "
    "saved. Open the patient's chart again and add the photo from there."
)
_MAX_TEXT: Final = 200


def routes(pages: Pages) -> list[Route]:
    node = pages.node

    def form_page(
        request: Request,
        pid: str,
        text: str = "",
        errors: list[str] | None = None,
        status: int = 200,
    ) -> Response:
        return pages.render(
            request,
            "photo",
            status=status,
            title="Add a wound photo",
            banner=pages.banner(pid),
            patient_id=pid,
            text=text,
            errors=errors or [],
            blocked=pages.can_record(),
        )

    def show(request: Request) -> Response:
        return form_page(request, request.path_params["pid"])

    async def save(request: Request) -> Response:
        pid = request.path_params["pid"]
        fields = multipart.parse(request.headers.get("content-type", ""), await request.body())
        text = (fields["description"].text if "description" in fields else "")[:_MAX_TEXT]
        photo = fields.get("photo")
        data = photo.data if photo is not None else b""
        return await run_in_threadpool(keep, request, pid, fields, text, data)

    def keep(
        request: Request, pid: str, fields: dict[str, multipart.Part], text: str, data: bytes
    ) -> Response:
        patient = fields.get("patient")
        if patient is None or patient.text != pid:
            return form_page(request, pid, text, [_WRONG_PATIENT], 409)
        blocked = pages.can_record()
        if blocked:
            return form_page(request, pid, text, [blocked], 403)
        try:
            node.attach_photo(pid, data, text)
        except Refused as exc:
            return form_page(request, pid, text, [str(exc)], 403)
        except DeviceError as exc:
            return form_page(request, pid, text, [str(exc)], 422)
        pages.gate.flash("Saved on device: wound photo. It will be sent at the next sync.")
        return RedirectResponse(f"/patients/{pid}", status_code=303)

    def image(request: Request) -> Response:
        pid, aid = request.path_params["pid"], request.path_params["aid"]
        if not any(p.attachment == aid and p.on_device for p in node.photos(pid)):
            raise DeviceError("This photo is not on this device for this patient.")
        content_type, data = node.attachment(aid)
        return Response(data, media_type=content_type, headers={"Content-Disposition": "inline"})

    return [
        Route("/patients/{pid}/photo", show, methods=["GET"]),
        Route("/patients/{pid}/photo", save, methods=["POST"]),
        Route("/patients/{pid}/photos/{aid}", image, methods=["GET"]),
    ]


def captions(photos: list[Photo]) -> list[tuple[Photo, str, str]]:
    """Each photo with when it was taken and its sync state, in words, for the chart."""
    return [
        (p, views.moment(views.parse_when(p.date)), STATES.get(p.state, p.state)) for p in photos
    ]
