"""What auditing costs: authenticated FHIR reads/s with the audit trail off and on.

Starts ``bedside serve`` in one run on the same database (SQLite by default), with
``BEDSIDE_AUDIT=off`` (no audit records: the benchmark-only switch) and with auditing on (every
read appends a hash-chained AuditEvent, group-committed before the response). Before the first
server's measurement it imports a few sample patients (``bedside import``) and registers a
backend service;
reads are ``GET /fhir/Patient/{id}`` over those patients with a SMART access token
(``system/Patient.rs``, client_credentials), driven over HTTP/1.1 keep-alive with the cheap
load generator of ``bench/auth.py``.

Baseline, same run: ``GET /healthz`` (no token, no database) in each server. ``audit_ratio`` is
reads/s with audit on over reads/s with audit off: the share of read throughput auditing keeps.
Servers on a shared machine drift, so rounds alternate the order (off-on, on-off, ...) and the
figures are means over rounds.

    python bench/audit.py                          # SQLite, 10 s per measurement
    python bench/audit.py --postgres               # PostgreSQL at $BEDSIDE_BENCH_POSTGRES
    python bench/audit.py --postgres postgresql://user@host/db
    python bench/audit.py --seconds 3 --workers 2
    python bench/audit.py --rounds 4               # off-on, on-off, off-on, on-off (default 2)

The last line is JSON with audit_off_reads_per_s, audit_on_reads_per_s and audit_ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
from joserfc.jwk import RSAKey

sys.path.insert(0, str(Path(__file__).resolve().parent))
# bench/ is a folder of scripts, not a package: reuse bench/auth.py's load generator.
from auth import (
    PG_URL,
    bedside,
    free_port,
    http_get,
    run_for,
)
from auth import (
    service_token as bench_service_token,
)

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "synthea-r4"
SAMPLES = 5  # patients imported from the sample bundles


def fresh_schema(url: str) -> str:
    """A new, empty schema in the PostgreSQL database at ``url``, as a search_path URL."""
    schema = f"bench_audit_{secrets.token_hex(4)}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{schema}"


def start(data: str, database: str, port: int, workers: int, audit: str, log: Path) -> Any:
    env = {**os.environ, "BEDSIDE_AUDIT": audit}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bedside",
            "serve",
            "--data-dir",
            data,
            "--database",
            database,
            "--port",
            str(port),
            "--workers",
            str(workers),
        ],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        env=env,
    )
    for _ in range(600):
        if server.poll() is not None:
            sys.exit(f"bedside serve exited; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.kill()
    sys.exit("bedside serve did not start within 60 s")


def stop(server: Any) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


def load_patients(root: str, data: str, database: str, tmp: Path) -> list[str]:
    """Import the first sample bundles (or create a few patients) and return Patient ids."""
    files = sorted(SAMPLE_DIR.glob("*.json"))[:SAMPLES]
    if files:
        bedside("import", *map(str, files), "--data-dir", data, "--database", database)
    operator = bedside("admin", "token", "--scope", "system/*.cruds", "--data-dir", data)
    auth = {"Authorization": f"Bearer {operator}"}
    if not files:
        for i in range(SAMPLES):
            httpx.post(
                f"{root}/fhir/Patient",
                json={"resourceType": "Patient", "name": [{"family": f"Bench{i}"}]},
                headers=auth,
            ).raise_for_status()
    found = httpx.get(f"{root}/fhir/Patient", params={"_count": "100"}, headers=auth).json()
    return [e["resource"]["id"] for e in found.get("entry", [])]


def service_token(root: str, data: str, database: str, tmp: Path) -> str:
    """A client_credentials token of a backend service (private_key_jwt, RS384)."""
    key = RSAKey.generate_key(2048, auto_kid=True, private=True)
    jwks_file = tmp / "jwks.json"
    jwks_file.write_bytes(orjson.dumps({"keys": [key.as_dict(private=False)]}))
    bedside(
        "admin",
        "client",
        "add",
        "bench-service",
        "--backend",
        "--jwks-file",
        str(jwks_file),
        "--scope",
        "system/*.rs",
        "--data-dir",
        data,
        "--database",
        database,
    )
    return bench_service_token(root, key, "system/Patient.rs")


async def measure(port: int, ids: list[str], access: str, args: Any) -> dict[str, int]:
    host = f"127.0.0.1:{port}"
    health = http_get("/healthz", host)
    reads = [
        http_get(f"/fhir/Patient/{pid}", host, {"Authorization": f"Bearer {access}"}) for pid in ids
    ]
    await run_for(1.0, args.concurrency, port, lambda i: reads[i % len(reads)])  # warm-up
    ok, _ = await run_for(args.seconds, args.concurrency, port, lambda i: health)
    out = {"healthz_per_s": round(ok / args.seconds)}
    ok, bad = await run_for(args.seconds, args.concurrency, port, lambda i: reads[i % len(reads)])
    out["reads_per_s"] = round(ok / args.seconds)
    out["read_errors"] = bad
    return out


def audit_records(data: str, database: str) -> str:
    command = [sys.executable, "-m", "bedside", "audit", "verify"]
    done = subprocess.run(
        [*command, "--data-dir", data, "--database", database],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or done.stderr.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=PG_URL,
        default=None,
        metavar="URL",
        help=f"use PostgreSQL (a fresh schema in URL; default {PG_URL})",
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="server processes (serve --workers)")
    parser.add_argument(
        "--rounds",
        type=int,
        default=2,
        help="measurement rounds, ordered off-on, on-off, ... so drift cancels; figures are means",
    )
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bedside-bench-audit-"))
    data = str(tmp / "data")
    database = fresh_schema(args.postgres) if args.postgres else f"sqlite:///{tmp / 'bench.db'}"
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    log = tmp / "server.log"
    runs: dict[str, list[dict[str, int]]] = {"off": [], "on": []}
    access, ids = "", []
    for r in range(max(args.rounds, 1)):
        for mode in ("off", "on") if r % 2 == 0 else ("on", "off"):
            server = start(data, database, port, args.workers, mode, log)
            try:
                if not access:
                    ids = load_patients(root, data, database, tmp)
                    access = service_token(root, data, database, tmp)
                runs[mode].append(asyncio.run(measure(port, ids, access, args)))
            finally:
                stop(server)
    chain = audit_records(data, database)
    results = {
        mode: {key: round(sum(m[key] for m in ms) / len(ms)) for key in ms[0]}
        for mode, ms in runs.items()
    }

    off, on = results["off"], results["on"]
    ratio = round(on["reads_per_s"] / max(off["reads_per_s"], 1), 3)
    backend = "postgresql" if args.postgres else "sqlite"
    cpu = platform.processor() or platform.machine()
    print(
        f"machine: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {backend},"
        f" {args.workers} server process(es), {args.concurrency} connections,"
        f" {len(ids)} patients"
    )
    for mode in ("off", "on"):
        r = results[mode]
        print(
            f"audit {mode:>3}: GET /healthz {r['healthz_per_s']:>7,}/s   "
            f"authenticated GET Patient/{{id}} {r['reads_per_s']:>7,}/s "
            f"(errors {r['read_errors']})"
        )
    print(f"audit on keeps {ratio:.0%} of the reads/s with audit off")
    print(f"after the run: {chain}")
    print(
        orjson.dumps(
            {
                "backend": backend,
                "workers": args.workers,
                "seconds": args.seconds,
                "rounds": max(args.rounds, 1),
                "audit_off_reads_per_s": off["reads_per_s"],
                "audit_on_reads_per_s": on["reads_per_s"],
                "audit_ratio": ratio,
                "baseline_healthz_per_s": off["healthz_per_s"],
                "baseline_healthz_audit_on_per_s": on["healthz_per_s"],
                "read_errors": off["read_errors"] + on["read_errors"],
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
