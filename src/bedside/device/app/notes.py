"""Progress notes: written from the chart, kept as a draft while typed, recorded when finished.

``GET /patients/<id>/notes/new`` opens the note form. The patient's most recent note draft comes
back in it (``?draft=<id>`` opens a particular one, ``?fresh=1`` a new note beside them). While
the clinician types, the page's script posts the text to ``/patients/<id>/notes/draft`` every
:data:`TICK_SECONDS` seconds after a change, and at once when the page is hidden or left
(``visibilitychange``, ``pagehide``): so an idle lock, a closed window or a killed app loses at
most the last tick's typing. Without the script, "Save draft" does the same by a plain post.
Drafts live only in the encrypted store (:mod:`bedside.device.drafts`) and are listed on the
chart.

"Finish note" keeps the last text in the draft and records it through the outbox in the same
transaction that marks the draft recorded (:func:`bedside.device.drafts.record_draft`): the
note is on the device at once, sent at the next sync, and rechecked by the server (G1, G3).

Each form carries a random ``key`` made when it is rendered: the first autosave makes the
draft, and the key finds it again for a save that was sent before that answer came back, so
one form never makes two drafts.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from typing import Any, Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bedside.device.app import views
from bedside.device.app.pages import Pages, form_of, json_answer
from bedside.device.chart import ChartItem
from bedside.device.drafts import Draft
from bedside.device.errors import DeviceError
from bedside.device.node import Node
from bedside.device.notes import (
    MAX_NOTE,
    MAX_TITLE,
    is_note_draft,
    note_resource,
    note_text,
    note_title,
    signable,
)

__all__ = ["TICK_SECONDS", "panel", "routes"]

#: Autosave: the page keeps the text this many seconds after a change (docs/clinician-app.md).
TICK_SECONDS: Final = 2
_WRONG_PATIENT: Final = (
    "This note was opened for another patient than the one this page is about, so nothing was "
    "saved. Open the patient's chart again and write the note from there."
)
_EMPTY: Final = "Write the note before finishing it. Nothing was recorded."
_TOO_LONG: Final = (
    f"A note can hold up to {MAX_NOTE:,} characters. Shorten it, or finish this note and "
    "continue in a second one. Your text is still in the form."
)
_NOT_A_NOTE: Final = "This draft is not a note of this patient."
_KEYS: Final = 256  # form keys remembered (each names one draft)


def _preview(text: str, size: int = 80) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= size else flat[: size - 1].rstrip() + "…"


def panel(node: Node, pid: str, items: list[ChartItem]) -> dict[str, Any]:
    """What the chart shows about notes: the drafts to continue, the documents to sign off
    (only when the snapshot lets this user sign off), and whether notes can be written."""
    drafts = [d for d in node.drafts(pid) if is_note_draft(d.resource)]
    shown = [
        {
            "id": d.id,
            "title": note_title(d.resource),
            "preview": _preview(note_text(d.resource)) or "No text yet",
            "updated": d.updated,
        }
        for d in drafts
    ]
    unsigned = [
        {"type": i.type, "id": i.id, "title": note_title(i.resource)}
        for i in items
        if signable(i.resource)
        and node.may("update", i.type)
        and not str(i.id).startswith("pending:")
    ]
    return {
        "drafts": shown,
        "to_sign": unsigned,
        "may_write": node.may("create", "DocumentReference"),
    }


def routes(pages: Pages) -> list[Route]:
    node = pages.node
    keys: OrderedDict[str, str] = OrderedDict()  # form key -> draft id
    keys_lock = threading.Lock()

    def latest(pid: str) -> Draft | None:
        return next((d for d in node.drafts(pid) if is_note_draft(d.resource)), None)

    def form_page(
        request: Request,
        pid: str,
        *,
        text: str = "",
        title: str = "",
        draft: str = "",
        restored: bool = False,
        errors: list[str] | None = None,
        status: int = 200,
    ) -> Response:
        return pages.render(
            request,
            "note",
            status=status,
            title="Write a note",
            banner=pages.banner(pid),
            patient_id=pid,
            text=text,
            note_title=title,
            draft=draft,
            key=secrets.token_urlsafe(16),
            restored=restored,
            errors=errors or [],
            blocked=pages.can_record(),
            tick=TICK_SECONDS,
            max_note=MAX_NOTE,
            max_title=MAX_TITLE,
        )

    def show(request: Request) -> Response:
        pid = request.path_params["pid"]
        wanted = request.query_params.get("draft")
        found: Draft | None
        if wanted:
            found = node.resume_draft(wanted)
            if found.patient != pid or not is_note_draft(found.resource):
                raise DeviceError(_NOT_A_NOTE)
        elif request.query_params.get("fresh"):
            found = None
        else:
            found = latest(pid)
        if found is None:
            return form_page(request, pid)
        return form_page(
            request,
            pid,
            text=note_text(found.resource),
            title=str(found.resource.get("description") or ""),
            draft=found.id,
            restored=True,
        )

    def keep(pid: str, text: str, title: str, draft: str | None, key: str) -> str:
        """Save the note as a draft (the one ``draft`` or ``key`` names, else a new one)."""
        with keys_lock:
            draft = draft or keys.get(key)
            resource = note_resource(
                pid, text, title=title, author=node.practitioner(), at=node.clock()
            )
            try:
                saved = node.save_draft(resource, patient=pid, draft_id=draft)
            except DeviceError:
                if draft is None:
                    raise
                saved = node.save_draft(resource, patient=pid)  # it went meanwhile: anew
            if key:
                keys[key] = saved
                keys.move_to_end(key)
                while len(keys) > _KEYS:
                    keys.popitem(last=False)
            return saved

    def fields(source: dict[str, Any]) -> tuple[str, str, str | None, str]:
        text = str(source.get("text") or "").replace("\r\n", "\n")
        title = " ".join(str(source.get("title") or "").split())[:MAX_TITLE]
        draft = str(source.get("draft") or "") or None
        return text, title, draft, str(source.get("key") or "")[:64]

    async def autosave(request: Request) -> Response:
        pid = request.path_params["pid"]
        body = await request.json()
        if not isinstance(body, dict) or body.get("patient") != pid:
            return json_answer({"message": _WRONG_PATIENT}, 409)
        text, title, draft, key = fields(body)
        if len(text) > MAX_NOTE:
            return json_answer({"message": _TOO_LONG}, 422)
        saved = await run_in_threadpool(keep, pid, text, title, draft, key)
        return json_answer(
            {
                "draft": saved,
                "message": f"Draft kept on this device at {views.moment(node.clock())}.",
                "locks_in": pages.strip().get("locks_in"),
            }
        )

    async def submit(request: Request) -> Response:
        pid = request.path_params["pid"]
        form = await form_of(request)
        return await run_in_threadpool(act, request, pid, form)

    def act(request: Request, pid: str, form: dict[str, str]) -> Response:
        text, title, draft, key = fields(form)

        def again(error: str, status: int) -> Response:
            return form_page(
                request,
                pid,
                text=text,
                title=title,
                draft=draft or "",
                errors=[error],
                status=status,
            )

        if form.get("patient") != pid:
            return again(_WRONG_PATIENT, 409)
        intent = form.get("intent") or "finish"
        if intent == "discard":
            if draft:
                node.discard_draft(draft)
            pages.gate.flash("The note draft was discarded.")
            return RedirectResponse(f"/patients/{pid}", status_code=303)
        if len(text) > MAX_NOTE:
            return again(_TOO_LONG, 422)
        if intent == "draft":
            keep(pid, text, title, draft, key)
            pages.gate.flash("Your note is kept as a draft on this device. Open it from the chart.")
            return RedirectResponse(f"/patients/{pid}", status_code=303)
        if not text.strip():
            return again(_EMPTY, 422)
        saved = keep(pid, text, title, draft, key)  # kept first: a refusal loses nothing
        blocked = pages.can_record()
        if blocked:
            return form_page(
                request, pid, text=text, title=title, draft=saved, errors=[blocked], status=403
            )
        node.record_draft(saved)
        pages.gate.flash(
            f"Saved on device: {title or 'Progress note'}. It will be sent at the next sync."
        )
        return RedirectResponse(f"/patients/{pid}", status_code=303)

    return [
        Route("/patients/{pid}/notes/new", show, methods=["GET"]),
        Route("/patients/{pid}/notes", submit, methods=["POST"]),
        Route("/patients/{pid}/notes/draft", autosave, methods=["POST"]),
    ]
