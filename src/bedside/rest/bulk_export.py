"""Bulk Data Access ``$export`` (FHIR Bulk Data IG 2.0, export.html): jobs, files, expiry.

A kick-off (``GET [base]/$export``, ``Patient/$export``, ``Group/{id}/$export`` with
``Prefer: respond-async``) is checked inside the caller's Repository, then runs in a worker
thread: one read transaction (one snapshot) streams each type's rows from the database, a page
of :data:`PAGE` at a time, straight into an NDJSON file, so an export never holds more than a
page in memory. Each type is confined exactly as a search of it by the caller would be
(``Access.rows(type, "search")``: scopes, role, compartments, consent and labels, decided
again in the worker's transaction). Types the token may not search are left out, or refused
(403) when ``_type`` names them.

Jobs live in ``<data dir>/exports/<job id>/`` (:mod:`bedside.rest.export_jobs`; owner-only:
0700 folders, 0600 files): the job's state (``job.json``) and the NDJSON files, so every server
worker sees every job. A job, its status and its files belong to the client that started it
(its ``client_id``, else its token subject): anyone else is told it does not exist (404).
``DELETE`` on the status URL cancels a job and removes its files; every job and its files are
removed :attr:`BulkExports.expires` seconds after they are complete (swept at every kick-off and
status request). Kick-off, completion, download and cancel are each audited.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl

from bedside.audit.entry import AuditEntry, Auditor
from bedside.auth.caller import Caller
from bedside.errors import FhirError, Forbidden, InvalidRequest, NotFound
from bedside.fhir.compartment import PATIENT_COMPARTMENT, patient_compartment
from bedside.fhir.resource_types import NOT_STORED, RESOURCE_TYPES, is_resource_type
from bedside.fhir.search.query import SearchQuery, parse_search
from bedside.policy.decide import Policy
from bedside.rest.access import Access
from bedside.rest.export_deleted import write_deleted
from bedside.rest.export_jobs import ExportJob, JobFolders
from bedside.rest.interactions import Interactions, load
from bedside.rest.links import bind_links
from bedside.rest.types import FhirRequest, FhirResponse
from bedside.store.base import Session, Store

if TYPE_CHECKING:
    from bedside.rest.repository import Repository

__all__ = ["DEFINITIONS", "NDJSON", "PAGE", "BulkExports", "owner_of"]

log = logging.getLogger("bedside.export")
PAGE: Final = 1000
NDJSON: Final = "application/fhir+ndjson"
_FORMATS: Final = frozenset({NDJSON, "application/ndjson", "ndjson"})
_PARAMETERS: Final = frozenset(
    {"_outputFormat", "_since", "_type", "_typeFilter", "_format", "_pretty"}
)
DEFINITIONS: Final = {
    "system": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
    "patient": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
    "group": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/group-export",
}
#: What a system-level export covers: every stored type but the audit trail (ADR 0006).
_SYSTEM_TYPES: Final = tuple(sorted(RESOURCE_TYPES - NOT_STORED - {"AuditEvent"}))
_PATIENT_TYPES: Final = ("Patient", *sorted(set(PATIENT_COMPARTMENT) - {"Patient", "AuditEvent"}))


class BulkExports:
    """The export jobs of one server: started from a Repository, served by web/bulk_http."""

    def __init__(
        self,
        root: Path,
        store: Store,
        policy: Policy,
        auditor: Auditor,
        *,
        expires: float = 3600.0,
        start: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self.root = root
        self.jobs = JobFolders(root)
        self.store = store
        self.policy = policy
        self.auditor = auditor
        self.expires = expires
        self._start = start or _thread

    # --- kick-off (inside the caller's Repository) -------------------------------------------

    def kick_off(
        self, repo: Repository, session: Session, level: str, group: str | None, req: FhirRequest
    ) -> FhirResponse:
        """export.html#bulk-data-kick-off-request: 202 with the status URL."""
        if req.method != "GET" and req.method != "POST":
            raise InvalidRequest("Start an export with GET (or POST).")
        if not req.prefer_async:
            raise InvalidRequest("A bulk export needs the header Prefer: respond-async.")
        params = dict(req.query)
        unknown = set(params) - _PARAMETERS
        if unknown and not req.lenient:
            raise InvalidRequest(f"Unknown $export parameter(s): {', '.join(sorted(unknown))}.")
        if params.get("_outputFormat", NDJSON) not in _FORMATS:
            raise InvalidRequest("_outputFormat must be application/fhir+ndjson.")
        types = self._types(repo.access, level, params.get("_type"))
        since = params.get("_since")
        if since is not None:
            parse_search("Patient", [("_lastUpdated", f"ge{since}")])  # 400 unless a date
        filters = _filters(req, types)
        for rtype, queries in filters.items():
            for query in queries:  # each must be a valid search of its type, bound now
                bind_links(parse_search(rtype, parse_qsl(query)), repo.access)
        members = None
        if level == "group":
            assert group is not None
            members = _members(repo, session, group)
        self.sweep()
        job = ExportJob(
            id=secrets.token_hex(16),
            owner=owner_of(repo.caller),
            level=level,
            types=types,
            since=since,
            filters=filters,
            patients=members,
            request=f"{repo.base}/{req.path}",
            created=time.time(),
        )
        self.jobs.save(job)
        repo.trail.note(
            "operation",
            rtype="Group" if level == "group" else ("Patient" if level == "patient" else None),
            patients=members or (),
            description=f"bulk export started ({level} level, {len(types)} types)",
        )
        caller = repo.caller
        self._start(lambda: self.run(job.id, caller))
        status = f"{repo.base}/$export-status/{job.id}"
        return FhirResponse(202, None, headers={"Content-Location": status})

    def _types(self, access: Access, level: str, wanted: str | None) -> list[str]:
        names = _PATIENT_TYPES if level != "system" else _SYSTEM_TYPES
        if wanted is None:
            return [t for t in names if _may_search(access, t)]
        asked = [t.strip() for t in wanted.split(",") if t.strip()]
        for t in asked:
            if not is_resource_type(t) or t not in names:
                raise InvalidRequest(f"_type: {t} cannot be exported at the {level} level.")
            access.require(t, "search")  # 403 when the token may not read it
        return [t for t in names if t in asked]

    # --- the worker --------------------------------------------------------------------------

    def run(self, job_id: str, caller: Caller) -> None:
        """Export every type of the job, one read transaction, streaming page by page."""
        job = self.jobs.load(job_id)
        if job is None:
            return
        total = 0
        try:
            with self.store.read() as session:
                access = Access(caller, self.policy.view(session.records(), caller))
                snapshot = session.max_seq()
                job.transaction_time = _iso(time.time())
                output = []
                for rtype in job.types:
                    count = self._export_type(session, access, job, rtype, snapshot)
                    if count is None:  # cancelled
                        return
                    if count:
                        output.append({"type": rtype, "file": f"{rtype}.ndjson", "count": count})
                    total += count
                    job.done_types += 1
                    if not self.jobs.save(job, only_if_exists=True):
                        return
                if job.since:
                    job.deleted = write_deleted(session, access, job, snapshot, self.root)
            job.output = output
            job.state = "completed"
            job.finished = time.time()
            self.jobs.save(job, only_if_exists=True)
            self._audit(caller, f"bulk export completed: {total} resources", job)
        except Exception as exc:  # the client sees "failed"; no PHI in the log line
            log.error("bulk export failed", extra={"error_type": type(exc).__name__})
            job.state = "failed"
            job.finished = time.time()
            self.jobs.save(job, only_if_exists=True)

    def _export_type(
        self, session: Session, access: Access, job: ExportJob, rtype: str, snapshot: int
    ) -> int | None:
        visible = access.rows(rtype, "search")
        if visible is not None and visible.nothing:
            return 0
        texts: list[str | None] = [*job.filters.get(rtype, [])] or [None]
        queries = [self._query(access, job, rtype, q) for q in texts]
        path = self.root / job.id / f"{rtype}.ndjson"
        seen: set[int] = set()
        count = 0
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            for query in queries:
                after = None
                while True:
                    if not (self.root / job.id).exists():
                        return None  # cancelled: the folder is gone
                    page = session.search(
                        query, snapshot=snapshot, after=after, limit=PAGE, visible=visible
                    )
                    for row in page.rows:
                        if row.rid in seen or row.content is None:
                            continue
                        if len(queries) > 1:
                            seen.add(row.rid)
                        out.write(row.content)
                        out.write(b"\n")
                        count += 1
                    if len(page.rows) < PAGE:
                        break
                    after = page.keys[-1]
        if count == 0:
            path.unlink(missing_ok=True)
        return count

    def _query(self, access: Access, job: ExportJob, rtype: str, text: str | None) -> SearchQuery:
        pairs = parse_qsl(text) if text else []
        if job.since:
            pairs.append(("_lastUpdated", f"ge{job.since}"))
        query = bind_links(parse_search(rtype, pairs), access)
        compartment = None
        if job.patients is not None:
            compartment = patient_compartment(rtype, *job.patients)
        return SearchQuery(resource_type=rtype, clauses=query.clauses, compartment=compartment)

    # --- status, files, cancel (web/bulk_http.py) ----------------------------------------------

    def status(self, caller: Caller, job_id: str, base: str) -> tuple[int, Any, dict[str, str]]:
        """export.html#bulk-data-status-request: (HTTP status, body, headers)."""
        self.sweep()
        job = self._owned(caller, job_id)
        if job.state == "in-progress":
            progress = f"{job.done_types} of {len(job.types)} types exported"
            return 202, None, {"Retry-After": "1", "X-Progress": progress}
        if job.state == "failed":
            raise FhirError("The export failed; start it again.", code="exception")
        assert job.finished is not None
        expires = datetime.fromtimestamp(job.finished + self.expires, UTC)
        manifest = {
            "transactionTime": job.transaction_time,
            "request": job.request,
            "requiresAccessToken": True,
            "output": [
                {
                    "type": o["type"],
                    "url": f"{base}/$export-file/{job.id}/{o['file']}",
                    "count": o["count"],
                }
                for o in job.output or []
            ],
            "error": [],
        }
        if job.deleted:
            manifest["deleted"] = [
                {
                    "type": "Bundle",
                    "url": f"{base}/$export-file/{job.id}/deleted.ndjson",
                    "count": job.deleted,
                }
            ]
        headers = {"Expires": expires.strftime("%a, %d %b %Y %H:%M:%S GMT")}
        return 200, manifest, headers

    def file(self, caller: Caller, job_id: str, name: str) -> Path:
        """The path of one NDJSON file of a completed job the caller owns (else 404)."""
        job = self._owned(caller, job_id)
        files = {o["file"]: o for o in job.output or []}
        if job.deleted:
            files["deleted.ndjson"] = {"type": "deleted Bundle"}
        if job.state != "completed" or name not in files:
            raise NotFound("No such export file.")
        self._audit(caller, f"bulk export file downloaded: {files[name]['type']}", job)
        return self.root / job.id / name

    def cancel(self, caller: Caller, job_id: str) -> None:
        """export.html#bulk-data-delete-request: stop the job and remove its files."""
        job = self._owned(caller, job_id)
        shutil.rmtree(self.root / job.id, ignore_errors=True)
        self._audit(caller, "bulk export cancelled", job)

    def sweep(self) -> None:
        """Remove jobs (and their files) that expired, and failed ones after the same time."""
        if not self.root.exists():
            return
        now = time.time()
        for folder in self.root.iterdir():
            job = self.jobs.load(folder.name)
            done = job.finished if job is not None else None
            if job is None or (done is not None and now > done + self.expires):
                shutil.rmtree(folder, ignore_errors=True)

    # --- storage -------------------------------------------------------------------------------

    def _owned(self, caller: Caller, job_id: str) -> ExportJob:
        job = self.jobs.load(job_id) if _valid_id(job_id) else None
        if job is None or not secrets.compare_digest(job.owner, owner_of(caller)):
            raise NotFound("No such export.")
        return job

    def _audit(self, caller: Caller, description: str, job: ExportJob) -> None:
        self.auditor.submit(
            [
                AuditEntry.of(
                    caller,
                    "operation",
                    "R",
                    now=self.policy.clock(),
                    patients=tuple(job.patients or ()),
                    entities=(f"$export/{job.id}",),
                    description=description,
                )
            ]
        )


