"""Import throughput and patient-compartment search latency, on PostgreSQL and SQLite.

Loads the 31 sample bundles plus re-identified copies (new names, identifiers and dates shifted)
until the target resource count is reached, through the same transaction path as the API
(``Repository.handle`` on a Bundle, what ``bedside import`` and ``POST /fhir`` run). Then measures
``Observation?patient=``-style compartment searches at that size, and the same searches made by
an app launched for the patient (``patient/*.rs``, confined by its access filter).

Baseline, measured in the same run on the same database: inserting the same resources' JSON into
a bare two-column table with executemany (no validation, no index, no history). The ratio says how
much of the raw write speed the full FHIR path keeps.

    python bench/import.py            # >= 100,000 resources into each backend
    python bench/import.py --quick    # ~12,000 resources, under two minutes

The last line is JSON with postgresql_resources_per_s, sqlite_resources_per_s, search_p95_ms.
"""

from __future__ import annotations

import argparse
import copy
import multiprocessing as mp
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT.parent / "shared" / "data" / "synthea-r4"
PG_URL = os.environ.get("BEDSIDE_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def load_samples() -> list[dict[str, Any]]:
    files = sorted(SAMPLE_DIR.glob("*.json"))
    if not files:
        sys.exit(f"No sample bundles in {SAMPLE_DIR}")
    return [orjson.loads(f.read_bytes()) for f in files]


def reidentify(bundle: dict[str, Any], copy_no: int) -> dict[str, Any]:
    """A copy of a patient bundle that is a different synthetic person."""
    out = copy.deepcopy(bundle)
    rng = random.Random(copy_no)
    mapping: dict[str, str] = {}
    for entry in out["entry"]:
        old = entry.get("fullUrl", "")
        if old.startswith("urn:uuid:"):
            mapping[old] = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'{old}#{copy_no}')}"
            entry["fullUrl"] = mapping[old]
        res = entry["resource"]
        if res["resourceType"] == "Patient":
            for name in res.get("name", []):
                name["family"] = f"{name.get('family', 'Doe')}{rng.choice('ABCDEFGHJK')}{copy_no}"
            for ident in res.get("identifier", []):
                if "value" in ident:
                    ident["value"] = f"{ident['value']}-{copy_no}"
    raw = orjson.dumps(out).decode()
    for old, new in mapping.items():
        raw = raw.replace(old, new)
    return orjson.loads(raw)


def workload(target: int) -> list[dict[str, Any]]:
    samples = load_samples()
    bundles = list(samples)
    count = sum(len(b["entry"]) for b in bundles)
    copy_no = 0
    while count < target:
        copy_no += 1
        b = reidentify(samples[copy_no % len(samples)], copy_no)
        bundles.append(b)
        count += len(b["entry"])
    return bundles


def _worker(url: str, bundles: list[bytes], out: Any) -> None:
    from bedside.auth.caller import Caller
    from bedside.auth.scopes import ScopeSet
    from bedside.rest import FhirRequest, Repository
    from bedside.store import open_store

    store = open_store(url, pool_size=2)
    repo = Repository(store, Caller("bench", ScopeSet.parse("system/*.cruds")), "http://bench/fhir")
    n = 0
    for raw in bundles:
        body = orjson.loads(raw)
        repo.handle(FhirRequest("POST", "", body=body, prefer_return="minimal"))
        n += len(body["entry"])
    store.close()
    out.put(n)


def load(url: str, bundles: list[dict[str, Any]], workers: int) -> tuple[int, float]:
    """Load bundles with N worker processes; returns (resources, seconds)."""
    from bedside.store import open_store

    open_store(url).close()  # migrate once before the clock starts
    raws = [orjson.dumps(b) for b in bundles]
    ctx = mp.get_context("fork")
    out: Any = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(url, raws[i::workers], out)) for i in range(workers)]
    started = time.perf_counter()
    for p in procs:
        p.start()
    total = sum(out.get() for _ in procs)
    for p in procs:
        p.join()
    seconds = time.perf_counter() - started
    store = open_store(url)
    store.analyze()  # what `bedside import` does at the end; not counted in the load time
    store.close()
    return total, seconds


