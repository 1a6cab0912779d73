"""Bulk import of Bundles and NDJSON through the same transaction path as the API.

Each Bundle file is one transaction (a batch stays a batch; a collection becomes a transaction of
PUTs or POSTs). NDJSON is read in chunks of resources, each chunk one transaction; a chunk that
fails is retried entry by entry so one bad line never stops the good ones. A bad file or entry is
reported with its file name and position and never with its content.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bedside.errors import FhirError
from bedside.rest import FhirRequest, Repository

__all__ = [
    "NDJSON_CHUNK",
    "ImportReport",
    "Unit",
    "as_transaction",
    "find_files",
    "import_paths",
    "run_unit",
    "units",
]

NDJSON_CHUNK = 500


@dataclass
class ImportReport:
    by_type: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    files: int = 0
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.by_type.values())

    @property
    def rate(self) -> float:
        return self.total / self.seconds if self.seconds else 0.0


@dataclass(frozen=True)
class Unit:
    """One transaction's worth of work: a Bundle, with where it came from."""

    source: str
    bundle: dict[str, Any]
    size: int
    lines: tuple[int, ...] = ()  # NDJSON: the line number of each entry


def find_files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(x for x in p.rglob("*") if x.suffix in (".json", ".ndjson")))
        else:
            out.append(p)
    return out


def units(path: Path) -> Iterator[Unit]:
    """Transactions to run for one file (raises ValueError for unreadable files)."""
    if path.suffix == ".ndjson":
        yield from _ndjson_units(path)
        return
    try:
        data = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"{path.name}: not valid JSON (at character {exc.pos})") from None
    if not isinstance(data, dict) or "resourceType" not in data:
        raise ValueError(f"{path.name}: not a FHIR resource")
    if data["resourceType"] != "Bundle":
        yield Unit(path.name, as_transaction([data]), 1)
        return
    entries = data.get("entry") or []
    if data.get("type") in ("transaction", "batch"):
        yield Unit(path.name, data, len(entries))
    else:
        resources = [e.get("resource") for e in entries if isinstance(e, dict)]
        yield Unit(path.name, as_transaction([r for r in resources if r]), len(resources))


def _ndjson_units(path: Path) -> Iterator[Unit]:
    chunk: list[Any] = []
    linenos: list[int] = []
    first = 1
    with path.open("rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                chunk.append(orjson.loads(line))
            except orjson.JSONDecodeError:
                chunk.append(_BadLine(lineno))
            linenos.append(lineno)
            if len(chunk) >= NDJSON_CHUNK:
                yield Unit(
                    f"{path.name}:{first}", as_transaction(chunk), len(chunk), tuple(linenos)
                )
                chunk, linenos, first = [], [], lineno + 1
    if chunk:
        yield Unit(f"{path.name}:{first}", as_transaction(chunk), len(chunk), tuple(linenos))


@dataclass(frozen=True)
class _BadLine:
    lineno: int


def as_transaction(resources: list[Any]) -> dict[str, Any]:
    """Resources with ids keep them (PUT Type/id, so references between them hold)."""
    entries = []
    for r in resources:
        if isinstance(r, _BadLine):
            entries.append(
                {"request": {"method": "POST", "url": "_invalid_json"}, "line": r.lineno}
            )
            continue
        rtype = r.get("resourceType", "") if isinstance(r, dict) else ""
        if isinstance(r, dict) and r.get("id"):
            req = {"method": "PUT", "url": f"{rtype}/{r['id']}"}
        else:
            req = {"method": "POST", "url": rtype}
        entries.append({"resource": r, "request": req})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def run_unit(repo: Repository, unit: Unit, report: ImportReport) -> None:
    """Load one unit; on failure retry its entries one by one and report the bad ones."""
    bundle = unit.bundle
    bad_lines = [e for e in bundle["entry"] if "line" in e]
    if not bad_lines:
        try:
            resp = repo.handle(FhirRequest("POST", "", body=bundle, prefer_return="minimal"))
            _count(resp.resource, bundle, report, unit.source)
            return
        except FhirError as exc:
            if bundle.get("type") == "transaction" and _has_urn_refs(bundle):
                report.errors.append(f"{unit.source}: {exc.message}")
                return
    for i, entry in enumerate(bundle["entry"]):
        where = f"{unit.source} entry {i}" if "line" not in entry else f"{unit.source}"
        if unit.lines and "line" not in entry:
            where = f"{unit.source.split(':')[0]} line {unit.lines[i]}"
        if "line" in entry:
            report.errors.append(f"{where.split(':')[0]} line {entry['line']}: not valid JSON")
            continue
        single = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
        try:
            resp = repo.handle(FhirRequest("POST", "", body=single, prefer_return="minimal"))
            _count(resp.resource, single, report, where)
        except FhirError as exc:
            report.errors.append(f"{where}: {exc.message}")


def _has_urn_refs(bundle: dict[str, Any]) -> bool:
    return any(str(e.get("fullUrl", "")).startswith("urn:") for e in bundle["entry"])


def _count(response: Any, bundle: dict[str, Any], report: ImportReport, source: str) -> None:
    entries = (response or {}).get("entry", [])
    for i, (req_entry, resp_entry) in enumerate(zip(bundle["entry"], entries, strict=False)):
        status = str(resp_entry.get("response", {}).get("status", ""))
        if status.startswith("2"):
            rtype = (req_entry.get("resource") or {}).get("resourceType", "?")
            report.by_type[rtype] += 1
        else:
            report.errors.append(f"{source} entry {i}: failed with status {status}")


def import_paths(
    repo: Repository,
    paths: list[Path],
    *,
    on_total: Callable[[int], None] = lambda n: None,
    on_progress: Callable[[int], None] = lambda n: None,
) -> ImportReport:
    """Load every file; a bad file is reported and the rest still load."""
    report = ImportReport()
    files = find_files(paths)
    on_total(sum(f.stat().st_size for f in files))
    started = time.perf_counter()
    for path in files:
        report.files += 1
        try:
            for unit in units(path):
                run_unit(repo, unit, report)
        except (ValueError, OSError) as exc:
            report.errors.append(
                str(exc) if isinstance(exc, ValueError) else f"{path.name}: {exc.strerror}"
            )
        on_progress(path.stat().st_size)
    report.seconds = time.perf_counter() - started
    return report
