"""The PHI scrubber (bedside.logs) and the access log: what may and may not reach a log line."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import threading
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import structlog
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.types import Message, Scope

from bedside import logs
from bedside.logs import REDACTED, configure_logging, path_template, scrub, scrub_text
from bedside.web.access_log import AccessLog

CANARY = "Quixtrapper"


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """configure_logging into a buffer; the process's logging set-up is restored afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, threading.excepthook, warnings.showwarning)
    stream = io.StringIO()
    configure_logging("info", stream=stream)
    yield stream
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    threading.excepthook, warnings.showwarning = saved[2], saved[3]
    structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[str]:
    return stream.getvalue().splitlines()


def test_public_api_is_sorted_and_complete() -> None:
    assert logs.__all__ == sorted(logs.__all__)
    assert all(hasattr(logs, name) for name in logs.__all__)


def test_values_of_keys_outside_the_allow_list_are_redacted() -> None:
    out = scrub(None, "info", {"event": "created", "family": CANARY, "count": 2, "body": {}})
    assert out == {"event": "created", "family": REDACTED, "count": 2, "body": REDACTED}


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("status", CANARY, REDACTED),
        ("status", True, REDACTED),
        ("duration_ms", 1.5, 1.5),
        ("method", "PATCH", "PATCH"),
        ("method", CANARY, "OTHER"),
        ("resource_type", "Observation", "Observation"),
        ("resource_type", CANARY, REDACTED),
        ("request_id", "ab12", "ab12"),
        ("request_id", f"{CANARY} Zebulonia", REDACTED),
        ("error_type", "psycopg.errors.UniqueViolation", "psycopg.errors.UniqueViolation"),
        ("error_type", f"{CANARY}: born 1917", REDACTED),
        ("path", f"/fhir/Patient/{CANARY}?name={CANARY}", "/fhir/Patient/{id}"),
    ],
)
def test_allowed_keys_keep_only_values_of_their_shape(
    key: str, value: object, expected: object
) -> None:
    assert scrub(None, "info", {"event": "x", key: value})[key] == expected


def test_keys_that_are_not_names_are_dropped() -> None:
    assert scrub(None, "info", {"event": "x", f"{CANARY} name": 1}) == {"event": "x"}


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/fhir/Patient/123?name=X&birthdate=1917-04-23", "/fhir/Patient/{id}"),
        ("/fhir/Patient?name=Zebulonia", "/fhir/Patient"),
        ("/fhir/Observation/a1/_history/3", "/fhir/Observation/{id}/_history/{vid}"),
        (f"/fhir/Patient/{CANARY}/_history", "/fhir/Patient/{id}/_history"),
        ("/fhir/Patient/_search", "/fhir/Patient/_search"),
        ("/fhir/Patient/1/$everything", "/fhir/Patient/{id}/$everything"),
        (f"/fhir/${CANARY}", "/fhir/${op}"),
        ("/fhir/.well-known/smart-configuration", "/fhir/.well-known/smart-configuration"),
        ("/auth/grants/g-7", "/auth/grants/{id}"),
        (f"/{CANARY}/fhir/metadata", "/{id}/fhir/metadata"),
        ("/fhir/", "/fhir/"),
        ("", "/"),
    ],
)
def test_paths_are_logged_as_templates_without_the_query(path: str, template: str) -> None:
    assert path_template(path) == template


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail zebulonia.q@example.org now", "mail [email] now"),
        ("born 1917-04-23, seen 04/23/1917", "born [date], seen [date]"),
        ("at 2026-01-02T03:04:05.6+01:00", "at [date]"),
        ("call +1 (555) 014-7788", "call [phone]"),
        ("mrn ZQ-58213-CANARY ok", "mrn [id] ok"),
        ("from 10.1.2.3", "from [id]"),
        ("refs Patient/abc and Observation/x-1", "refs Patient/{id} and Observation/{id}"),
        ("GET /fhir/Patient?name=Zebulonia done", "GET /fhir/Patient done"),
        ("token eyJhbGciOiJSUzI1NiJ9xyzABCdefGHIjklMNO", "token [id]"),
        ("Application startup complete.", "Application startup complete."),
    ],
)
def test_free_text_loses_what_looks_like_identifiers(text: str, expected: str) -> None:
    assert scrub_text(text) == expected


def test_stdlib_string_arguments_are_redacted_and_numbers_kept(output: io.StringIO) -> None:
    logging.getLogger("uvicorn.error").warning("user %s has %d records", CANARY, 3)
    logging.getLogger("other").warning("%(who)s", {"who": CANARY})
    text = output.getvalue()
    assert CANARY not in text
    assert 'event="user [redacted] has 3 records"' in text
    assert "event=[redacted]" in text


def test_a_template_that_needs_the_redacted_argument_is_logged_bare() -> None:
    event = {"event": "%d records for %s", "positional_args": (CANARY, "x")}
    assert scrub(None, "warning", event) == {"event": "%d records for %s"}


