"""Pull from an upstream FHIR R4 server, incrementally, deletions included.

Per resource type, in the configured order (Patient first, since the others refer to it):

1. where the source's CapabilityStatement offers ``history-type``, read
   ``Type/_history?_since=<mark>`` (http.html#history) page by page: it carries updates *and*
   deletions (entries without a resource, request method DELETE), newest first, so the first
   entry of an id is its current state;
2. otherwise search ``Type?_lastUpdated=ge<mark>&_sort=_lastUpdated`` (search.html#lastUpdated),
   which cannot see deletions (said so in ``upstream status``).

Each source version becomes one :class:`~bedside.upstream.canonical.Delivery` (entity
``Type/id/_history/vid`` at the source), so a second pull of the same versions writes nothing,
and the mark moves to the newest ``lastUpdated`` seen only after the page is written. A source
whose CapabilityStatement offers Bulk Data ``$export`` is pulled by one export instead
(:mod:`bedside.upstream.fhir_bulk`), deletions from the manifest's ``deleted`` files.

Next links are followed only when they stay under the source's base URL, so a hostile source
cannot point the puller at another host.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import httpx
import orjson

from bedside.errors import BedsideError, FhirError
from bedside.upstream import ledger
from bedside.upstream.canonical import Delivery, Writer, add_identifier
from bedside.upstream.config import FhirSource, UpstreamError
from bedside.upstream.counters import Counters
from bedside.upstream.credentials import Credentials
from bedside.upstream.fhir_bulk import BulkExport
from bedside.upstream.identity import patient_id, record_id

__all__ = ["FhirPull", "PullReport"]

log = logging.getLogger("bedside.upstream")
_SKIPPED: Final = frozenset({"Provenance", "AuditEvent", "Bundle", "OperationOutcome"})
_FAR_PAST: Final = "1900-01-01T00:00:00Z"


@dataclass
class PullReport:
    by_type: dict[str, int] = field(default_factory=dict)  # resources written, per type
    deleted: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    mode: dict[str, str] = field(default_factory=dict)  # type → history or search

    @property
    def written(self) -> int:
        return sum(self.by_type.values())


class FhirPull:
    def __init__(
        self,
        writer: Writer,
        source: FhirSource,
        counters: Counters,
        client: httpx.Client,
        credentials: Credentials,
    ) -> None:
        self.writer = writer
        self.source = source
        self.counters = counters
        self.http = client
        self.credentials = credentials
        self.refs: dict[str, str] = {}

    def run(self, on_progress: Callable[[str, int], None] = lambda t, n: None) -> PullReport:
        started = time.perf_counter()
        report = PullReport()
        store = self.writer.repo.store
        with store.records() as db:
            marks = ledger.marks(db, self.source.name)
            self.refs = ledger.local_refs(db, self.source.name)
        history, export = self._capabilities()
        if export:
            self._bulk(marks, report, on_progress)
            report.seconds = time.perf_counter() - started
            self.counters.add("pulls")
            self.counters.add("resources_written", report.written)
            return report
        for rtype in self.source.types:
            if rtype in _SKIPPED:
                continue
            mode = "history" if rtype in history else "search"
            report.mode[rtype] = mode
            since = marks.get(rtype)
            pages = self._history(rtype, since) if mode == "history" else self._search(rtype, since)
            for entries in pages:
                newest = self._apply(rtype, entries, report)
                if newest:
                    with store.records(write=True) as db:
                        ledger.mark(db, self.source.name, rtype, newest, int(time.time()))
                on_progress(rtype, len(entries))
        report.seconds = time.perf_counter() - started
        self.counters.add("pulls")
        self.counters.add("resources_written", report.written)
        return report

    def _bulk(
        self,
        marks: dict[str, str],
        report: PullReport,
        on_progress: Callable[[str, int], None],
    ) -> None:
        """Bulk Data ``$export`` (docs/upstream.md): one export since the oldest mark."""
        types = [t for t in self.source.types if t not in _SKIPPED]
        since = None if any(t not in marks for t in types) else min(marks[t] for t in types)
        export = BulkExport(self, types, since)
        for rtype, entries in export.entries():
            report.mode[rtype] = "bulk export"
            self._apply(rtype, entries, report)
            on_progress(rtype, len(entries))
        with self.writer.repo.store.records(write=True) as db:
            for rtype in types:
                ledger.mark(db, self.source.name, rtype, export.transaction_time, int(time.time()))

    # --- reading the source -------------------------------------------------------------------

    def request(
        self, method: str, url: str, params: dict[str, str] | None = None, **headers: str
    ) -> httpx.Response:
        """One request to the source, with its token; only under its base URL (or, for Bulk
        Data status and files, on its host)."""
        if not _same_origin(url, self.source.base_url):
            raise UpstreamError(f"Source {self.source.name} sent a link outside its own host.")
        head = {"Accept": "application/fhir+json", **headers}
        token = self.credentials.token(self.http)
        if token:
            head["Authorization"] = f"Bearer {token}"
        try:
            return self.http.request(method, url, params=params, headers=head)
        except httpx.HTTPError as exc:
            raise UpstreamError(
                f"Source {self.source.name} could not be reached ({type(exc).__name__})."
            ) from None

    def _get(self, url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        if not url.startswith(self.source.base_url + "/") and url != self.source.base_url:
            raise UpstreamError(f"Source {self.source.name} sent a link outside its base URL.")
        resp = self.request("GET", url, params)
        if resp.status_code != 200:
            raise UpstreamError(f"Source {self.source.name} answered {resp.status_code} to a read.")
        try:
            body: dict[str, Any] = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            raise UpstreamError(
                f"Source {self.source.name} sent a body that is not JSON."
            ) from None
        return body

    def _capabilities(self) -> tuple[set[str], bool]:
        """The types with type history, and whether the source offers Bulk Data ``$export``."""
        cap = self._get(f"{self.source.base_url}/metadata")
        out = set()
        export = False
        for rest in cap.get("rest") or []:
            for res in rest.get("resource") or []:
                codes = {i.get("code") for i in res.get("interaction") or []}
                if "history-type" in codes:
                    out.add(str(res.get("type")))
            for op in rest.get("operation") or []:
                if op.get("name") == "export" or str(op.get("definition", "")).endswith("/export"):
                    export = True
        return out, export

    def _pages(self, url: str, params: dict[str, str]) -> Iterator[list[dict[str, Any]]]:
        bundle = self._get(url, params)
        while True:
            yield [e for e in bundle.get("entry") or [] if isinstance(e, dict)]
            nxt = next(
                (
                    link.get("url")
                    for link in bundle.get("link") or []
                    if link.get("relation") == "next"
                ),
                None,
            )
            if not nxt:
                return
            bundle = self._get(str(nxt))

    def _history(self, rtype: str, since: str | None) -> Iterator[list[dict[str, Any]]]:
        params = {"_count": str(self.source.page_size), "_since": since or _FAR_PAST}
        # newest first across pages: collect, then hand out oldest first in page-size slices
        seen: dict[str, dict[str, Any]] = {}
        for page in self._pages(f"{self.source.base_url}/{rtype}/_history", params):
            for entry in page:
                rid = _entry_id(entry)
                if rid and rid not in seen:
                    seen[rid] = entry
        ordered = sorted(seen.values(), key=_modified)
        for i in range(0, len(ordered), self.source.page_size):
            yield ordered[i : i + self.source.page_size]

    def _search(self, rtype: str, since: str | None) -> Iterator[list[dict[str, Any]]]:
        params = {"_count": str(self.source.page_size), "_sort": "_lastUpdated"}
        if since:
            params["_lastUpdated"] = f"ge{since}"
        yield from self._pages(f"{self.source.base_url}/{rtype}", params)

    # --- writing ---------------------------------------------------------------------------

    def _apply(self, rtype: str, entries: list[dict[str, Any]], report: PullReport) -> str | None:
        newest: str | None = None
        for entry in entries:
            src_id = _entry_id(entry)
            if not src_id:
                continue
            modified = _modified(entry)
            newest = max(newest or modified, modified)
            resource = entry.get("resource")
            method = str(entry.get("request", {}).get("method", "GET"))
            version = _version(entry)
            entity = f"{rtype}/{src_id}/_history/{version}"
            url: str | None = f"{self.source.base_url}/{entity}"
            if version == "0" and method == "DELETE":  # a bulk export's deletion: no version
                entity, url = f"{rtype}/{src_id}/deleted/{modified}", None
            try:
                if method == "DELETE" or not isinstance(resource, dict):
                    local = self._local_ref(rtype, src_id, None)
                    delivery = Delivery(
                        entity=entity,
                        raw=f"DELETE {entity}".encode(),
                        deletes=[local],
                        entity_ref=url,
                        entity_display=f"deleted at source {self.source.name}",
                    )
                    outcome = self.writer.deliver(delivery)
                    report.deleted += outcome.written
                    continue
                body = self._canonical(rtype, src_id, resource)
                delivery = Delivery(
                    entity=entity,
                    raw=orjson.dumps(resource, option=orjson.OPT_SORT_KEYS),
                    resources=[body],
                    entity_ref=url,
                )
                outcome = self.writer.deliver(delivery)
            except Exception as exc:  # one bad resource never stops the others
                message = _reason(exc)
                report.errors.append(f"{entity}: {message}")
                self.counters.add("resources_refused")
                kept = orjson.dumps({"type": rtype, "entry": entry}, option=orjson.OPT_SORT_KEYS)
                with self.writer.repo.store.records(write=True) as db:  # kept, never dropped
                    ledger.add_dead_letter(
                        db, self.source.name, entity, kept, message, int(time.time())
                    )
                continue
            if outcome.written:
                report.by_type[rtype] = report.by_type.get(rtype, 0) + outcome.written
            else:
                report.unchanged += 1
        return newest

    def replay(self, letter: ledger.DeadLetter) -> str | None:
        """Write a dead-lettered source version again; None when it went through, else why."""
        with self.writer.repo.store.records() as db:
            self.refs = ledger.local_refs(db, self.source.name)
        kept = orjson.loads(letter.message)
        report = PullReport()
        self._apply(str(kept["type"]), [kept["entry"]], report)
        if report.errors:
            return report.errors[0].split(": ", 1)[-1]
        with self.writer.repo.store.records(write=True) as db:
            ledger.resolve_dead_letter(db, letter.id, int(time.time()))
        return None

    def _canonical(self, rtype: str, src_id: str, resource: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = _rewrite(resource, self._ref_for)
        local = self._local_ref(rtype, src_id, resource)
        body["id"] = local.split("/", 1)[1]
        meta = {
            k: v for k, v in (body.get("meta") or {}).items() if k in ("profile", "security", "tag")
        }
        body["meta"] = meta
        add_identifier(body, f"{self.source.system}/{rtype}", src_id)
        return body

    def _local_ref(self, rtype: str, src_id: str, resource: dict[str, Any] | None) -> str:
        key = f"{rtype}/{src_id}"
        if key in self.refs:
            return self.refs[key]
        local = f"{rtype}/{record_id(self.source.system, rtype, src_id)}"
        if rtype == "Patient" and resource is not None:
            shared = [
                i
                for i in resource.get("identifier") or []
                if isinstance(i, dict)
                and i.get("system") in self.source.patient_identifiers
                and i.get("value")
            ]
            if shared:
                found = self.writer.match_patient(shared)
                local = found or f"Patient/{patient_id(shared[0]['system'], shared[0]['value'])}"
            with self.writer.repo.store.records(write=True) as db:
                ledger.note_ref(db, self.source.name, key, local)
        self.refs[key] = local
        return local

    def _ref_for(self, ref: str) -> str | None:
        """A source reference as the local one (None: leave it, e.g. ``#contained``)."""
        base = self.source.base_url + "/"
        if ref.startswith(base):
            ref = ref[len(base) :]
        parts = ref.split("/")
        if (
            len(parts) in (2, 4)
            and parts[0][:1].isupper()
            and (len(parts) == 2 or parts[2] == "_history")
        ):
            return self._local_ref(parts[0], parts[1], None)
        return None


def _reason(exc: Exception) -> str:
    """A sentence for the report and the dead letter: our own errors say what is wrong without
    content; anything else is named by its type only (its text might quote a value)."""
    if isinstance(exc, FhirError):
        return exc.message
    if isinstance(exc, BedsideError):
        return str(exc)
    return f"The resource could not be written ({type(exc).__name__})."


def _same_origin(url: str, base: str) -> bool:
    a, b = urlsplit(url), urlsplit(base)
    return (a.scheme, a.netloc) == (b.scheme, b.netloc)


def _rewrite(node: Any, resolve: Callable[[str], str | None]) -> Any:
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            if k == "reference" and isinstance(v, str):
                out[k] = resolve(v) or v
            else:
                out[k] = _rewrite(v, resolve)
        return out
    if isinstance(node, list):
        return [_rewrite(x, resolve) for x in node]
    return node


def _entry_id(entry: dict[str, Any]) -> str | None:
    resource = entry.get("resource")
    if isinstance(resource, dict) and resource.get("id"):
        return str(resource["id"])
    url = str(entry.get("request", {}).get("url") or entry.get("fullUrl") or "")
    tail = url.rstrip("/").split("/")
    return tail[-1] if len(tail) >= 2 else None


def _version(entry: dict[str, Any]) -> str:
    resource = entry.get("resource")
    if isinstance(resource, dict) and resource.get("meta", {}).get("versionId"):
        return str(resource["meta"]["versionId"])
    etag = str(entry.get("response", {}).get("etag", ""))
    return etag.removeprefix("W/").strip('"') or "0"


def _modified(entry: dict[str, Any]) -> str:
    resource = entry.get("resource")
    if isinstance(resource, dict) and resource.get("meta", {}).get("lastUpdated"):
        return str(resource["meta"]["lastUpdated"])
    return str(entry.get("response", {}).get("lastModified") or _FAR_PAST)
