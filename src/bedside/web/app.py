"""The ASGI application factory. Shared objects are built by the CLI and passed in."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from bedside.audit.entry import Auditor
from bedside.auth.server import AuthServer
from bedside.consent.changes import sweep
from bedside.fleet import registry as devices
from bedside.fleet.client import ensure_device_client
from bedside.fleet.escrow import EscrowSeal
from bedside.healthlinks.service import HealthLinks
from bedside.metrics.access import ScrapeToken
from bedside.metrics.registry import Metrics
from bedside.metrics.state import DatabaseState
from bedside.metrics.upstream import UpstreamState
from bedside.policy.decide import Policy
from bedside.portal.sources import PortalSources
from bedside.rest.bulk_export import BulkExports
from bedside.rest.capability import capability_statement
from bedside.settings import BodyLimits
from bedside.store.base import Store
from bedside.subscriptions import config as subscription_config
from bedside.subscriptions.dispatch import Dispatcher
from bedside.subscriptions.service import SubscriptionService
from bedside.upstream.service import Upstream
from bedside.web.access_log import AccessLog
from bedside.web.attachments_api import AttachmentsApi
from bedside.web.body_limit import BodyLimit
from bedside.web.bulk_http import BulkEndpoints
from bedside.web.consent_api import ConsentApi
from bedside.web.console_pages import ConsolePages
from bedside.web.device_api import DeviceApi
from bedside.web.errors import ErrorBoundary, handlers
from bedside.web.fhir_http import FhirEndpoint, negotiate
from bedside.web.glass_api import GlassApi
from bedside.web.health_links_api import HealthLinksApi
from bedside.web.metrics_api import MetricsApi
from bedside.web.oauth import OAuthRoutes
from bedside.web.policy_api import PolicyApi
from bedside.web.portal import Portal
from bedside.web.responses import fhir_json
from bedside.web.subscriptions_ws import PATH as SUBSCRIPTION_WS
from bedside.web.subscriptions_ws import SubscriptionSockets
from bedside.web.sync_api import SyncApi
from bedside.web.sync_pull_api import SyncPullApi
from bedside.web.telemetry_api import TelemetryApi
from bedside.web.wipe_api import WipeApi

__all__ = ["SelectiveCORS", "create_app"]

log = logging.getLogger("bedside.web")
_FHIR_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
#: Browser apps on other origins call these; the sign-in pages are deliberately not among them.
_CORS_PREFIXES: Final = (
    "/fhir",
    "/auth/token",
    "/auth/revoke",
    "/auth/introspect",
    "/auth/jwks",
    "/shl/m/",  # SMART Health Link manifests: any recipient's viewer may ask (SHL IG)
    "/shl/f/",  # and the files they point to
)
_CORS_EXACT: Final = (
    "/auth/grants",
    "/auth/smart-style.json",
    "/auth/launch",
    "/patient/consents",
    "/patient/health-links",
    "/policy/snapshot",
)


class SelectiveCORS:
    """CORS (any origin, no cookies) on the API and token endpoints, never on the browser pages.

    Bearer tokens travel in a header, not a cookie, so allowing any origin exposes nothing a
    page could not already read with the token it holds.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=["*"],
            allow_methods=[*_FHIR_METHODS, "OPTIONS"],
            allow_headers=[
                "Authorization",
                "Content-Type",
                "Accept",
                "Prefer",
                "If-Match",
                "If-None-Match",
                "If-None-Exist",
            ],
            expose_headers=[
                "Location",
                "Content-Location",
                "ETag",
                "Last-Modified",
                "WWW-Authenticate",
            ],
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path.startswith(_CORS_PREFIXES) or path.startswith(_CORS_EXACT):
            await self.cors(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def create_app(
    store: Store,
    auth: AuthServer,
    *,
    policy: Policy,
    auditor: Auditor,
    metrics: Metrics,
    sweep_every: float = 15.0,
    seal: EscrowSeal | None = None,
    body_limits: BodyLimits | None = None,
    services: Sequence[Callable[[], contextlib.AbstractAsyncContextManager[Any]]] = (),
    upstream: Upstream | None = None,
) -> ASGIApp:
    """The server: FHIR API, SMART authorization, policy, governance and device APIs.

    ``policy`` decides access; ``auditor`` makes the audit trail (the one ``auth`` was built
    with, already counted by ``metrics``: :func:`bedside.web.asgi.build` makes all three).
    ``metrics`` are served on ``GET /metrics`` to the scrape token's holder. A background task notes
    consent and break-glass expiries in the change feed every ``sweep_every`` seconds.
    ``seal`` protects devices' escrow keys (default: the key in the data dir's ``keys/``); the
    device app's built-in OAuth client is registered here if it is missing. ``body_limits``
    (default :class:`~bedside.settings.BodyLimits`) caps request bodies while they are read.
    ``services`` run for the app's lifetime (the upstream MLLP listeners, docs/upstream.md);
    ``upstream`` (the sources of ``upstream.toml``) names the source of each value on the
    portal, and puts the feeds on ``/metrics`` and the console's Upstream page.
    """
    metrics.add_collector(DatabaseState(store, policy.rules, policy.clock))
    if upstream is not None:
        metrics.add_collector(UpstreamState(store, upstream, policy.clock))
    fhir_base = auth.config.fhir_base
    started = datetime.now(UTC).isoformat(timespec="seconds")
    oauth_uris = {
        "authorize": auth.config.url("authorize"),
        "token": auth.config.url("token"),
        "revoke": auth.config.url("revoke"),
        "introspect": auth.config.url("introspect"),
        "manage": auth.config.url("grants"),
    }
    capability = capability_statement(fhir_base, started, oauth_uris)
    exports = BulkExports(auth.keyring.data_dir / "exports", store, policy, auditor)
    # FHIR Subscriptions (docs/subscriptions.md): rest-hook endpoints from subscriptions.toml
    subs_config = subscription_config.load(auth.keyring.data_dir / "subscriptions.toml")
    ws_url = auth.config.root.rstrip("/").replace("http", "ws", 1) + SUBSCRIPTION_WS
    subscriptions = SubscriptionService(fhir_base, subs_config, ws_url)
    dispatcher = Dispatcher(store, policy, auditor, fhir_base, subs_config)
    sockets = SubscriptionSockets(store, policy, auditor, fhir_base, subs_config.poll_seconds)
    endpoint = FhirEndpoint(
        store,
        auth.caller,
        fhir_base,
        policy=policy,
        auditor=auditor,
        exports=exports,
        subscriptions=subscriptions,
    )
    ensure_device_client(store)
    seal = seal or EscrowSeal.load_or_create(auth.keyring.data_dir)
    links = HealthLinks(
        store,
        root=auth.config.root,
        fhir_base=fhir_base,
        policy=policy,
        auditor=auditor,
        clock=policy.clock,
    )

    async def metadata(request: Request) -> Response:
        negotiate(request)
        return fhir_json(200, capability)

    async def health(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def fhir(request: Request) -> Response:
        return await endpoint(request)

    routes = [
        Route("/healthz", health, methods=["GET"]),
        Route("/fhir/metadata", metadata, methods=["GET"]),
        *OAuthRoutes(auth, policy, metrics).routes(),
        *ConsentApi(store, auth.caller, policy.clock, policy=policy).routes(),
        *PolicyApi(store, auth, policy, pins=devices.pins_of).routes(),
        *DeviceApi(store, auth, policy, seal).routes(),
        *TelemetryApi(store, auth, policy).routes(),
        *GlassApi(store, auth, policy).routes(),
        *WipeApi(store, auth, policy).routes(),
        *SyncPullApi(store, auth, policy).routes(),
        *SyncApi(store, auth, policy, auditor, metrics).routes(),
        *HealthLinksApi(links, auth.caller).routes(),
        *Portal(
            auth,
            store,
            policy,
            auditor,
            links,
            PortalSources(upstream.config if upstream else None),
        ).routes(),
        *BulkEndpoints(exports, auth.caller, fhir_base).routes(),
        *MetricsApi(metrics, ScrapeToken(auth.keyring.data_dir)).routes(),
        *ConsolePages(store, auth, policy, auditor, upstream.config if upstream else None).routes(),
        *sockets.routes(),
        *AttachmentsApi(store, auth, policy, auditor, fhir).routes(),
        Route("/fhir", fhir, methods=_FHIR_METHODS),
        Route("/fhir/{path:path}", fhir, methods=_FHIR_METHODS),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(_sweeper(store, policy, sweep_every))
        sender = asyncio.create_task(dispatcher.run())
        try:
            async with contextlib.AsyncExitStack() as running:
                for service in services:
                    await running.enter_async_context(service())
                yield
        finally:
            task.cancel()
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            close = getattr(auditor, "close", None)
            if close is not None:
                await run_in_threadpool(close)

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers=dict(handlers()),
        middleware=[Middleware(ErrorBoundary)],
    )
    return AccessLog(SelectiveCORS(BodyLimit(app, body_limits or BodyLimits())), metrics)


async def _sweeper(store: Store, policy: Policy, every: float) -> None:
    """Note consent and break-glass expiries in the change feed soon after they happen."""
    while True:
        try:
            await run_in_threadpool(sweep, store, policy.clock())
        except Exception as exc:  # keep sweeping; the next round retries
            log.warning("expiry sweep failed", extra={"error_type": type(exc).__name__})
        await asyncio.sleep(every)
