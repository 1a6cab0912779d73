"""``GET /metrics``: the Prometheus text exposition, for the holder of the scrape token.

Answers 404 until ``bedside admin metrics-token`` has made a token (metrics off), 401 without
the right ``Authorization: Bearer`` token (constant-time, :mod:`bedside.metrics.access`).
The figures hold no PHI, but they say how busy which parts are: not for everyone.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bedside.metrics.access import ScrapeToken
from bedside.metrics.registry import CONTENT_TYPE, Metrics

__all__ = ["MetricsApi"]

_NO_STORE = {"Cache-Control": "no-store"}


class MetricsApi:
    def __init__(self, metrics: Metrics, token: ScrapeToken) -> None:
        self.metrics = metrics
        self.token = token

    def routes(self) -> list[Route]:
        return [Route("/metrics", self.scrape, methods=["GET"])]

    async def scrape(self, request: Request) -> Response:
        if not self.token.configured():
            return PlainTextResponse(
                "Metrics are off: an operator turns them on with bedside admin metrics-token.\n",
                404,
                headers=_NO_STORE,
            )
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not self.token.matches(presented.strip()):
            return PlainTextResponse(
                "Send the scrape token: Authorization: Bearer <token>.\n",
                401,
                headers={**_NO_STORE, "WWW-Authenticate": 'Bearer realm="metrics"'},
            )
        body = await run_in_threadpool(self.metrics.render)
        return Response(body, media_type=CONTENT_TYPE, headers=_NO_STORE)
