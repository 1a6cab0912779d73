"""Sync throughput: signed events pushed per second, a first sync's speed, a delta pull's latency.

Everything goes over HTTP on loopback to a real ``bedside serve`` (one per backend, SQLite and
PostgreSQL), with users made by ``bedside admin`` and devices enrolled the way the app enrolls
them (sign-in through the ``bedside-device`` client, ``POST /device/register``, a refresh so the
token names the device). The server holds the 31 sample bundles plus re-identified copies,
imported through the API's transaction path (bench/import.py) before anything is measured.

In this order, per backend:

* **initial sync** (``initial_sync_resources_per_s``): a doctor assigned every patient enrolls
  a real device home (SQLCipher store, in a temporary folder) and runs
  ``bedside.device.sync.pull`` from nothing: every page (1,000) fetched over HTTP and applied
  with its cursor, as ``bedside device sync`` does. Resources received per second of wall time.
  The working set is every imported resource in a Patient compartment (all but the shared
  Practitioners and Organizations).
* **delta pull** (``delta_pull_ms``): 100 new Observations for the working set are written
  through the FHIR API (one transaction Bundle, not timed), then the device pulls; the p50 of
  the pull's wall time over several runs.
* **push** (``<backend>_events_per_s``): several devices at once, each a doctor assigned a few
  patients, send signed Observation creates (Ed25519 over RFC 8785 JSON, made before the clock
  starts) to ``POST /sync/push`` in batches of 500. Counted: events the server answered
  ``confirmed``, per second of wall time from the first request to the last answer.
* **baseline**, same run, same database: "verify the same signatures and insert the same rows":
  each event's signature verified (``bedside.protocol.event.verify``: canonical bytes, Ed25519,
  field checks) and its resource JSON inserted into a bare two-column table, one transaction per
  500 (executemany), in this process. ``ingest_vs_baseline`` is events/s over baseline rows/s.

    python bench/sync.py             # 100,000 resources per backend, 10,000 pushed events each
    python bench/sync.py --quick     # ~20,000 resources, 4,000 events: a couple of minutes
    python bench/sync.py --only sqlite --skip-push       # first sync and delta on SQLite only

PostgreSQL is the server at $BEDSIDE_BENCH_POSTGRES (a fresh schema per run, dropped after).
The last line is JSON with sqlite_events_per_s, postgresql_events_per_s, ingest_vs_baseline
(SQLite's, named by ingest_vs_baseline_backend), initial_sync_resources_per_s and delta_pull_ms
(the slower backend's), and every figure per backend (``sqlite_...``, ``postgresql_...``).
Targets (issue 6, 2 cores): >= 5,000 events/s on SQLite, >= 3,000 on PostgreSQL, a first sync
>= 30,000 resources/s.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

sys.path.insert(0, str(Path(__file__).resolve().parent))
samples = importlib.import_module("import")  # bench/import.py: sample bundles, re-identified
from auth import bedside, free_port  # noqa: E402

os.environ.setdefault("BEDSIDE_DEVICE_KEYSTORE", "file")  # no OS key store on a bench machine

from bedside.device.enroll import SignIn, enroll  # noqa: E402
from bedside.device.keys import KdfParams  # noqa: E402
from bedside.device.node import Node  # noqa: E402
from bedside.device.remote import Remote  # noqa: E402
from bedside.device.sync import SyncSummary, pull  # noqa: E402
from bedside.protocol.event import Event, format_time, public_key_text, sign, verify  # noqa: E402

CLIENT = "bedside-device"
SCOPE = "openid fhirUser offline_access user/*.cruds"
PASSWORD = secrets.token_urlsafe(18)  # made per run
PIN = "204863"
BATCH = 500
LOINC = "http://loinc.org"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"


# --- the server ----------------------------------------------------------------------------------


@dataclass
class Server:
    backend: str
    tmp: Path
    database: str
    port: int
    workers: int
    process: Any = None
    operator: str = ""
    patients: list[str] = field(default_factory=list)

    @property
    def data(self) -> str:
        return str(self.tmp / "data")

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def fhir(self) -> str:
        return f"{self.root}/fhir"

    def admin(self, *args: str, stdin: str | None = None) -> str:
        db = ("--database", self.database) if args[0] not in ("token", "keys") else ()
        return bedside("admin", *args, "--data-dir", self.data, *db, stdin=stdin)

    def start(self) -> None:
        log = (self.tmp / "server.log").open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bedside",
                "serve",
                "--data-dir",
                self.data,
                "--database",
                self.database,
                "--port",
                str(self.port),
                "--workers",
                str(self.workers),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(600):
            if self.process.poll() is not None:
                sys.exit(f"bedside serve exited; see {self.tmp / 'server.log'}")
            try:
                if httpx.get(f"{self.root}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            self.stop()
            sys.exit("bedside serve did not start within 60 s")
        self.operator = self.admin("token", "--scope", "system/*.cruds")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None

    def create(self, resource: dict[str, Any]) -> str:
        r = httpx.post(
            f"{self.fhir}/{resource['resourceType']}",
            json=resource,
            headers={"Authorization": f"Bearer {self.operator}"},
            timeout=60,
        )
        r.raise_for_status()
        return str(r.json()["id"])

    def doctor(self, name: str, patients: list[str]) -> tuple[str, str, str]:
        """A doctor user assigned to ``patients``: (username, user id, Practitioner ref)."""
        from bedside.policy import assignments
        from bedside.store import open_store

        practitioner = self.create({"resourceType": "Practitioner", "name": [{"family": name}]})
        ref = f"Practitioner/{practitioner}"
        username = f"{name}-{secrets.token_hex(3)}"
        args = ("user", "add", username, "--role", "doctor", "--fhir-user", ref)
        user_id = self.admin(*args, "--password-stdin", stdin=PASSWORD + "\n")
        store = open_store(self.database)  # what `bedside admin assign add` does, in one go
        try:
            for patient in patients:
                assignments.add(store, ref, "patient", patient)
        finally:
            store.close()
        return username, user_id, ref


@contextmanager
def server(backend: str, tmp: Path, workers: int) -> Iterator[Server]:
    folder = tmp / backend
    folder.mkdir()
    if backend == "postgresql":
        database = samples.fresh_pg_schema()
    else:
        database = f"sqlite:///{folder / 'b.db'}"
    srv = Server(backend, folder, database, free_port(), workers)
    try:
        srv.start()
        yield srv
    finally:
        srv.stop()
        if backend == "postgresql":
            samples.drop_pg_schema(database)


def import_samples(srv: Server, bundles: list[dict[str, Any]]) -> tuple[int, float]:
    """The bundles through the API's transaction path (bench/import.py), then the Patient ids."""
    from bedside.store import open_store

    workers = 2 if srv.backend == "postgresql" else 1
    count, seconds = samples.load(srv.database, bundles, workers)
    store = open_store(srv.database)
    try:
        with store.records() as db:
            rows = db.rows("SELECT id FROM resources WHERE type = ? ORDER BY id", ("Patient",))
    finally:
        store.close()
    srv.patients = [str(r[0]) for r in rows]
    return count, seconds


