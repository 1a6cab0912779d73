"""The request body limit as ASGI middleware (issue 13, finding 11): which limit a path gets,
the sizes the CLI accepts, and that a body is read only until it passes the limit."""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson
import pytest
from starlette.requests import Request
from starlette.responses import Response

from bedside.errors import FhirError
from bedside.settings import KIB, MIB, BodyLimits, parse_size
from bedside.web.body_limit import BodyLimit

LIMITS = BodyLimits(fhir=4 * KIB, sync=8 * KIB, other=KIB)


@pytest.mark.parametrize(
    ("path", "limit"),
    [
        ("/fhir", 4 * KIB),
        ("/fhir/Observation", 4 * KIB),
        ("/review/r-1/resolve", 4 * KIB),
        ("/sync/push", 8 * KIB),
        ("/auth/token", KIB),
        ("/device/register", KIB),
        ("/fhirish", KIB),
    ],
)
def test_each_path_has_its_limit(path: str, limit: int) -> None:
    assert LIMITS.for_path(path) == limit


@pytest.mark.parametrize(
    ("text", "size"),
    [("16MiB", 16 * MIB), ("64k", 64 * KIB), ("64KB", 64 * KIB), ("1048576", MIB), ("2m", 2 * MIB)],
)
def test_sizes_are_read_in_1024_units(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MiB", "-1k", "1.5M", "16 GiB", "16mk"])
def test_other_sizes_are_refused(text: str) -> None:
    assert parse_size(text) is None


class Echo:
    """An app that reads the whole body (as the routes do) and answers its length."""

    def __init__(self) -> None:
        self.caught: list[int] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        try:
            body = await request.body()
        except FhirError as exc:  # a route turning the refusal into its own answer
            self.caught.append(exc.status)
            await Response(b"the route's own answer", status_code=400)(scope, receive, send)
            return
        await Response(str(len(body)).encode())(scope, receive, send)


def run(
    path: str, chunks: list[bytes], headers: tuple[tuple[bytes, bytes], ...] = ()
) -> tuple[int, dict[bytes, bytes], bytes, int, Echo]:
    """(status, headers, body, chunks the client handed over, the app) for one request."""
    app = Echo()
    taken = 0
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal taken
        taken += 1
        more = taken < len(chunks)
        return {"type": "http.request", "body": chunks[taken - 1], "more_body": more}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": path, "headers": list(headers)}
    # In a thread of its own: a browser test earlier in the session may leave an event loop
    # running in this one (Playwright's sync API), and asyncio.run refuses to nest.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, BodyLimit(app, LIMITS)(scope, receive, send)).result()
    start, body = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], dict(start["headers"]), body, taken, app


def test_a_body_within_the_limit_reaches_the_app_whole() -> None:
    status, _, body, taken, _ = run("/fhir/Patient", [b"x" * KIB] * 4)
    assert (status, body, taken) == (200, b"4096", 4)


def test_a_streamed_body_is_read_only_until_it_passes_the_limit() -> None:
    status, headers, body, taken, app = run("/fhir/Patient", [b"x" * KIB] * 1000)
    assert status == 413 and taken == 5  # the fifth KiB passed 4 KiB: nothing more was read
    assert app.caught == [413]  # the route saw the refusal, but its answer was replaced
    assert headers[b"connection"] == b"close"
    outcome = orjson.loads(body)
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "too-long"


def test_a_declared_length_over_the_limit_is_refused_before_the_app_runs() -> None:
    declared = ((b"content-length", str(10 * KIB).encode()),)
    status, headers, body, taken, app = run("/auth/token", [b"x" * KIB] * 10, declared)
    assert (status, taken, app.caught) == (413, 0, [])
    assert headers[b"content-type"] == b"application/json"
    assert orjson.loads(body)["error"] == "invalid_request"
