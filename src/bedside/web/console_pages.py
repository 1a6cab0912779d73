"""``/console``: the governance console's pages (docs/console.md), on the shared first-party
sign-in (:mod:`bedside.web.first_party`). Each route parses, calls the caller-bound
:class:`~bedside.console.service.Console` and renders; the service checks roles and audits.

Anything naming a patient travels in a POST body, never a URL: the audit search is a POSTed
form and "Show patient" is a POST (it is an audited act, not a link a browser may prefetch).
Every change is CSRF-checked; every page carries ``Cache-Control: no-store``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from bedside.audit.entry import Auditor
from bedside.auth.browser_sessions import BrowserSession
from bedside.auth.server import AuthServer
from bedside.console.roles import CONSOLE_ROLES, pages_for
from bedside.console.service import Console
from bedside.errors import Conflict, CsrfRefused, FhirError, InvalidRequest
from bedside.policy.breakglass import OUTCOMES
from bedside.policy.decide import Policy
from bedside.store.base import Store
from bedside.upstream.config import UpstreamConfig
from bedside.web.first_party import APP_HEADERS, AppSpec, FirstPartyApp

__all__ = ["SPEC", "ConsolePages", "Page"]

SPEC: Final = AppSpec(
    client_id="bedside-console",
    name="Bedside governance console",
    mount="/console",
    scope="openid fhirUser online_access",
    roles=CONSOLE_ROLES,
    refused="The governance console is for governance, security and clinical-safety staff.",
)
_TITLES: Final = {
    "overview": "Overview",
    "break-glass": "Break-glass review",
    "conflicts": "Conflict review queue",
    "devices": "Devices",
    "audit": "Audit trail",
    "upstream": "Upstream feeds",
}
_HEADERS: Final = APP_HEADERS
#: What the item page says after a change (``?done=``): nothing from the URL is echoed.
_DONE: Final = {
    "device": "Resolved: the device's version was written; the device learns it at its next sync.",
    "server": "Resolved: the server's version was kept; the device learns its change was not kept.",
    "merged": "Resolved: the merge was written; the device learns it at its next sync.",
    "defer": "Deferred: the item waits in its queue with your note.",
}
_SEARCH: Final = (("patient", "patient"), ("agent", "user"), ("device", "device"))
_templates = Environment(
    loader=PackageLoader("bedside.web", "templates"), autoescape=select_autoescape(["html"])
)
Page = Callable[[Request, BrowserSession, Console], Awaitable[Response]]


def _when(value: float | str | None) -> str:
    """UNIX seconds or a FHIR instant, as "03 Dec 2026 15:35 UTC"."""
    if value is None or value == "":
        return "never"
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    else:
        moment = datetime.fromtimestamp(value, UTC)
    return moment.astimezone(UTC).strftime("%d %b %Y %H:%M UTC")


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(seconds)
    if s < 3600:
        return f"{s // 60} min"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60} min"
    return f"{s // 86400} days"


_templates.filters["when"] = _when
_templates.filters["age"] = _age


class ConsolePages:
    def __init__(
        self,
        store: Store,
        auth: AuthServer,
        policy: Policy,
        auditor: Auditor,
        sources: UpstreamConfig | None = None,
    ) -> None:
        self.sources = sources
        self.store = store
        self.auth = auth
        self.policy = policy
        self.auditor = auditor
        self.app = FirstPartyApp(SPEC, auth, store)

    def routes(self) -> list[Route]:
        m = SPEC.mount
        page = self._page
        return [
            *self.app.routes(),
            Route(f"{m}/", page(self.overview), methods=["GET"]),
            Route(f"{m}/break-glass", page(self.break_glass), methods=["GET"]),
            Route(f"{m}/break-glass/{{grant_id}}/show", page(self.reveal, True), methods=["POST"]),
            Route(f"{m}/break-glass/{{grant_id}}/close", page(self.close, True), methods=["POST"]),
            Route(f"{m}/conflicts", page(self.conflicts), methods=["GET"]),
            Route(f"{m}/conflicts/{{item_id}}", page(self.conflict), methods=["GET"]),
            Route(f"{m}/conflicts/{{item_id}}/resolve", page(self.resolve, True), methods=["POST"]),
            Route(f"{m}/conflicts/{{item_id}}/defer", page(self.defer, True), methods=["POST"]),
            Route(f"{m}/devices", page(self.devices), methods=["GET"]),
            Route(f"{m}/devices/{{device_id}}", page(self.device), methods=["GET"]),
            Route(
                f"{m}/devices/{{device_id}}/{{change}}", page(self.change, True), methods=["POST"]
            ),
            Route(f"{m}/audit", page(self.audit), methods=["GET", "POST"]),
            Route(f"{m}/audit/export", page(self.export, True), methods=["POST"]),
            Route(f"{m}/audit/chain", page(self.chain), methods=["GET"]),
            Route(f"{m}/upstream", page(self.upstream), methods=["GET"]),
        ]

    # --- the frame every page shares -------------------------------------------------------

    def _page(
        self, handler: Page, changes: bool = False
    ) -> Callable[[Request], Awaitable[Response]]:
        async def route(request: Request) -> Response:
            session = await self.app.session(request)
            if session is None:
                return self.app.sign_in_redirect(request)
            console = Console(
                self.store,
                self.policy,
                self.auditor,
                session.caller,
                self.auth.config.fhir_base,
                self.sources,
            )
            try:
                if changes or request.method == "POST":
                    form = await self.app.form(request)
                    self.app.check_csrf(request, session, form)
                    request.state.form = form
                return await handler(request, session, console)
            except CsrfRefused as exc:
                return self.app.message("Not changed", str(exc), status=403, alert=True)
            except FhirError as exc:
                status = exc.status if exc.status < 500 else 500
                return self._render(
                    "console_message.html", session, "Cannot do that", status, message=exc.message
                )

        return route

    def _render(
        self, template: str, session: BrowserSession, title: str, status: int = 200, **ctx: Any
    ) -> Response:
        html = _templates.get_template(template).render(
            title=title,
            titles=_TITLES,
            pages=pages_for(session.caller.role),
            csrf=session.csrf,
            mount=SPEC.mount,
            role=session.caller.role,
            **ctx,
        )
        return HTMLResponse(html, status_code=status, headers=_HEADERS)

    @staticmethod
    def _form(request: Request) -> FormData:
        form: FormData = request.state.form
        return form

    # --- pages -------------------------------------------------------------------------------

    async def overview(self, request: Request, session: BrowserSession, c: Console) -> Response:
        figures = await run_in_threadpool(c.overview)
        hours = figures["break_glass"]["per_hour"]
        top = max([h["count"] for h in hours] + [1])
        return self._render(
            "console_overview.html", session, "Overview", figures=figures, hours=hours, top=top
        )

    async def upstream(self, request: Request, session: BrowserSession, c: Console) -> Response:
        shown = await run_in_threadpool(c.upstream)
        return self._render("console_upstream.html", session, "Upstream feeds", feeds=shown)

    async def break_glass(self, request: Request, session: BrowserSession, c: Console) -> Response:
        status = request.query_params.get("status", "open")
        items = await run_in_threadpool(c.break_glass, status)
        return self._render(
            "console_break_glass.html",
            session,
            "Break-glass review",
            items=items,
            listing=status,
            outcomes=OUTCOMES,
            shown=None,
        )

    async def reveal(self, request: Request, session: BrowserSession, c: Console) -> Response:
        shown = await run_in_threadpool(c.reveal, request.path_params["grant_id"])
        items = await run_in_threadpool(c.break_glass, "all")
        return self._render(
            "console_break_glass.html",
            session,
            "Break-glass review",
            items=items,
            listing="all",
            outcomes=OUTCOMES,
            shown=shown,
        )

    async def close(self, request: Request, session: BrowserSession, c: Console) -> Response:
        form = self._form(request)
        note = str(form.get("note", "")).strip() or None
        outcome = str(form.get("outcome", ""))
        await run_in_threadpool(c.close, request.path_params["grant_id"], outcome, note)
        return RedirectResponse(f"{SPEC.mount}/break-glass?status=closed", status_code=303)

    async def conflicts(self, request: Request, session: BrowserSession, c: Console) -> Response:
        state = request.query_params.get("state", "open")
        items = await run_in_threadpool(c.conflicts, state)
        return self._render(
            "console_conflicts.html", session, "Conflict review queue", items=items, state=state
        )

    async def conflict(self, request: Request, session: BrowserSession, c: Console) -> Response:
        item = await run_in_threadpool(c.conflict, request.path_params["item_id"])
        done = _DONE.get(request.query_params.get("done", ""))
        return self._render(
            "console_conflict.html", session, "Conflict review queue", item=item, done=done
        )

    async def resolve(self, request: Request, session: BrowserSession, c: Console) -> Response:
        """Keep device / server / a merge; a 409 shows the item again with the fresh server
        version and the reason in one sentence."""
        item_id = request.path_params["item_id"]
        form = self._form(request)
        text = str(form.get("version", ""))
        if text and not (text.isascii() and text.isdigit() and len(text) <= 18):
            raise InvalidRequest("The version in the form is not valid; open the item again.")
        choices = {
            str(k).removeprefix("field:"): str(v)
            for k, v in form.multi_items()
            if str(k).startswith("field:")
        }
        keep = str(form.get("keep", ""))
        try:
            await run_in_threadpool(c.resolve, item_id, keep, int(text) if text else None, choices)
        except Conflict as exc:
            item = await run_in_threadpool(c.conflict, item_id)
            return self._render(
                "console_conflict.html",
                session,
                "Conflict review queue",
                409,
                item=item,
                stale=exc.message,
                done=None,
            )
        return RedirectResponse(f"{SPEC.mount}/conflicts/{item_id}?done={keep}", status_code=303)

    async def defer(self, request: Request, session: BrowserSession, c: Console) -> Response:
        item_id = request.path_params["item_id"]
        await run_in_threadpool(c.defer, item_id, str(self._form(request).get("note", "")))
        return RedirectResponse(f"{SPEC.mount}/conflicts/{item_id}?done=defer", status_code=303)

    async def devices(self, request: Request, session: BrowserSession, c: Console) -> Response:
        listed = await run_in_threadpool(c.devices)
        return self._render("console_devices.html", session, "Devices", devices=listed)

    async def device(self, request: Request, session: BrowserSession, c: Console) -> Response:
        shown = await run_in_threadpool(c.device, request.path_params["device_id"])
        done = request.query_params.get("done")
        return self._render(
            "console_device.html", session, f"Device {shown['device_id']}", d=shown, done=done
        )

    async def change(self, request: Request, session: BrowserSession, c: Console) -> Response:
        device_id, change = request.path_params["device_id"], request.path_params["change"]
        if self._form(request).get("confirm") != "yes":
            raise InvalidRequest("Tick the box to confirm, after reading what the device holds.")
        await run_in_threadpool(c.change_device, device_id, change)
        return RedirectResponse(f"{SPEC.mount}/devices/{device_id}?done={change}", status_code=303)

    def _search_params(self, form: FormData) -> list[tuple[str, str]]:
        params = [(name, str(form.get(field, "")).strip()) for name, field in _SEARCH]
        params = [(k, v) for k, v in params if v]
        for key, prefix in (("from", "ge"), ("to", "le")):
            if form.get(key):
                params.append(("date", f"{prefix}{form.get(key)}"))
        if form.get("outcome") in ("0", "4", "8"):
            params.append(("outcome", str(form.get("outcome"))))
        return params

    async def audit(self, request: Request, session: BrowserSession, c: Console) -> Response:
        form = self._form(request) if request.method == "POST" else FormData()
        params = self._search_params(form)
        if request.method == "GET":
            c.require("audit")
            await run_in_threadpool(c.viewed, "audit")
            events: list[dict[str, Any]] = []
            total = None
        else:
            bundle = await run_in_threadpool(c.audit_search, [*params, ("_count", "100")])
            events = [_event_row(e["resource"]) for e in bundle.get("entry", [])]
            names = await run_in_threadpool(c.usernames, {e["who"] for e in events})
            for e in events:
                e["who"] = names.get(e["who"], e["who"])
            total = bundle.get("total")
        return self._render(
            "console_audit.html",
            session,
            "Audit trail",
            events=events,
            total=total,
            form={
                k: str(form.get(k, ""))
                for k in ("patient", "user", "device", "from", "to", "outcome")
            },
            searched=request.method == "POST",
        )

    async def export(self, request: Request, session: BrowserSession, c: Console) -> Response:
        bundle = await run_in_threadpool(c.audit_export, self._search_params(self._form(request)))
        headers = {
            **_HEADERS,
            "Content-Disposition": 'attachment; filename="audit-events.json"',
        }
        return Response(orjson.dumps(bundle), media_type="application/fhir+json", headers=headers)

    async def chain(self, request: Request, session: BrowserSession, c: Console) -> Response:
        result = await run_in_threadpool(c.chain)
        return self._render(
            "console_message.html",
            session,
            "Audit chain",
            message=(
                f"The audit chain is intact: {result['checked']} records checked."
                if result["ok"]
                else f"The audit chain is BROKEN: {result['reason']}."
            ),
            alert=not result["ok"],
        )


def _event_row(event: dict[str, Any]) -> dict[str, Any]:
    """One AuditEvent as a row: when, what, outcome, who, which device, which patients."""
    who: dict[str, Any] = next((a for a in event.get("agent", []) if a.get("requestor")), {})
    ident = who.get("who", {})
    device = next(
        (
            a["who"]["identifier"]["value"]
            for a in event.get("agent", [])
            if a.get("type", {}).get("coding", [{}])[0].get("code") == "DEV"
            and "identifier" in a.get("who", {})
        ),
        "",
    )
    patients = [
        e["what"]["reference"]
        for e in event.get("entity", [])
        if str(e.get("what", {}).get("reference", "")).startswith("Patient/")
    ]
    subtype = event.get("subtype", [{}])[0]
    return {
        "n": event.get("id"),
        "recorded": event.get("recorded", ""),
        "what": subtype.get("display") or subtype.get("code", ""),
        "outcome": {"0": "allowed", "4": "refused", "8": "failed"}.get(
            str(event.get("outcome")), "?"
        ),
        "who": ident.get("identifier", {}).get("value") or ident.get("reference", ""),
        "device": device,
        "patients": ", ".join(patients),
        "why": event.get("outcomeDesc", ""),
    }