# --- signing in as the app does ------------------------------------------------------------------


def walk_browser(root: str, url: str, username: str) -> str:
    """Sign in and allow at the authorize ``url``; the final redirect (to the app's listener)."""
    with httpx.Client(base_url=root, follow_redirects=False, timeout=30) as b:
        r = b.get(url)
        signin = r.headers["location"]
        rid = parse_qs(urlsplit(signin).query)["request"][0]
        b.get(signin).raise_for_status()
        r = b.post(
            "/auth/signin", data={"request": rid, "username": username, "password": PASSWORD}
        )
        assert r.status_code == 303, r.text
        r = b.get(r.headers["location"])
        types = re.findall(r'name="type" value="([^"]+)"', r.text)
        r = b.post("/auth/consent", data={"request": rid, "decision": "allow", "type": types})
        assert r.status_code == 303, r.text
        return str(r.headers["location"])


@dataclass
class PushDevice:
    device_id: str
    user_id: str
    key: Ed25519PrivateKey
    access: str
    patients: list[str]
    events: list[list[dict[str, Any]]] = field(default_factory=list)


def register(srv: Server, username: str, user_id: str, patients: list[str]) -> PushDevice:
    """Sign in through bedside-device, register a key, refresh: a token naming the device."""
    import base64
    import hashlib

    verifier = secrets.token_urlsafe(48)
    challenge = (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )
    redirect = "http://127.0.0.1:9/callback"  # never fetched: the code is read off the URL
    query = {
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": redirect,
        "scope": SCOPE,
        "state": secrets.token_urlsafe(12),
        "aud": srv.fhir,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    url = str(httpx.URL(f"{srv.root}/auth/authorize", params=query))
    back = walk_browser(srv.root, url, username)
    code = parse_qs(urlsplit(back).query)["code"][0]
    token_url = f"{srv.root}/auth/token"
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect,
        "code_verifier": verifier,
        "client_id": CLIENT,
    }
    tokens = httpx.post(token_url, data=form, timeout=30).json()
    key = Ed25519PrivateKey.generate()
    device_id = f"bench-{uuid.uuid4()}"
    r = httpx.post(
        f"{srv.root}/device/register",
        json={
            "device_id": device_id,
            "public_key": public_key_text(key.public_key()),
            "app_version": "bench",
            "posture": {"os": "BenchOS 1", "disk_encryption": True, "screen_lock": True},
            "escrow_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode(),
        },
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=30,
    )
    assert r.status_code == 201, r.text
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    refreshed = httpx.post(token_url, data={**form, "client_id": CLIENT}, timeout=30).json()
    return PushDevice(device_id, user_id, key, refreshed["access_token"], patients)


