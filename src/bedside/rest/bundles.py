"""Transaction and batch Bundles (http.html#transaction).

A transaction runs every entry in one store session: all or nothing. Before any entry runs,
each ``fullUrl`` gets the id it will have (a new id for a create, the matched resource for a
conditional create), conditional references such as ``Organization?identifier=x|y`` are resolved
by search, and every reference is rewritten. Entries then run in the order the spec gives:
DELETE, POST, PUT/PATCH, GET/HEAD. A batch runs each entry on its own.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode

from bedside.errors import FhirError, InvalidRequest, PreconditionFailed
from bedside.fhir.outcome import operation_outcome
from bedside.fhir.validation import reference_is_well_formed
from bedside.rest.types import FhirRequest, FhirResponse
from bedside.store.base import Page, Session, StoredVersion, Write

__all__ = [
    "BufferedSession",
    "Finder",
    "Runner",
    "check_bundle",
    "entry_request",
    "error_entry",
    "response_entry",
    "run_transaction",
]

_ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}

Runner = Callable[[Session, FhirRequest], FhirResponse]
Finder = Callable[[Session, str, str], list[StoredVersion]]


class BufferedSession:
    """A Session that defers :meth:`apply` so a Bundle's creates reach the database together.

    Any read flushes the buffer first, so the transaction still sees its own writes.
    """

    def __init__(self, inner: Session) -> None:
        self._inner = inner
        self._pending: list[Write] = []

    def flush(self) -> None:
        if self._pending:
            pending, self._pending = self._pending, []
            self._inner.apply(pending)

    def apply(self, writes: Sequence[Write]) -> list[int]:
        self._pending.extend(writes)
        return [0] * len(writes)

    def __getattr__(self, name: str) -> Any:
        self.flush()
        return getattr(self._inner, name)

    def search(self, *args: Any, **kwargs: Any) -> Page:
        self.flush()
        return self._inner.search(*args, **kwargs)


def check_bundle(body: Any) -> tuple[str, list[dict[str, Any]]]:
    """The Bundle type and entries, or a 400 naming what is wrong."""
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise InvalidRequest("POST to the FHIR base takes a Bundle of type transaction or batch.")
    btype = body.get("type")
    if btype not in ("transaction", "batch"):
        raise InvalidRequest(
            "The Bundle type must be transaction or batch.", expression=("Bundle.type",)
        )
    entries = body.get("entry") or []
    if not isinstance(entries, list):
        raise InvalidRequest("Bundle.entry must be an array.", expression=("Bundle.entry",))
    for i, entry in enumerate(entries):
        req = entry.get("request") if isinstance(entry, dict) else None
        if (
            not isinstance(req, dict)
            or req.get("method") not in _ORDER
            or not isinstance(req.get("url"), str)
        ):
            raise InvalidRequest(
                f"Entry {i} needs request.method (GET, POST, PUT, PATCH, DELETE) and request.url.",
                expression=(f"Bundle.entry[{i}].request",),
            )
    return btype, entries


def entry_request(entry: dict[str, Any], prefer: str | None) -> FhirRequest:
    req = entry["request"]
    path, _, query = req["url"].partition("?")
    return FhirRequest(
        method=req["method"],
        path=path.strip("/"),
        query=tuple(parse_qsl(query, keep_blank_values=True)),
        body=entry.get("resource"),
        if_match=req.get("ifMatch"),
        if_none_exist=req.get("ifNoneExist"),
        prefer_return=prefer,
    )


def run_transaction(
    session: Session,
    entries: list[dict[str, Any]],
    run: Runner,
    find: Finder,
    prefer: str | None,
) -> list[FhirResponse]:
    """Run the entries in spec order (http.html#trules) in one session.

    DELETEs run first, before anything else is resolved, so a conditional create or a
    conditional reference later in the Bundle sees the deletions. Then every POST and PUT gets
    its id, references are rewritten, and the rest runs: POST, PUT/PATCH, GET/HEAD.
    """
    buffered = BufferedSession(session)
    requests = [entry_request(e, prefer) for e in entries]
    methods = [r.method for r in requests]  # processing order follows what the client asked
    results: list[FhirResponse | None] = [None] * len(requests)
    _check_overlaps(requests)
    for i in (i for i, m in enumerate(methods) if m == "DELETE"):
        results[i] = _run_entry(run, buffered, i, requests[i])
    mapping: dict[str, str] = {}
    for i, (entry, req) in enumerate(zip(entries, requests, strict=True)):
        if methods[i] != "DELETE":
            requests[i] = _assign(buffered, i, req, find, mapping, entry.get("fullUrl"))
    _check_overlaps(requests)
    requests = [_rewrite(buffered, i, r, mapping, find) for i, r in enumerate(requests)]
    order = sorted(
        (i for i, m in enumerate(methods) if m != "DELETE"), key=lambda i: _ORDER[methods[i]]
    )
    for i in order:
        results[i] = _run_entry(run, buffered, i, requests[i])
    buffered.flush()
    return [r for r in results if r is not None]


def _check_overlaps(requests: list[FhirRequest]) -> None:
    """DELETE, PUT and PATCH of one resource in one transaction are an error (http.html#trules)."""
    targets: set[str] = set()
    for i, req in enumerate(requests):
        if req.method not in ("GET", "HEAD", "POST") and "/" in req.path:
            if req.path in targets:
                raise InvalidRequest(f"Entry {i} changes a resource another entry also changes.")
            targets.add(req.path)


def _run_entry(run: Runner, session: BufferedSession, i: int, req: FhirRequest) -> FhirResponse:
    try:
        return run(session, req)
    except FhirError as exc:
        exc.message = f"Entry {i}: {exc.message}"
        exc.issues = tuple(
            dataclasses.replace(issue, diagnostics=f"Entry {i}: {issue.diagnostics}")
            for issue in exc.issues
        )
        raise


def _assign(
    session: BufferedSession,
    i: int,
    req: FhirRequest,
    find: Finder,
    mapping: dict[str, str],
    full_url: Any,
) -> FhirRequest:
    """Decide the id each entry's resource will have and record fullUrl → Type/id."""
    rtype = req.path.split("/")[0]
    if req.method == "POST" and "/" not in req.path and req.path:
        if req.if_none_exist:
            matches = find(session, rtype, req.if_none_exist)
            if len(matches) > 1:
                raise PreconditionFailed(f"Entry {i}: ifNoneExist matches more than one resource.")
            if matches:
                _map(mapping, full_url, f"{rtype}/{matches[0].id}")
                return FhirRequest(
                    "GET", f"{rtype}/{matches[0].id}", prefer_return=req.prefer_return
                )
        new_id = str(uuid.uuid4())
        _map(mapping, full_url, f"{rtype}/{new_id}")
        return FhirRequest(
            "PUT-NEW", f"{rtype}/{new_id}", body=req.body, prefer_return=req.prefer_return
        )
    if req.method == "PUT" and req.query and "/" not in req.path:
        matches = find(session, rtype, _qs(req.query))
        if len(matches) > 1:
            raise PreconditionFailed(
                f"Entry {i}: the conditional update matches several resources."
            )
        if matches:
            target = matches[0].id
        else:
            body_id = req.body.get("id") if isinstance(req.body, dict) else None
            target = body_id or str(uuid.uuid4())
        _map(mapping, full_url, f"{rtype}/{target}")
        body = {**req.body, "id": target} if isinstance(req.body, dict) else req.body
        return FhirRequest(
            "PUT",
            f"{rtype}/{target}",
            body=body,
            prefer_return=req.prefer_return,
            if_match=req.if_match,
        )
    if req.method in ("PUT", "PATCH") and "/" in req.path:
        _map(mapping, full_url, req.path)
    return req


def _map(mapping: dict[str, str], full_url: Any, target: str) -> None:
    if isinstance(full_url, str) and full_url:
        mapping[full_url] = target


def _qs(query: tuple[tuple[str, str], ...]) -> str:
    return urlencode(query)


def _rewrite(
    session: BufferedSession, i: int, req: FhirRequest, mapping: dict[str, str], find: Finder
) -> FhirRequest:
    """Point every reference at its final Type/id (http.html#trules), in place, in one walk.

    The body is the request's own parsed JSON, so rewriting it in place is safe and saves a copy.
    """
    body = req.body
    if not isinstance(body, dict) or req.method in ("GET", "DELETE", "PATCH"):
        return req

    def resolve(path: str, ref: str) -> str | None:
        if ref in mapping:
            return mapping[ref]
        if ref.startswith("urn:uuid:"):
            raise InvalidRequest(
                f"Entry {i}: {path} points at {ref}, which no entry of the Bundle has as fullUrl.",
                expression=(f"Bundle.entry[{i}].resource",),
            )
        if "?" in ref and reference_is_well_formed(ref, allow_conditional=True):
            rtype, _, query = ref.partition("?")
            matches = find(session, rtype, query)
            if len(matches) != 1:
                raise PreconditionFailed(
                    f"Entry {i}: the conditional reference at {path} matches "
                    f"{'no' if not matches else 'more than one'} resource."
                )
            mapping[ref] = f"{rtype}/{matches[0].id}"
            return mapping[ref]
        return None

    _replace_refs(body, body.get("resourceType", "Resource"), resolve)
    return req


def _replace_refs(node: Any, path: str, resolve: Callable[[str, str], str | None]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                new = resolve(f"{path}.reference", value)
                if new is not None:
                    node[key] = new
            elif isinstance(value, dict | list):
                _replace_refs(value, f"{path}.{key}", resolve)
    elif isinstance(node, list):
        for j, item in enumerate(node):
            if isinstance(item, dict | list):
                _replace_refs(item, f"{path}[{j}]", resolve)


def response_entry(resp: FhirResponse) -> dict[str, Any]:
    """A transaction-response or batch-response entry (Bundle.entry.response)."""
    response: dict[str, Any] = {"status": str(resp.status)}
    if resp.location:
        response["location"] = resp.location
    if resp.etag:
        response["etag"] = resp.etag
    if resp.last_modified:
        response["lastModified"] = resp.last_modified
    entry: dict[str, Any] = {"response": response}
    if resp.resource is not None:
        if resp.status >= 400:
            response["outcome"] = resp.resource
        else:
            entry["resource"] = resp.resource
    return entry


def error_entry(exc: FhirError) -> dict[str, Any]:
    return {
        "response": {
            "status": str(exc.status),
            "outcome": operation_outcome(exc.issues),
        }
    }