def owner_of(caller: Caller) -> str:
    """Who an export belongs to: the client that asked, else the token's subject."""
    return f"client:{caller.client_id}" if caller.client_id else f"sub:{caller.subject}"


def _may_search(access: Access, rtype: str) -> bool:
    try:
        access.require(rtype, "search")
    except FhirError:
        return False
    return True


def _filters(req: FhirRequest, types: list[str]) -> dict[str, list[str]]:
    """``_typeFilter=Observation?category=laboratory`` (repeatable, ORed per type)."""
    out: dict[str, list[str]] = {}
    for name, value in req.query:
        if name != "_typeFilter":
            continue
        for item in value.split(","):
            rtype, sep, query = item.partition("?")
            if not sep or rtype not in types or not query:
                raise InvalidRequest(
                    f"_typeFilter {rtype or item} must be Type?query of an exported type."
                )
            out.setdefault(rtype, []).append(query)
    return out


def _members(repo: Repository, session: Session, group: str) -> list[str]:
    """The Patients of a Group the caller may read (404 when the Group is not visible)."""
    resource = load(Interactions(session, repo.access, repo.hooks).read("Group", group))
    members = []
    for member in resource.get("member", []):
        ref = (member.get("entity") or {}).get("reference", "")
        if isinstance(ref, str) and ref.startswith("Patient/"):
            members.append(ref.split("/", 1)[1])
    if not members:
        raise Forbidden("The Group has no Patient members to export.")
    return sorted(set(members))


def _valid_id(job_id: str) -> bool:
    return len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id)


def _iso(seconds: float) -> str:
    return (
        datetime.fromtimestamp(seconds, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def _thread(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="bulk-export", daemon=True).start()
