"""HTTP for the authorization server: discovery, the browser pages, and the OAuth endpoints.

Routes (``root`` is the server's public URL; ``{fhir}`` is ``root/fhir``):

    GET  {fhir}/.well-known/smart-configuration    SMART discovery
    GET  {fhir}/.well-known/openid-configuration   OpenID Connect discovery
    GET  /auth/jwks                                the public signing keys
    GET|POST /auth/authorize                       start an authorization (RFC 6749 §4.1.1)
    GET|POST /auth/signin                          the sign-in page
    GET|POST /auth/patient                         a clinician picks the patient
    GET|POST /auth/consent                         the consent page ("Allow")
    POST /auth/token | /auth/introspect | /auth/revoke
    GET  /auth/grants, DELETE /auth/grants/{id}    a user's authorized apps (bearer token)
    POST /auth/launch                              create an EHR launch context (bearer token)

Each browser step is bound to the browser that started it by an HttpOnly, SameSite=Lax cookie
holding a random secret; the request id alone is not enough to continue someone else's sign-in.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import parse_qsl, urlsplit

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bedside.auth import wording
from bedside.auth.server import AuthorizationRequest, AuthServer, RedirectError
from bedside.auth.token_endpoint import TokenEndpoint
from bedside.auth.users import SignInFailed, User
from bedside.errors import OAuthError
from bedside.metrics.registry import Metrics
from bedside.policy.decide import Policy
from bedside.web.oauth_api import AccountApi, patient_choices
from bedside.web.responses import NO_CACHE, empty, oauth_json

log = logging.getLogger("bedside.auth")
_PAGE_HEADERS: Final = {
    **NO_CACHE,
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
}
_REPEATABLE: Final = frozenset({"type"})
_COOKIE: Final = "bedside_auth_"

_templates = Environment(
    loader=PackageLoader("bedside.web", "templates"), autoescape=select_autoescape(["html"])
)


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    html = _templates.get_template(f"{name}.html").render(**context)
    return HTMLResponse(html, status_code=status, headers=_PAGE_HEADERS)


async def form_of(request: Request) -> dict[str, Any]:
    """An application/x-www-form-urlencoded body; a repeated OAuth parameter is refused."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/x-www-form-urlencoded":
        raise OAuthError(
            "invalid_request", "Send the parameters as application/x-www-form-urlencoded."
        )
    try:
        pairs = parse_qsl((await request.body()).decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise OAuthError("invalid_request", "The form body is not UTF-8.") from None
    return _collect(pairs)


def _collect(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in _REPEATABLE:
            out.setdefault(key, []).append(value)
        elif key in out:
            raise OAuthError("invalid_request", f"The parameter {key} is repeated.")
        else:
            out[key] = value
    return out


class OAuthRoutes:
    def __init__(self, server: AuthServer, policy: Policy, metrics: Metrics | None = None) -> None:
        self.server = server
        self.policy = policy  # the server's access policy: the patient picker's search
        self.metrics = metrics
        self.tokens = TokenEndpoint(server)
        self.account = AccountApi(server, policy)
        self.secure_cookies = server.config.root.startswith("https://")

    def routes(self) -> list[Route]:
        fhir_path = urlsplit(self.server.config.fhir_base).path
        return [
            Route(f"{fhir_path}/.well-known/smart-configuration", self.smart, methods=["GET"]),
            Route(f"{fhir_path}/.well-known/openid-configuration", self.openid, methods=["GET"]),
            Route("/auth/jwks", self.jwks, methods=["GET"]),
            Route("/auth/smart-style.json", self.style, methods=["GET"]),
            Route("/auth/authorize", self.authorize, methods=["GET", "POST"]),
            Route("/auth/signin", self.signin, methods=["GET", "POST"]),
            Route("/auth/patient", self.patient, methods=["GET", "POST"]),
            Route("/auth/consent", self.consent, methods=["GET", "POST"]),
            Route("/auth/token", self._endpoint(self.tokens.token, counted=True), methods=["POST"]),
            Route("/auth/introspect", self._endpoint(self.tokens.introspect), methods=["POST"]),
            Route("/auth/revoke", self._revoke, methods=["POST"]),
            *self.account.routes(),
        ]

    # --- discovery -------------------------------------------------------------------------------

    async def smart(self, request: Request) -> Response:
        return JSONResponse(self.server.smart_configuration())

    async def openid(self, request: Request) -> Response:
        return JSONResponse(self.server.openid_configuration())

    async def jwks(self, request: Request) -> Response:
        return JSONResponse(self.server.jwks(), headers={"Cache-Control": "max-age=60"})

    async def style(self, request: Request) -> Response:
        return JSONResponse(
            {
                "color_background": "#f4f6f8",
                "color_highlight": "#0b5cad",
                "color_text": "#1b2733",
                "font_family": "system-ui, sans-serif",
                "dim_border_radius": "8px",
            }
        )

    # --- OAuth endpoints (JSON) ------------------------------------------------------------------

    def _endpoint(
        self,
        handler: Callable[[dict[str, Any], str | None], dict[str, Any]],
        *,
        counted: bool = False,
    ) -> Callable[[Request], Awaitable[Response]]:
        """``counted``: the token endpoint, whose issues and refusals the metrics count."""
        metrics = self.metrics if counted else None

        async def endpoint(request: Request) -> Response:
            form: dict[str, Any] = {}
            try:
                form = await form_of(request)
                body = await run_in_threadpool(handler, form, request.headers.get("authorization"))
            except OAuthError as exc:
                if metrics is not None:
                    metrics.token(_text(form.get("grant_type")), exc.error)
                raise
            if metrics is not None:
                metrics.token(_text(form.get("grant_type")), None)
            return oauth_json(200, body)

        return endpoint

    async def _revoke(self, request: Request) -> Response:
        form = await form_of(request)
        await run_in_threadpool(self.tokens.revoke, form, request.headers.get("authorization"))
        return empty(200, NO_CACHE)

    # --- the browser flow ------------------------------------------------------------------------

    async def authorize(self, request: Request) -> Response:
        try:
            if request.method == "POST":
                params = {k: v for k, v in (await form_of(request)).items() if isinstance(v, str)}
            else:
                params = _collect(list(request.query_params.multi_items()))
            req = await run_in_threadpool(self.server.check_authorization, params)
        except RedirectError as exc:
            return RedirectResponse(exc.url, status_code=303)
        except OAuthError as exc:
            return page("error", 400, title="Cannot sign in", message=exc.description)
        rid, browser = await run_in_threadpool(self.server.grants.open_request, vars(req))
        response = RedirectResponse(f"/auth/signin?request={rid}", status_code=303)
        response.set_cookie(
            _COOKIE + rid[:16],
            browser,
            max_age=15 * 60,
            path="/auth",
            httponly=True,
            samesite="lax",
            secure=self.secure_cookies,
        )
        return response

    async def _load(
        self, request: Request, rid: str
    ) -> tuple[AuthorizationRequest, User | None, str | None]:
        browser = request.cookies.get(_COOKIE + rid[:16], "")
        params, user_id, patient = await run_in_threadpool(
            self.server.grants.load_request, rid, browser
        )
        user = await run_in_threadpool(self.server.users.get, user_id) if user_id else None
        return AuthorizationRequest(**params), user, patient

    def _client_name(self, req: AuthorizationRequest) -> str:
        client = self.server.client(req.client_id)
        return client.name if client else req.client_id

    async def _step(self, request: Request) -> _Step | Response:
        """The form and pending request of a browser step, or the error page."""
        form = await _step_form(request)
        rid = str(form.get("request", ""))
        try:
            req, user, patient = await self._load(request, rid)
        except OAuthError as exc:
            return page("error", 400, title="Cannot sign in", message=exc.description)
        return _Step(form, rid, req, user, patient)

    async def signin(self, request: Request) -> Response:
        step = await self._step(request)
        if isinstance(step, Response):
            return step
        form, rid, req = step.form, step.rid, step.req
        context: dict[str, Any] = {
            "title": "Sign in",
            "client_name": self._client_name(req),
            "request_id": rid,
            "action": "/auth/signin",
            "username": "",
            "error": None,
        }
        if request.method == "GET":
            return page("signin", **context)
        username = str(form.get("username", ""))
        network = request.client.host if request.client else None
        try:
            user = await run_in_threadpool(
                lambda: self.server.sign_in(
                    username,
                    str(form.get("password", "")),
                    client_id=req.client_id,
                    network=network,
                )
            )
        except SignInFailed as exc:
            log.info("sign-in refused")
            context.update(username=username, error=str(exc))
            return page("signin", 401, **context)
        await run_in_threadpool(self.server.grants.update_request, rid, user_id=user.id)
        return RedirectResponse(f"/auth/consent?request={rid}", status_code=303)

    async def _signed_in_step(self, request: Request) -> _SignedIn | Response:
        """A step that needs a signed-in user, or where to go instead."""
        step = await self._step(request)
        if isinstance(step, Response):
            return step
        if step.user is None:
            return RedirectResponse(f"/auth/signin?request={step.rid}", status_code=303)
        return _SignedIn(step.form, step.rid, step.req, step.user, step.patient)

    async def patient(self, request: Request) -> Response:
        step = await self._signed_in_step(request)
        if isinstance(step, Response):
            return step
        form, rid, req, user = step.form, step.rid, step.req, step.user
        if request.method == "POST" and form.get("patient"):
            chosen = str(form["patient"])
            allowed = {p["id"] for p in await self._choices(user, chosen, by_id=True)}
            if chosen in allowed:
                await run_in_threadpool(self.server.grants.update_request, rid, patient=chosen)
                return RedirectResponse(f"/auth/consent?request={rid}", status_code=303)
        query = str(form.get("q", ""))
        return page(
            "patient",
            title="Choose a patient",
            client_name=self._client_name(req),
            request_id=rid,
            action="/auth/patient",
            query=query,
            patients=await self._choices(user, query),
        )

    async def _choices(
        self, user: User, query: str, *, by_id: bool = False
    ) -> list[dict[str, str]]:
        return await run_in_threadpool(
            patient_choices, self.server, self.policy, user, query, by_id
        )

    async def consent(self, request: Request) -> Response:
        step = await self._signed_in_step(request)
        if isinstance(step, Response):
            return step
        form, rid, req, user, patient = step.form, step.rid, step.req, step.user, step.patient
        if patient is None and self.server.needs_patient_choice(req, user):
            return RedirectResponse(f"/auth/patient?request={rid}", status_code=303)
        scopes = self.server.role_scope(req, user)
        types = wording.selectable_types(scopes)
        trusted = req.client_id in self.server.first_party
        if request.method == "GET" and not trusted:
            patient_id = req.launch.get("patient") or user.patient_id or patient
            names = await self._choices(user, str(patient_id), by_id=True) if patient_id else []
            return page(
                "consent",
                title="Allow access",
                client_name=self._client_name(req),
                request_id=rid,
                action="/auth/consent",
                access=wording.describe(scopes),
                types=[{"code": t, "label": wording.type_label(t).capitalize()} for t in types],
                patient_name=names[0]["name"] if names else None,
                refresh=_refresh_words(scopes.other),
            )
        await run_in_threadpool(self.server.grants.close_request, rid)
        if not trusted and form.get("decision") != "allow":
            return RedirectResponse(self.server.deny(req), status_code=303)
        ticked = set(types) if trusted else set(form.get("type", []))
        try:
            url = await run_in_threadpool(
                lambda: self.server.complete(
                    req, user, patient=patient, deselected=set(types) - ticked, expand=types
                )
            )
        except RedirectError as exc:
            url = exc.url
        return RedirectResponse(url, status_code=303)


@dataclass(frozen=True)
class _Step:
    form: dict[str, Any]
    rid: str
    req: AuthorizationRequest
    user: User | None
    patient: str | None


@dataclass(frozen=True)
class _SignedIn(_Step):
    user: User


def _refresh_words(other: tuple[str, ...]) -> str | None:
    if "offline_access" in other:
        return "when you are not using it"
    if "online_access" in other:
        return "while you are signed in"
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


async def _step_form(request: Request) -> dict[str, Any]:
    if request.method == "GET":
        return dict(request.query_params)
    try:
        return await form_of(request)
    except OAuthError:
        return {}


__all__ = ["OAuthRoutes", "form_of", "page"]