def baseline(url: str, bundles: list[dict[str, Any]]) -> float:
    """Resources/s for a bare executemany of the same JSON into a two-column table."""
    rows = [
        (i, orjson.dumps(e["resource"]))
        for i, e in enumerate(e for b in bundles for e in b["entry"])
    ]
    if url.startswith("sqlite"):
        import sqlite3

        conn = sqlite3.connect(url[len("sqlite:///") :], isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (k INTEGER PRIMARY KEY, body BLOB)")
        started = time.perf_counter()
        for i in range(0, len(rows), 300):
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO bench_raw VALUES (?, ?)", rows[i : i + 300])
            conn.execute("COMMIT")
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE bench_raw")
        conn.close()
    else:
        import psycopg

        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE IF NOT EXISTS bench_raw (k BIGINT PRIMARY KEY, body BYTEA)")
            started = time.perf_counter()
            for i in range(0, len(rows), 300):
                with conn.transaction(), conn.cursor() as cur:
                    cur.executemany("INSERT INTO bench_raw VALUES (%s, %s)", rows[i : i + 300])
            seconds = time.perf_counter() - started
            conn.execute("DROP TABLE bench_raw")
    return len(rows) / seconds


def search_latency(url: str, samples: int, *, confined: bool = False) -> list[float]:
    """Milliseconds per patient-compartment search (first page, total counted).

    ``confined``: the same searches by an app launched for the patient (``patient/*.rs``), which
    leaves out ``patient=`` and lets its access filter pick the compartment.
    """
    from bedside.auth.caller import Caller
    from bedside.auth.scopes import ScopeSet
    from bedside.rest import FhirRequest, Repository
    from bedside.store import open_store

    store = open_store(url)
    repo = Repository(store, Caller("bench", ScopeSet.parse("system/*.cruds")), "http://bench/fhir")
    ids: list[str] = []
    resp = repo.handle(
        FhirRequest("GET", "Patient", query=(("_count", "1000"), ("_elements", "id")))
    )
    ids = [e["resource"]["id"] for e in resp.resource["entry"]]  # type: ignore[index]
    rng = random.Random(7)
    queries = [
        ("Observation", ()),
        ("Observation", (("category", "laboratory"),)),
        ("Observation", (("code", "http://loinc.org|8302-2"),)),
        ("Encounter", (("_sort", "-date"),)),
        ("Condition", ()),
        ("MedicationRequest", ()),
    ]
    timings: list[float] = []
    for i in range(samples):
        rtype, extra = queries[i % len(queries)]
        pid = rng.choice(ids)
        q = extra if confined else (("patient", f"Patient/{pid}"), *extra)
        t = time.perf_counter()
        if confined:
            app = Caller("app", ScopeSet.parse("patient/*.rs"), patient=pid)
            repo = Repository(store, app, "http://bench/fhir")
        repo.handle(FhirRequest("GET", rtype, query=q))
        timings.append((time.perf_counter() - t) * 1000)
    store.close()
    return timings


def fresh_pg_schema() -> str:
    import psycopg

    name = f"bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")
    return f"{PG_URL}?options=-csearch_path%3D{name}"


def drop_pg_schema(url: str) -> None:
    import psycopg

    name = url.rsplit("%3D", 1)[1]
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {name} CASCADE")


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[94] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="~12,000 resources, under two minutes")
    ap.add_argument("--resources", type=int, default=None, help="target resource count")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--searches", type=int, default=600)
    ap.add_argument("--keep", action="store_true", help="keep the PostgreSQL schema afterwards")
    args = ap.parse_args()
    target = args.resources or (12_000 if args.quick else 100_000)
    bundles = workload(target)
    total = sum(len(b["entry"]) for b in bundles)
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(
        f"workload: {len(bundles)} bundles, {total:,} resources, {args.workers} worker process(es)"
    )
    results: dict[str, float] = {}
    latencies: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, url in (("postgresql", fresh_pg_schema()), ("sqlite", f"sqlite:///{tmp}/b.db")):
            n, seconds = load(url, bundles, args.workers if name == "postgresql" else 1)
            rate = n / seconds
            base = baseline(url, bundles[: max(1, len(bundles) // 4)])
            lat = search_latency(url, args.searches)
            app_lat = search_latency(url, args.searches, confined=True)
            latencies.extend(lat)
            results[f"{name}_resources_per_s"] = round(rate, 1)
            results[f"{name}_vs_raw_insert"] = round(rate / base, 3)
            results[f"{name}_search_p95_ms"] = round(p95(lat), 2)
            results[f"{name}_patient_app_search_p95_ms"] = round(p95(app_lat), 2)
            print(
                f"{name:>10}: {n:,} resources in {seconds:.1f} s = {rate:,.0f}/s "
                f"(raw insert baseline {base:,.0f}/s, ratio {rate / base:.3f}); "
                f"compartment search p50 {statistics.median(lat):.2f} ms, p95 {p95(lat):.2f} ms; "
                f"as a patient app p50 {statistics.median(app_lat):.2f} ms, "
                f"p95 {p95(app_lat):.2f} ms"
            )
            if name == "postgresql" and not args.keep:
                drop_pg_schema(url)
    results["search_p95_ms"] = round(p95(latencies), 2)
    results["resources"] = total
    print(orjson.dumps(results).decode())


if __name__ == "__main__":
    main()