def observation(patient: str, n: int) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": str(uuid.uuid4()),
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": f"2026-11-21T10:{n % 60:02d}:00Z",
        "valueQuantity": {"value": 60 + n % 40, "unit": "/min"},
    }


def make_events(device: PushDevice, batches: int) -> None:
    seq = 0
    for _ in range(batches):
        batch = []
        for _ in range(BATCH):
            seq += 1
            patient = device.patients[seq % len(device.patients)]
            resource = observation(patient, seq)
            event = Event(
                device=device.device_id,
                seq=seq,
                idempotency_key=secrets.token_urlsafe(24),
                device_time=format_time(time.time()),
                user=device.user_id,
                patient=f"Patient/{patient}",
                action="create",
                resource_type="Observation",
                resource_id=resource["id"],
                base_version=None,
                resource=resource,
            )
            batch.append(sign(event, device.key))
        device.events.append(batch)


# --- push ----------------------------------------------------------------------------------------


def push_all(srv: Server, devices: list[PushDevice]) -> tuple[int, int, float]:
    """Every device's batches, devices concurrently; (confirmed, other results, seconds)."""
    counts = {"confirmed": 0, "other": 0}
    lock = threading.Lock()
    errors: list[str] = []
    start = threading.Barrier(len(devices) + 1)

    def run(device: PushDevice) -> None:
        headers = {"Authorization": f"Bearer {device.access}"}
        bodies = [
            orjson.dumps({"protocol": 1, "device_time": format_time(time.time()), "events": b})
            for b in device.events
        ]
        with httpx.Client(timeout=600, headers=headers) as client:
            start.wait()
            for body in bodies:
                r = client.post(
                    f"{srv.root}/sync/push",
                    content=body,
                    headers={"Content-Type": "application/json"},
                )
                if r.status_code != 200:
                    errors.append(f"{r.status_code} {r.text[:200]}")
                    return
                states = [x["state"] for x in r.json()["results"]]
                with lock:
                    ok = states.count("confirmed")
                    counts["confirmed"] += ok
                    counts["other"] += len(states) - ok
                    if len(states) - ok and len(errors) < 3:
                        errors.append(str(next(x for x in r.json()["results"])))

    threads = [threading.Thread(target=run, args=(d,)) for d in devices]
    for t in threads:
        t.start()
    start.wait()
    began = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - began
    if errors:
        print(f"  push problems: {errors[:3]}")
    return counts["confirmed"], counts["other"], seconds


def verified_rows(batch: list[dict[str, Any]], key: Any) -> list[tuple[str, bytes]]:
    """The baseline's work per event: verify the signature, keep (id, resource JSON)."""
    rows = []
    for raw in batch:
        event = verify(raw, key)
        rows.append((event.resource_id, orjson.dumps(event.resource)))
    return rows


