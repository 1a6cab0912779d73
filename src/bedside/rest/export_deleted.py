"""Bulk Data 2.0 ``deleted``: what an export with ``_since`` reports as deleted since then.

Each resource of the job's types deleted at or after ``_since`` whose last version the caller
could have exported (inside their view and, for a Patient or Group export, the patients'
compartments: :mod:`bedside.fhir.search.confine`, as for pull tombstones) becomes a DELETE
entry of a transaction Bundle in ``deleted.ndjson``, at most :data:`PER_BUNDLE` a line.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import orjson

from bedside.fhir.dates import parse_range
from bedside.fhir.search.confine import admits, confine
from bedside.rest.access import Access
from bedside.rest.export_jobs import ExportJob
from bedside.store.base import Session

__all__ = ["PER_BUNDLE", "write_deleted"]

PER_BUNDLE: Final = 1000


def write_deleted(
    session: Session, access: Access, job: ExportJob, snapshot: int, root: Path
) -> int:
    """Write the job's ``deleted.ndjson``; how many resources it names (0: no file)."""
    bounds = parse_range(job.since or "")
    if bounds is None:
        return 0
    since = datetime.fromtimestamp(bounds[0] / 1000, UTC).isoformat(timespec="milliseconds")
    since = since.replace("+00:00", "Z")
    gone: list[str] = []
    for rtype in job.types:
        visible = access.rows(rtype, "search")
        if visible is not None and visible.nothing:
            continue
        if job.patients is not None:
            visible = confine(visible, rtype, job.patients)
        for rid, content in session.deleted_since(rtype, since, snapshot):
            if visible is None or admits(visible, orjson.loads(content)):
                gone.append(f"{rtype}/{rid}")
    if not gone:
        return 0
    fd = os.open(root / job.id / "deleted.ndjson", os.O_WRONLY | os.O_CREAT, 0o600)
    with os.fdopen(fd, "wb") as out:
        for start in range(0, len(gone), PER_BUNDLE):
            entries = [
                {"request": {"method": "DELETE", "url": u}}
                for u in gone[start : start + PER_BUNDLE]
            ]
            bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
            out.write(orjson.dumps(bundle) + b"\n")
    return len(gone)
