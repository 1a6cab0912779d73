"""Bedside's own browser apps (the patient portal, the governance console): sign-in through
Bedside's authorization server, server-side sessions, CSRF, and the headers their pages carry.

Each app is a public OAuth client of this server (registered at start like the device app) and
signs its users in with the authorization code flow and PKCE S256 (RFC 6749 §4.1, RFC 7636),
as any SMART app would, so sign-in, lockout, role ceilings and the audit of it all are the
authorization server's, unchanged. The code is redeemed in-process by the token endpoint; the
access token is verified once (:meth:`AuthServer.caller`) and what it stands for, a ``Caller``,
is kept in a server-side session (:mod:`bedside.auth.browser_sessions`). The browser holds only
a random secret in an HttpOnly, SameSite=Lax cookie scoped to the app's path (``Secure`` when the
server's public URL is https). A session ends on sign-out (which revokes its grant), after
``idle_timeout`` seconds without a request, when its grant ends or is revoked anywhere, and never
outlives the grant (``online_access``: at most 12 hours).

Routes, for an app mounted at ``/portal``::

    GET  /portal/sign-in?next=/portal/...   start: a state cookie, then /auth/authorize
    GET  /portal/callback                   the authorization response; opens the session
    POST /portal/sign-out                   CSRF-checked; revokes the grant

A route of the app::

    session = await app.session(request)
    if session is None:
        return app.sign_in_redirect(request)
    ...                                     # read through Repository(store, session.caller)
    if request.method == "POST":
        form = await app.form(request)
        app.check_csrf(request, session, form)       # raises CsrfRefused: show app.message
    return app.page(html)                   # no-store and the security headers

Users whose role is not among the app's ``roles`` are refused after sign-in with a plain
sentence (the grant just made is revoked, and the refusal audited). The app is trusted: its
users are not asked "Allow this app?" (:attr:`AuthServer.first_party`).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from bedside.audit.entry import MINOR_FAILURE
from bedside.auth.browser_sessions import BrowserSession, BrowserSessions
from bedside.auth.caller import Caller
from bedside.auth.grants import pkce_challenge
from bedside.auth.server import AuthServer
from bedside.auth.token_endpoint import TokenEndpoint
from bedside.errors import CsrfRefused, FhirError, OAuthError
from bedside.store.base import Store

__all__ = ["APP_HEADERS", "AppSpec", "FirstPartyApp"]

#: Headers on every page of a first-party app: it holds PHI (no-store), it is never framed,
#: and it runs only its own scripts and styles. ``same-origin``, not ``no-referrer``: under
#: ``no-referrer`` Chromium sends ``Origin: null`` with a form POST, which :meth:`check_csrf`
#: rightly refuses; ``same-origin`` still tells other sites nothing.
APP_HEADERS: Final = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
}
_STATE_COOKIE: Final = "_signin"
_MAX_NEXT: Final = 512

_templates = Environment(
    loader=PackageLoader("bedside.web", "templates"), autoescape=select_autoescape(["html"])
)


@dataclass(frozen=True)
class AppSpec:
    """What makes one first-party app: its OAuth client, where it lives, who may use it."""

    client_id: str  # e.g. "bedside-portal"
    name: str  # shown on the sign-in page: "Bedside patient portal"
    mount: str  # its path prefix: "/portal"
    scope: str  # what it asks for, narrowed by each user's role ceiling
    roles: frozenset[str]  # the roles that may use it
    refused: str  # the sentence shown to a signed-in user of another role
    idle_timeout: int = 15 * 60


class FirstPartyApp:
    def __init__(self, spec: AppSpec, auth: AuthServer, store: Store) -> None:
        if not spec.mount.startswith("/") or spec.mount.endswith("/"):
            raise ValueError("mount is a path like /portal")
        self.spec = spec
        self.auth = auth
        self.sessions = BrowserSessions(store, clock=auth.clock)
        self.tokens = TokenEndpoint(auth)
        self.redirect_uri = auth.config.root.rstrip("/") + spec.mount + "/callback"
        self.secure = auth.config.root.startswith("https://")
        self.cookie = "bedside_" + spec.mount.strip("/").replace("/", "_")
        auth.clients.ensure_public(
            spec.client_id, name=spec.name, redirect_uri=self.redirect_uri, scope=spec.scope
        )
        auth.first_party.add(spec.client_id)

    def routes(self) -> list[Route]:
        m = self.spec.mount
        return [
            Route(f"{m}/sign-in", self.sign_in, methods=["GET"]),
            Route(f"{m}/callback", self.callback, methods=["GET"]),
            Route(f"{m}/sign-out", self.sign_out, methods=["POST"]),
        ]

    # --- what the app's routes use ---------------------------------------------------------

    async def session(self, request: Request) -> BrowserSession | None:
        """The signed-in session of this request, or None (then send it to sign in)."""
        secret = request.cookies.get(self.cookie, "")
        return await run_in_threadpool(
            self.sessions.find, self.spec.client_id, secret, self.spec.idle_timeout
        )

    def sign_in_redirect(self, request: Request) -> Response:
        """Where a request without a session goes: sign-in, then back to the page it asked for."""
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        query = urlencode({"next": target}) if self._inside(target) else ""
        return RedirectResponse(
            f"{self.spec.mount}/sign-in" + (f"?{query}" if query else ""), status_code=303
        )

    async def form(self, request: Request) -> FormData:
        """A page's form (application/x-www-form-urlencoded; ``getlist`` for checkboxes).
        Anything else reads as an empty form, which then fails the CSRF check."""
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return FormData()
        try:
            pairs = parse_qsl((await request.body()).decode("utf-8"), max_num_fields=500)
        except (UnicodeDecodeError, ValueError):
            return FormData()
        return FormData([(k, v) for k, v in pairs])

    def check_csrf(self, request: Request, session: BrowserSession, form: FormData) -> None:
        """Refuse a change that does not carry this session's CSRF token (field ``csrf``), or
        that a page of another origin sent (the Origin header, when sent, must be ours)."""
        token = str(form.get("csrf", ""))
        origin = request.headers.get("origin")
        ours = f"{request.url.scheme}://{request.url.netloc}"
        if origin is not None and not hmac.compare_digest(origin.encode(), ours.encode()):
            raise CsrfRefused("This change came from another site and was not made.")
        if not token or not session.csrf_matches(token):
            raise CsrfRefused("This form has expired. Go back, reload the page and try again.")

    def page(self, html: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(html, status_code=status, headers=APP_HEADERS)

    def message(
        self,
        heading: str,
        message: str,
        *,
        status: int = 200,
        alert: bool = False,
        link: tuple[str, str] | None = None,
    ) -> HTMLResponse:
        """A one-sentence page of this app (signed out, refused, cannot sign in)."""
        html = _templates.get_template("first_party.html").render(
            title=f"{heading} · {self.spec.name}",
            heading=heading,
            message=message,
            alert=alert,
            link=link[0] if link else None,
            link_label=link[1] if link else None,
        )
        return self.page(html, status)

    # --- the routes ------------------------------------------------------------------------

    async def sign_in(self, request: Request) -> Response:
        wanted = request.query_params.get("next", "")
        next_path = wanted if self._inside(wanted) else self.spec.mount + "/"
        state, verifier = await run_in_threadpool(
            self.sessions.start_sign_in, self.spec.client_id, next_path
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.spec.client_id,
                "redirect_uri": self.redirect_uri,
                "scope": self.spec.scope,
                "state": state,
                "code_challenge": pkce_challenge(verifier),
                "code_challenge_method": "S256",
                "aud": self.auth.config.fhir_base,
            }
        )
        response = RedirectResponse(f"/auth/authorize?{query}", status_code=303)
        response.set_cookie(
            self.cookie + _STATE_COOKIE,
            state,
            max_age=10 * 60,
            path=self.spec.mount,
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )
        return response

    async def callback(self, request: Request) -> Response:
        again = (f"{self.spec.mount}/sign-in", "Sign in again")
        state = request.query_params.get("state", "")
        cookie = request.cookies.get(self.cookie + _STATE_COOKIE, "")
        if not state or not hmac.compare_digest(state.encode(), cookie.encode()):
            return self._clear_state(
                self.message(
                    "Sign-in did not finish",
                    "This sign-in was started in another window or has expired.",
                    status=400,
                    alert=True,
                    link=again,
                )
            )
        pending = await run_in_threadpool(self.sessions.take_sign_in, self.spec.client_id, state)
        code = request.query_params.get("code", "")
        if pending is None or not code:
            said_no = request.query_params.get("error") == "access_denied"
            words = "You chose not to sign in." if said_no else "Sign-in did not finish."
            return self._clear_state(
                self.message("Not signed in", words, status=400, alert=not said_no, link=again)
            )
        verifier, next_path = pending
        try:
            caller = await run_in_threadpool(self._redeem, code, verifier)
        except (OAuthError, FhirError):
            return self._clear_state(
                self.message(
                    "Sign-in did not finish",
                    "The sign-in could not be completed. Please sign in again.",
                    status=400,
                    alert=True,
                    link=again,
                )
            )
        if caller.role not in self.spec.roles:
            await run_in_threadpool(self._refuse, caller)
            return self._clear_state(self.message("Not for you", self.spec.refused, status=403))
        grant = await run_in_threadpool(self.auth.grants.get, caller.grant_id or "")
        expires_at = grant.expires_at if grant else 0
        secret, _ = await run_in_threadpool(
            self.sessions.open, self.spec.client_id, caller, expires_at
        )
        response = self._clear_state(RedirectResponse(next_path, status_code=303))
        response.set_cookie(
            self.cookie,
            secret,
            path=self.spec.mount,
            httponly=True,
            samesite="lax",
            secure=self.secure,
        )
        return response

    async def sign_out(self, request: Request) -> Response:
        session = await self.session(request)
        if session is not None:
            try:
                self.check_csrf(request, session, await self.form(request))
            except CsrfRefused as exc:
                return self.message("Still signed in", str(exc), status=403, alert=True)
            await run_in_threadpool(self._end, request.cookies.get(self.cookie, ""))
        response = self.message(
            "Signed out",
            "You have signed out. Close this window if you share this device.",
            link=(f"{self.spec.mount}/sign-in", "Sign in again"),
        )
        response.delete_cookie(self.cookie, path=self.spec.mount)
        return response

    # --- in the thread pool ----------------------------------------------------------------

    def _redeem(self, code: str, verifier: str) -> Caller:
        answer = self.tokens.token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": self.redirect_uri,
                "client_id": self.spec.client_id,
                "code_verifier": verifier,
            },
            None,
        )
        return self.auth.caller(str(answer["access_token"]))

    def _refuse(self, caller: Caller) -> None:
        if caller.grant_id:
            self.auth.grants.revoke(caller.grant_id, f"not a user of {self.spec.client_id}")
        self.auth.audit(
            "app-refused",
            MINOR_FAILURE,
            subject=caller.subject,
            user_ref=caller.fhir_user,
            role=caller.role,
            client_id=self.spec.client_id,
            description=f"{self.spec.name} is not for this role",
        )

    def _end(self, secret: str) -> None:
        ended = self.sessions.close(self.spec.client_id, secret)
        if ended is None:
            return
        self.auth.grants.revoke(ended.grant_id, "signed out")
        caller = ended.caller
        self.auth.audit(
            "logout",
            subject=caller.subject,
            user_ref=caller.fhir_user,
            role=caller.role,
            client_id=self.spec.client_id,
        )

    # --- helpers ---------------------------------------------------------------------------

    def _inside(self, path: str) -> bool:
        """A ``next`` that stays inside this app: a path, not a URL to elsewhere."""
        parts = urlsplit(path)
        return (
            len(path) <= _MAX_NEXT
            and not parts.scheme
            and not parts.netloc
            and path.startswith(self.spec.mount + "/")
            and "\\" not in path
            and "//" not in path
        )

    def _clear_state(self, response: Response) -> Response:
        response.delete_cookie(self.cookie + _STATE_COOKIE, path=self.spec.mount)
        return response
