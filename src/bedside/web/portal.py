"""The patient portal at ``/portal``: a patient's own record in plain words (docs/portal.md).

Signed in through Bedside's own authorization server as a first-party app
(:mod:`bedside.web.first_party`): every page finds the session, builds a
:class:`~bedside.portal.record.PortalRecord` bound to the session's ``Caller`` (so policy,
scopes and audit apply as for any app) and renders words. Changes are form POSTs checked for
the session's CSRF token. The share, link and app pages are :mod:`bedside.web.portal_share`.

    GET  /portal/                       home: the five main actions
    GET  /portal/results                results by test, newest first, ranges, trends
    GET  /portal/medicines | appointments | record/{kind}
    GET  /portal/seen                   who has seen my record (paged: ?after=)
    GET  /portal/documents/{id}         a document's file, as a download
    GET  /portal/static/portal.css

A proxy (a parent, a carer) acting for a patient is not built; the seam is ``PortalRecord``,
which would be bound to the represented patient once a relationship is recorded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from importlib import resources
from typing import Final

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bedside.audit.entry import Auditor
from bedside.auth.browser_sessions import BrowserSession
from bedside.auth.server import AuthServer
from bedside.errors import FhirError
from bedside.healthlinks.service import HealthLinks
from bedside.numerals import is_number
from bedside.policy.decide import Policy
from bedside.portal.accesses import accesses
from bedside.portal.record import PortalRecord
from bedside.portal.sources import PortalSources
from bedside.store.base import Store
from bedside.web.first_party import APP_HEADERS, AppSpec, FirstPartyApp
from bedside.web.portal_share import share_routes
from bedside.web.portal_views import render, trend_svg

__all__ = ["PORTAL", "Build", "Portal"]

PORTAL: Final = AppSpec(
    client_id="bedside-portal",
    name="Bedside patient portal",
    mount="/portal",
    scope="openid fhirUser online_access user/*.rs user/Consent.cu",
    roles=frozenset({"patient"}),
    refused="The portal is for patients. Staff use the clinician app or the governance console.",
)
_KINDS: Final = {
    "details": ("My details", "details", "About me", ""),
    "conditions": ("My conditions", "conditions", "Current", "Past"),
    "allergies": ("My allergies", "allergies", "Allergies", ""),
    "immunizations": ("My vaccinations", "immunizations", "Vaccinations", ""),
    "documents": ("My documents", "documents", "Documents and letters", ""),
}

Build = Callable[[BrowserSession, PortalRecord], str]
_FHIR_ID: Final = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_SAFE_TYPE: Final = re.compile(r"[a-z]+/[a-z0-9.+-]{1,64}")


class Portal:
    def __init__(
        self,
        auth: AuthServer,
        store: Store,
        policy: Policy,
        auditor: Auditor,
        links: HealthLinks,
        sources: PortalSources | None = None,
    ) -> None:
        self.sources = sources or PortalSources()  # upstream systems' names (issue 22)
        self.auth = auth
        self.store = store
        self.policy = policy
        self.auditor = auditor
        self.links = links
        self.app = FirstPartyApp(PORTAL, auth, store)

    def routes(self) -> list[Route]:
        return [
            *self.app.routes(),
            Route("/portal/", self.home, methods=["GET"]),
            Route("/portal", self.to_home, methods=["GET"]),
            Route("/portal/static/portal.css", self.css, methods=["GET"]),
            Route("/portal/results", self.results, methods=["GET"]),
            Route("/portal/medicines", self.medicines, methods=["GET"]),
            Route("/portal/appointments", self.appointments, methods=["GET"]),
            Route("/portal/record/{kind}", self.record_kind, methods=["GET"]),
            Route("/portal/seen", self.seen, methods=["GET"]),
            Route("/portal/documents/{doc_id}", self.document, methods=["GET"]),
            *share_routes(self),
        ]

    # --- shared by every page ----------------------------------------------------------------

    def record(self, session: BrowserSession) -> PortalRecord:
        return PortalRecord(
            self.store,
            session.caller,
            self.auth.config.fhir_base,
            policy=self.policy,
            auditor=self.auditor,
            sources=self.sources,
        )

    async def show(self, request: Request, build: Build) -> Response:
        """The page ``build`` makes for the signed-in patient, or the way to sign in."""
        session = await self.app.session(request)
        if session is None:
            return self.app.sign_in_redirect(request)
        try:
            html = await run_in_threadpool(lambda: build(session, self.record(session)))
        except FhirError as exc:
            return self.app.message(
                "Not shown", exc.message, status=exc.status, alert=True, link=("/portal/", "Home")
            )
        return self.app.page(html)

    @staticmethod
    def base(session: BrowserSession, request: Request, title: str) -> dict[str, object]:
        return {"csrf": session.csrf, "path": request.url.path, "title": title}

    # --- pages ---------------------------------------------------------------------------------

    async def to_home(self, request: Request) -> Response:
        return RedirectResponse("/portal/", status_code=303)

    async def css(self, request: Request) -> Response:
        text = resources.files("bedside.web").joinpath("static", "portal.css").read_text("utf-8")
        return Response(text, media_type="text/css", headers={"Cache-Control": "no-cache"})

    async def home(self, request: Request) -> Response:
        def build(session: BrowserSession, record: PortalRecord) -> str:
            me = record.me()
            names = me.get("name") or [{}]
            given = (names[0].get("given") or [""])[0] if isinstance(names[0], dict) else ""
            return render("home", name=given, **self.base(session, request, "Home"))

        return await self.show(request, build)

    async def results(self, request: Request) -> Response:
        def build(session: BrowserSession, record: PortalRecord) -> str:
            tests = record.results()
            trends = {t.key: trend_svg(t) for t in tests}
            return render(
                "results", tests=tests, trends=trends, **self.base(session, request, "Results")
            )

        return await self.show(request, build)

    async def medicines(self, request: Request) -> Response:
        def build(session: BrowserSession, record: PortalRecord) -> str:
            items = record.medicines()
            sections = [
                ("Medicines I take now", [e for e in items if e.current]),
                ("Past medicines", [e for e in items if not e.current]),
            ]
            return render(
                "list",
                sections=sections,
                empty="None recorded.",
                **self.base(session, request, "My medicines"),
            )

        return await self.show(request, build)

    async def appointments(self, request: Request) -> Response:
        def build(session: BrowserSession, record: PortalRecord) -> str:
            items = record.appointments()
            sections = [
                ("Coming up", [e for e in items if e.current]),
                ("Past appointments", list(reversed([e for e in items if not e.current]))),
            ]
            return render(
                "list",
                sections=sections,
                empty="None.",
                **self.base(session, request, "Appointments"),
            )

        return await self.show(request, build)

    async def record_kind(self, request: Request) -> Response:
        kind = request.path_params["kind"]
        if kind not in _KINDS:
            return self.app.message(
                "Not found", "There is no such page.", status=404, link=("/portal/", "Home")
            )
        title, method, now_heading, past_heading = _KINDS[kind]

        def build(session: BrowserSession, record: PortalRecord) -> str:
            items = getattr(record, method)()
            if past_heading:
                sections = [
                    (now_heading, [e for e in items if e.current]),
                    (past_heading, [e for e in items if not e.current]),
                ]
            else:
                sections = [(now_heading, items)]
            return render(
                "list",
                sections=sections,
                empty="None recorded.",
                **self.base(session, request, title),
            )

        return await self.show(request, build)

    async def seen(self, request: Request) -> Response:
        after = request.query_params.get("after") or None
        mine = request.query_params.get("mine") == "1"
        if after is not None and (not is_number(after) or len(after) > 19):
            after = None

        def build(session: BrowserSession, record: PortalRecord) -> str:
            page = accesses(
                record,
                self.store,
                cursor=after,
                include_mine=mine,
                app_names=self.app_name,
                portal_client=PORTAL.client_id,
            )
            return render(
                "seen",
                items=page.items,
                next_cursor=page.next_cursor,
                cursor=after,
                mine=mine,
                glass_count=sum(1 for a in page.items if a.break_glass),
                **self.base(session, request, "Who has seen my record"),
            )

        return await self.show(request, build)

    async def document(self, request: Request) -> Response:
        """A document's file, downloaded (never rendered in the portal's origin)."""
        doc_id = request.path_params["doc_id"]
        session = await self.app.session(request)
        if session is None:
            return self.app.sign_in_redirect(request)
        back = ("/portal/record/documents", "My documents")
        if not _FHIR_ID.fullmatch(doc_id):
            return self.app.message(
                "Not found", "There is no such document.", status=404, link=back
            )
        try:
            found = await run_in_threadpool(lambda: self.record(session).document_file(doc_id))
        except FhirError as exc:
            return self.app.message("Not shown", exc.message, status=exc.status, link=back)
        if found is None:
            words = "This document is kept elsewhere. Ask your care team for a copy."
            return self.app.message("Not held here", words, link=back)
        ctype, title, data = found
        name = re.sub(r"[^A-Za-z0-9 ._-]", "", title).strip()[:80] or "document"
        return Response(
            data,
            media_type=ctype if _SAFE_TYPE.fullmatch(ctype) else "application/octet-stream",
            headers={
                **APP_HEADERS,
                "Content-Disposition": f'attachment; filename="{name}"',
                "Content-Security-Policy": "sandbox; default-src 'none'",
            },
        )

    def app_name(self, client_id: str) -> str | None:
        client = self.auth.clients.get(client_id)
        return client.name if client else None