def test_stdlib_extra_keeps_allowed_keys_only(output: io.StringIO) -> None:
    logging.getLogger("bedside.x").info("done", extra={"count": 4, "family": CANARY})
    assert lines(output)[-1].endswith("logger=bedside.x event=done count=4")


def test_exception_messages_are_never_logged(output: io.StringIO) -> None:
    log = structlog.get_logger("bedside.test")
    try:
        try:
            raise KeyError(CANARY)
        except KeyError as exc:
            raise ValueError(f"patient {CANARY} born 1917-04-23") from exc
    except ValueError as exc:
        log.exception("failed")
        logging.getLogger("uvicorn.error").error("Exception in ASGI application\n", exc_info=exc)
        logging.getLogger("uvicorn.error").error(exc)
    text = output.getvalue()
    assert CANARY not in text and "1917" not in text
    first, second, third = lines(output)
    assert "event=failed error_type=ValueError stack=unit/test_logs.py:" in first
    assert "error_type=ValueError" in second
    assert third.endswith("event=<ValueError>")


def test_structlog_positional_arguments_are_checked_like_stdlib_ones(output: io.StringIO) -> None:
    structlog.get_logger("bedside.test").info("loaded %s in %d ms", CANARY, 12)
    assert 'event="loaded [redacted] in 12 ms"' in output.getvalue()


def test_warnings_are_logged_without_their_text(output: io.StringIO) -> None:
    warnings.warn(f"value {CANARY} is odd", UserWarning, stacklevel=1)
    (line,) = lines(output)
    assert CANARY not in line
    assert (
        "logger=py.warnings event=warning error_type=UserWarning location=unit/test_logs.py:"
        in (line)
    )


def test_uncaught_thread_exceptions_go_through_the_scrubber(output: io.StringIO) -> None:
    def boom() -> None:
        raise RuntimeError(CANARY)

    thread = threading.Thread(target=boom)
    thread.start()
    thread.join()
    text = output.getvalue()
    assert CANARY not in text
    assert "error_type=RuntimeError" in text


def test_context_bound_request_id_reaches_stdlib_lines(output: io.StringIO) -> None:
    with structlog.contextvars.bound_contextvars(request_id="r1"):
        logging.getLogger("bedside.web").error("unhandled error")
    assert lines(output)[-1].endswith('event="unhandled error" request_id=r1')


def test_level_filters_every_logger(output: io.StringIO) -> None:
    configure_logging("warning", stream=output)
    logging.getLogger("bedside.x").info("hidden")
    uvicorn = logging.getLogger("uvicorn.error")
    uvicorn.setLevel(logging.DEBUG)
    try:
        uvicorn.info("also hidden")
    finally:
        uvicorn.setLevel(logging.NOTSET)
    logging.getLogger("bedside.x").warning("shown")
    assert [line.rsplit("event=", 1)[1] for line in lines(output)] == ["shown"]


def test_configuring_twice_does_not_duplicate_lines(output: io.StringIO) -> None:
    configure_logging("info", stream=output)
    logging.getLogger("bedside.x").info("once")
    assert len(lines(output)) == 1


def test_json_lines_are_one_object_each(output: io.StringIO) -> None:
    configure_logging("info", json=True, stream=output)
    structlog.get_logger("bedside.x").info("created", resource_type="Patient", given=CANARY)
    record = json.loads(lines(output)[-1])
    assert record["event"] == "created" and record["given"] == REDACTED
    assert {"timestamp", "level", "logger"} <= set(record)


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="log level"):
        configure_logging("loud")


def _app() -> AccessLog:
    async def ok(request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok", status_code=201)

    async def fail(request: Request) -> PlainTextResponse:
        raise RuntimeError(CANARY)

    routes = [Route("/fhir/{path:path}", ok, methods=["GET", "POST"]), Route("/boom", fail)]
    return AccessLog(Starlette(routes=routes))


def call(app: AccessLog, method: str, path: str, query: str = "") -> list[Message]:
    """One HTTP request straight through the ASGI interface; the messages the app sent."""
    scope: Scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": CANARY.encode(), "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    # In a thread of its own: an earlier test (Playwright's sync API) may have left an event
    # loop running in this one, and asyncio.run refuses to nest.
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, app(scope, receive, send)).result()
    return sent


def test_access_log_records_method_template_status_and_request_id(
    output: io.StringIO,
) -> None:
    start = call(_app(), "POST", f"/fhir/Patient/{CANARY}", f"name={CANARY}")[0]
    assert start["status"] == 201
    request_id = dict(start["headers"])[b"x-request-id"].decode()
    (line,) = lines(output)
    assert CANARY not in line
    assert "logger=bedside.access event=request method=POST path=/fhir/Patient/{id} status=201" in (
        line
    )
    assert f"request_id={request_id}" in line


def test_access_log_records_a_failing_request_as_500(output: io.StringIO) -> None:
    with pytest.raises(RuntimeError):
        call(_app(), "GET", "/boom")
    (line,) = lines(output)
    assert CANARY not in line
    assert "level=error" in line and "status=500" in line
    assert "error_type=RuntimeError" in line
