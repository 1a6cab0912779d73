"""Rendering: the templates, the status strip every page carries, and device errors as pages.

:class:`Pages` holds what every screen needs (the node, the gate, the syncer) and renders a
template with the common context: the CSRF token, the offline mode and what it allows, online
or offline, the last sync and how many items wait, when the idle lock comes, and any flash
sentence. The one place device errors become HTTP answers is :meth:`Pages.error`: a locked
device sends the browser to the unlock page (keeping where it was, by path: ids only, no
PHI), a refusal is a 403 with the policy's sentence, anything else a 409 with its sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final
from urllib.parse import parse_qsl, quote

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bedside.device.app import views
from bedside.device.app.gate import Gate
from bedside.device.app.summary import Banner, banner_of
from bedside.device.app.syncer import Syncer
from bedside.device.errors import DeviceError, KeysLocked, Locked, NotEnrolled, Refused
from bedside.device.node import Node
from bedside.device.status import Status

__all__ = ["Pages", "form_of", "json_answer", "safe_next"]

_NEXT: Final = re.compile(r"^/[A-Za-z0-9/_.-]*$")
_MODES: Final = {
    "normal": "You can read and record.",
    "read-only": "Read-only: this device's offline access has expired, so you can read but not "
    "record until it syncs.",
    "locked": "Locked: this device's offline access has run out. Sign in online to use it.",
}


_BLOCKING: Final = frozenset({"no-new-documentation", "read-only", "wipe"})


def _mode_text(mode: str | None, status: Status) -> str:
    if mode == "normal":
        return f"You can record until {views.moment(status.snapshot_expires)}."
    return _MODES.get(mode or "", "Locked: enter your PIN to continue.")


def safe_next(path: str | None) -> str:
    """A local path to return to after unlocking (never another site, never a query)."""
    if path and _NEXT.match(path) and not path.startswith("//") and path != "/unlock":
        return path
    return "/patients"


async def form_of(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (what the app's forms send), one value per
    name; anything else is an empty form."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        return {}
    pairs = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
    out: dict[str, str] = {}
    for name, value in pairs:
        out.setdefault(name, value)
    return out


def json_answer(body: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(body), status_code=status, media_type="application/json")


@dataclass
class Pages:
    node: Node
    gate: Gate
    syncer: Syncer
    home: Path

    def __post_init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader("bedside.device.app", "templates"),
            autoescape=select_autoescape(["html"]),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.globals.update(moment=views.moment, since=views.since)

    def strip(self) -> dict[str, Any]:
        """The status strip (counts and times only: it is polled by every page)."""
        try:
            status = self.node.status()
        except DeviceError:  # wiped, or a damaged key file: a page must still say so
            return {"unlocked": False, "mode": None, "mode_text": _MODES["locked"], "online": None}
        now = self.node.clock()  # the device's time, as the node's own deadlines
        if not status.unlocked:  # the store is closed: no count or time would be true
            return {
                "unlocked": False,
                "mode": None,
                "mode_text": "Locked: enter your PIN to continue.",
                "online": self.syncer.online,
                "locks_in": None,
            }
        outbox = status.outbox or {}
        mode = status.mode
        try:
            posture_step, posture_text = self.node.posture_step()  # graduated compliance
        except DeviceError:
            posture_step, posture_text = "none", ""
        last = views.parse_when(status.last_sync)
        return {
            "unlocked": status.unlocked,
            "mode": mode,
            "mode_text": (
                "Recording is blocked on this device: see the security notice."
                if mode == "normal" and posture_step in _BLOCKING
                else _mode_text(mode, status)
            ),
            "record_until": views.moment(status.snapshot_expires),
            "online": self.syncer.online,
            "last_sync": views.since(last, now) if last else "never",
            "waiting": outbox.get("pending", 0) + outbox.get("sending", 0),
            "review": outbox.get("needs-review", 0),
            "rejected": outbox.get("rejected", 0),
            "locks_in": max(0, round(status.locks_at - now)) if status.locks_at else None,
            "posture_step": posture_step,
            "posture": posture_text,
        }

    def banner(self, pid: str) -> Banner:
        """The patient banner every screen about one patient shows (name, born, allergies)."""
        return banner_of(
            pid, self.node.chart(pid, "Patient") + self.node.chart(pid, "AllergyIntolerance")
        )

    def render(
        self, request: Request, name: str, *, status: int = 200, **context: Any
    ) -> HTMLResponse:
        html = self.env.get_template(f"{name}.html").render(
            csrf=self.gate.csrf,
            now=self.node.clock(),  # "how long ago" by the device's clock
            strip=self.strip(),
            flash=self.gate.take_flash(),
            path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=status)

    def can_record(self, status: Status | None = None) -> str | None:
        """None when recording is allowed now, else the sentence why not (read-only)."""
        status = status or self.node.status()
        if status.mode == "normal":
            try:  # graduated compliance: the device's posture may block new records
                return self.node.posture_blocks()
            except DeviceError:
                return None
        return _MODES.get(status.mode or "", _MODES["locked"])

    def error(self, request: Request, exc: Exception) -> Response:
        """A device error as the answer to ``request`` (see the module docstring)."""
        wants_json = "application/json" in request.headers.get("accept", "")
        if isinstance(exc, Locked | KeysLocked):
            target = "/unlock"
            back = safe_next(request.url.path)
            if request.method == "GET" and back != "/patients":
                target += "?next=" + quote(back, safe="/")
            if wants_json:
                return json_answer({"locked": True, "unlock": target, "message": str(exc)}, 401)
            return RedirectResponse(target, status_code=303)
        message = str(exc) if isinstance(exc, DeviceError) else "Something went wrong."
        code = 403 if isinstance(exc, Refused) else 409
        if isinstance(exc, NotEnrolled):
            code = 409
        if wants_json:
            return json_answer({"message": message}, code)
        return self.render(request, "problem", status=code, title="Not possible", message=message)