def baseline(srv: Server, devices: list[PushDevice]) -> float:
    """Rows/s: verify each event's signature, insert its resource JSON into a bare table."""
    from bedside.protocol.event import load_public_key

    keys = {d.device_id: load_public_key(public_key_text(d.key.public_key())) for d in devices}
    batches = [(d.device_id, b) for d in devices for b in d.events]
    total = sum(len(b) for _, b in batches)
    if srv.backend == "sqlite":
        import sqlite3

        conn = sqlite3.connect(srv.database.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("CREATE TABLE bench_raw (k TEXT PRIMARY KEY, body BLOB)")
        began = time.perf_counter()
        for device, batch in batches:
            rows = verified_rows(batch, keys[device])
            conn.execute("BEGIN")
            conn.executemany("INSERT INTO bench_raw VALUES (?, ?)", rows)
            conn.execute("COMMIT")
        seconds = time.perf_counter() - began
        conn.execute("DROP TABLE bench_raw")
        conn.close()
    else:
        import psycopg

        url = srv.database
        with psycopg.connect(url, autocommit=True) as pg:
            pg.execute("CREATE TABLE bench_raw (k TEXT PRIMARY KEY, body BYTEA)")
            began = time.perf_counter()
            for device, batch in batches:
                rows = verified_rows(batch, keys[device])
                with pg.transaction(), pg.cursor() as cur:
                    cur.executemany("INSERT INTO bench_raw VALUES (%s, %s)", rows)
            seconds = time.perf_counter() - began
            pg.execute("DROP TABLE bench_raw")
    return total / seconds


# --- the device: enrollment, first sync, delta pulls ---------------------------------------------


def enroll_device(srv: Server, username: str, home: Path) -> Node:
    """Enroll a real device home as `bedside device enroll` does, playing the browser."""
    done: list[BaseException] = []

    def browse(url: str) -> None:
        def go() -> None:
            try:
                back = walk_browser(srv.root, url, username)
                httpx.get(back, timeout=30)
            except BaseException as exc:  # reported by the main thread
                done.append(exc)

        threading.Thread(target=go, daemon=True).start()

    enroll(
        home, srv.fhir, PIN, SignIn(show_url=browse), kdf=KdfParams(time_cost=1, memory_cost=8192)
    )
    if done:
        raise done[0]
    node = Node(home)
    node.unlock(PIN)
    return node


def device_token(node: Node, remote: Remote) -> str:
    tokens = remote.refresh(node.refresh_token() or "")
    node.set_refresh_token(tokens.refresh_token or "")
    return tokens.access_token


def changes(srv: Server, patients: list[str], n: int, run: int) -> None:
    """``n`` new Observations for the working set, in one transaction Bundle (not timed)."""
    entries = [
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": {
                k: v for k, v in observation(patients[i % len(patients)], run).items() if k != "id"
            },
            "request": {"method": "POST", "url": "Observation"},
        }
        for i in range(n)
    ]
    r = httpx.post(
        srv.fhir,
        json={"resourceType": "Bundle", "type": "transaction", "entry": entries},
        headers={"Authorization": f"Bearer {srv.operator}", "Prefer": "return=minimal"},
        timeout=120,
    )
    r.raise_for_status()


