"""Bulk Data export speed and memory: NDJSON resources/s and peak memory vs a bare SELECT.

A fresh store (SQLite in a temporary folder, or a fresh PostgreSQL schema) is filled with
``--count`` Observations across 1,000 patients, written with their search index through the
store's own write path (``Session.apply``, not timed). Then, in this process, same run:

* **baseline**: a bare ``SELECT content`` of the same rows (``fetchmany`` of 1,000), each
  written to an NDJSON file: what any export must at least do.
* **export**: a system-level ``$export`` job (``bedside.rest.bulk_export``) run to completion
  by an operator caller: visibility, keyset pages of 1,000 from one snapshot, one file per type.

Peak memory is ``tracemalloc``'s peak of Python allocations while each runs (the export must
stay flat as ``--count`` grows: it holds one page, never the whole export).

    python bench/export.py                    # 100,000 resources on SQLite
    python bench/export.py --count 10000      # a quick look
    python bench/export.py --backend postgresql

The last line is JSON: export_resources_per_s, baseline_resources_per_s, export_vs_baseline,
export_peak_mib, baseline_peak_mib.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

from bedside.audit.entry import NullAuditor
from bedside.auth.caller import Caller
from bedside.auth.scopes import ScopeSet
from bedside.fhir.search.extract import extract
from bedside.policy.decide import Policy
from bedside.rest.bulk_export import BulkExports
from bedside.rest.export_jobs import ExportJob
from bedside.store import Store, open_store
from bedside.store.base import Write

OPERATOR = Caller("bench", ScopeSet.parse("system/*.rs"), client_id="bench")
PG_URL = os.environ.get("BEDSIDE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def fresh_store(backend: str, folder: Path) -> Iterator[Store]:
    if backend == "sqlite":
        store = open_store(f"sqlite:///{folder / 'bench.db'}")
        try:
            yield store
        finally:
            store.close()
        return
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    store = open_store(f"{PG_URL}?options=-csearch_path%3D{schema}")
    try:
        yield store
    finally:
        store.close()
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def fill(store: Store, count: int) -> None:
    stamp = "2026-12-01T00:00:00.000Z"
    batch: list[Write] = []
    for i in range(count):
        resource = {
            "resourceType": "Observation",
            "id": f"o{i}",
            "meta": {"versionId": "1", "lastUpdated": stamp},
            "status": "final",
            "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            "subject": {"reference": f"Patient/p{i % 1000}"},
            "valueQuantity": {"value": 60 + i % 40, "unit": "/min"},
        }
        batch.append(
            Write(
                "Observation",
                f"o{i}",
                1,
                False,
                stamp,
                "PUT",
                orjson.dumps(resource),
                extract(resource),
                None,
            )
        )
        if len(batch) == 5000 or i == count - 1:
            with store.write() as session:
                session.apply(batch)
            batch = []
    store.analyze()


def baseline(store: Store, out: Path) -> int:
    rows = 0
    with store.read() as session, out.open("wb") as f:
        cur = session.records()._cur  # type: ignore[attr-defined]  # the bare driver cursor
        cur.execute(
            "SELECT v.content FROM resources r JOIN resource_versions v"
            " ON v.rid = r.rid AND v.version = r.version WHERE r.type = 'Observation'"
        )
        while True:
            chunk = cur.fetchmany(1000)
            if not chunk:
                break
            for (content,) in chunk:
                f.write(bytes(content))
                f.write(b"\n")
                rows += 1
    return rows


def export(store: Store, root: Path) -> int:
    exports = BulkExports(root, store, Policy(), NullAuditor(), start=lambda work: work())
    job = ExportJob(
        id=uuid.uuid4().hex,
        owner="client:bench",
        level="system",
        types=["Observation"],
        since=None,
        filters={},
        patients=None,
        request="bench",
        created=time.time(),
    )
    exports.jobs.save(job)
    exports.run(job.id, OPERATOR)
    done = exports.jobs.load(job.id)
    assert done is not None and done.state == "completed", done
    return sum(o["count"] for o in done.output or [])


def measure(work: object, *args: object) -> tuple[int, float, float]:
    tracemalloc.start()
    started = time.perf_counter()
    rows = work(*args)  # type: ignore[operator]
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return int(rows), elapsed, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, fresh_store(args.backend, Path(tmp)) as store:
        folder = Path(tmp)
        print(f"filling {args.count} Observations on {args.backend} ...", flush=True)
        fill(store, args.count)
        base_rows, base_s, base_mib = measure(baseline, store, folder / "baseline.ndjson")
        exp_rows, exp_s, exp_mib = measure(export, store, folder / "exports")
        assert base_rows == exp_rows == args.count, (base_rows, exp_rows)
        result = {
            "backend": args.backend,
            "resources": args.count,
            "baseline_resources_per_s": round(base_rows / base_s),
            "export_resources_per_s": round(exp_rows / exp_s),
            "export_vs_baseline": round((exp_rows / exp_s) / (base_rows / base_s), 3),
            "baseline_peak_mib": round(base_mib, 2),
            "export_peak_mib": round(exp_mib, 2),
        }
        base_rate, exp_rate = result["baseline_resources_per_s"], result["export_resources_per_s"]
        print(f"baseline SELECT: {base_rate:,} resources/s, peak {result['baseline_peak_mib']} MiB")
        print(f"$export:         {exp_rate:,} resources/s, peak {result['export_peak_mib']} MiB")
        print(json.dumps(result))


if __name__ == "__main__":
    main()