# --- the run -------------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def run_backend(
    backend: str, tmp: Path, bundles: list[dict[str, Any]], args: Any
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with server(backend, tmp, args.workers) as srv:
        count, seconds = import_samples(srv, bundles)
        print(
            f"[{backend}] imported {count:,} resources ({len(srv.patients)} patients) "
            f"in {seconds:.0f} s; server: {args.workers} process(es)"
        )
        if not args.skip_pull:
            username, _, _ = srv.doctor("sync", srv.patients)
            home = tmp / f"{backend}-home"
            node = enroll_device(srv, username, home)
            try:
                with Remote(srv.fhir, timeout=600) as remote:
                    token = device_token(node, remote)
                    summary = SyncSummary()
                    began = time.perf_counter()
                    pull(node, remote, token, summary)
                    took = time.perf_counter() - began
                    rate = summary.received / took
                    out["initial_sync_resources_per_s"] = round(rate)
                    out["initial_sync_resources"] = summary.received
                    print(
                        f"[{backend}] initial sync: {summary.received:,} resources into "
                        f"SQLCipher in {took:.1f} s = {rate:,.0f} resources/s"
                    )
                    times, late = [], 0
                    for run in range(args.runs):
                        changes(srv, srv.patients, 100, run)
                        summary = SyncSummary()
                        began = time.perf_counter()
                        pull(node, remote, token, summary)
                        took_ms = (time.perf_counter() - began) * 1000
                        if summary.received == 100:
                            times.append(took_ms)
                            continue
                        # PostgreSQL: a transaction still open anywhere in the cluster (another
                        # program's) holds the horizon back; the rest comes later, not timed
                        late += 1
                        for _ in range(100):
                            time.sleep(0.1)
                            pull(node, remote, token, summary)
                            if summary.received >= 100:
                                break
                    if times:
                        out["delta_pull_ms"] = round(statistics.median(times), 1)
                        print(
                            f"[{backend}] delta pull of 100 changes ({len(times)} runs): p50 "
                            f"{statistics.median(times):.1f} ms, min {min(times):.1f}, "
                            f"max {max(times):.1f} ms"
                            + (
                                f" ({late} runs held back by the horizon, not counted)"
                                if late
                                else ""
                            )
                        )
            finally:
                node.lock()
        if not args.skip_push:
            devices = []
            for i in range(args.devices):
                mine = srv.patients[i * 10 : i * 10 + 10]
                username, user_id, _ = srv.doctor(f"push{i}", mine)
                devices.append(register(srv, username, user_id, mine))
            for d in devices:
                make_events(d, args.batches)
            confirmed, other, took = push_all(srv, devices)
            rate = confirmed / took
            base = baseline(srv, devices)
            out["events_per_s"] = round(rate)
            out["baseline_rows_per_s"] = round(base)
            out["ingest_vs_baseline"] = round(rate / base, 4)
            print(
                f"[{backend}] push: {confirmed:,} events confirmed ({other} otherwise) from "
                f"{len(devices)} devices in batches of {BATCH}, {took:.1f} s = {rate:,.0f} events/s"
            )
            print(
                f"[{backend}] baseline (verify + bare INSERT, same database): {base:,.0f} rows/s;"
                f" ratio {rate / base:.3f}"
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="~20,000 resources, 4,000 events")
    parser.add_argument("--resources", type=int, default=None, help="resources to import")
    parser.add_argument("--devices", type=int, default=4, help="concurrent pushing devices")
    parser.add_argument("--batches", type=int, default=None, help="batches of 500 per device")
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--runs", type=int, default=None, help="delta pulls to time")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default=None)
    parser.add_argument("--skip-push", action="store_true")
    parser.add_argument("--skip-pull", action="store_true")
    args = parser.parse_args()
    target = args.resources or (20_000 if args.quick else 100_000)
    args.batches = args.batches or (2 if args.quick else 5)
    args.runs = args.runs or (5 if args.quick else 11)

    print(
        f"machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"Python {platform.python_version()}"
    )
    bundles = samples.workload(target)
    print(f"workload: {len(bundles)} bundles, {sum(len(b['entry']) for b in bundles):,} resources")
    results: dict[str, Any] = {}
    backends = [args.only] if args.only else ["sqlite", "postgresql"]
    with tempfile.TemporaryDirectory(prefix="bedside-bench-sync-") as tmp:
        for backend in backends:
            for key, value in run_backend(backend, Path(tmp), bundles, args).items():
                results[f"{backend}_{key}"] = value
    rates = [v for k, v in results.items() if k.endswith("_initial_sync_resources_per_s")]
    deltas = [v for k, v in results.items() if k.endswith("_delta_pull_ms")]
    summary = {
        "sqlite_events_per_s": results.get("sqlite_events_per_s"),
        "postgresql_events_per_s": results.get("postgresql_events_per_s"),
        "ingest_vs_baseline": results.get(f"{backends[0]}_ingest_vs_baseline"),
        "ingest_vs_baseline_backend": backends[0] if not args.skip_push else None,
        # the slower backend's figure (both are in the per-backend keys)
        "initial_sync_resources_per_s": min(rates) if rates else None,
        "delta_pull_ms": max(deltas) if deltas else None,
        **results,
    }
    for name, got, want in (
        ("push, SQLite (events/s)", summary["sqlite_events_per_s"], 5_000),
        ("push, PostgreSQL (events/s)", summary["postgresql_events_per_s"], 3_000),
        ("initial sync (resources/s)", summary["initial_sync_resources_per_s"], 30_000),
    ):
        if got is not None:
            verdict = "met" if got >= want else "NOT met"
            print(f"target {name} >= {want:,}: {got:,} -> {verdict}")
    print(orjson.dumps(summary).decode())


if __name__ == "__main__":
    main()
