"""Bedside's sync side by side with PouchDB's, same records, same machine, same run.

What a team would pick instead of Bedside for offline-first records is PouchDB replicating to a
CouchDB-protocol server. Here that is ``pouchdb-server`` 4.2 on LevelDB and the ``pouchdb`` 9
client on LevelDB, both from the npm lock in ``bench/pouchdb`` (``make bench-pouchdb``), driven
by ``bench/pouchdb/replicate.mjs``. Bedside is a real ``bedside serve`` (SQLite) and a real
device home (SQLCipher), over HTTP on loopback, as bench/sync.py runs them.

* **push**: one device holds N recorded Observations (the sample bundles' own, pointed at the
  device's patients) and sends them. Bedside: ``Node.record("create", ...)`` for each (not
  timed), then the device's push (``bedside.device.sync.push``: signed events in batches, each
  verified, replay-checked, revalidated against policy and consent, written with Provenance and
  audited by the server) timed to its last acknowledgement. PouchDB: the same documents in a
  local database (not timed), then ``replicate.to`` the server, timed.
* **first sync**: a fresh client fetches the sample bundles' resources (about 10,000 for the 31
  bundles). Bedside: a device enrolled by a doctor assigned every patient pulls its working set
  from nothing (every page applied with its cursor). PouchDB: the same resources written to the
  server (not timed), then a fresh local database ``replicate.from`` it, timed.

    python bench/sync_vs_pouchdb.py              # 10,000 records each way
    python bench/sync_vs_pouchdb.py --n 2000     # a quick look

The last line is JSON: bedside_push_per_s, pouchdb_push_per_s, push_ratio, bedside_pull_per_s,
pouchdb_pull_per_s, pull_ratio. Target (issue 17): both ratios >= 2, while Bedside also does what
PouchDB does not (encryption at rest, signatures, policy at commit, audit).
"""

from __future__ import annotations

import argparse
import copy
import importlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
samples = importlib.import_module("import")  # bench/import.py: sample bundles, re-identified
syncbench = importlib.import_module("sync")  # bench/sync.py: the server, enrollment
from auth import free_port  # noqa: E402
from bedside.device.remote import Remote  # noqa: E402
from bedside.device.sync import SyncSummary, pull, push  # noqa: E402

POUCH = Path(__file__).resolve().parent / "pouchdb"
REPLICATE = POUCH / "replicate.mjs"
POUCH_SERVER = POUCH / "node_modules" / ".bin" / "pouchdb-server"


def observations(n: int, patients: list[str]) -> list[dict[str, Any]]:
    """``n`` of the sample bundles' Observations, each pointed at one of ``patients``."""
    out: list[dict[str, Any]] = []
    target = 10_000
    while len(out) < n:
        for bundle in samples.workload(target):
            for entry in bundle["entry"]:
                res = entry["resource"]
                if res["resourceType"] != "Observation":
                    continue
                obs = {k: v for k, v in copy.deepcopy(res).items() if k not in ("id", "encounter")}
                obs["subject"] = {"reference": f"Patient/{patients[len(out) % len(patients)]}"}
                out.append(obs)
                if len(out) == n:
                    return out
        target *= 2
    return out


def server_documents(bundles: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The bundles' resources as documents: ``_id`` Type/id, references as Type/id."""
    ids = {
        e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource'].get('id') or i}"
        for b in bundles
        for i, e in enumerate(b["entry"])
        if "fullUrl" in e
    }
    raw = orjson.dumps([e["resource"] for b in bundles for e in b["entry"]]).decode()
    for full, ref in ids.items():
        raw = raw.replace(f'"{full}"', f'"{ref}"')
    docs: dict[str, dict[str, Any]] = {}  # a shared Practitioner or Organization once
    for n, res in enumerate(orjson.loads(raw)):
        key = f"{res['resourceType']}/{res.get('id') or n}"
        docs.setdefault(key, {"_id": key, **res})
    return list(docs.values())


def ndjson(path: Path, docs: list[dict[str, Any]]) -> Path:
    path.write_bytes(b"\n".join(orjson.dumps(d) for d in docs) + b"\n")
    return path


def node_js(*args: str) -> dict[str, Any]:
    done = subprocess.run(
        ["node", str(REPLICATE), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        sys.exit(f"replicate.mjs {args[0]} failed: {done.stderr.strip()[-2000:]}")
    return dict(orjson.loads(done.stdout.strip().splitlines()[-1]))


class PouchServer:
    def __init__(self, folder: Path) -> None:
        folder.mkdir()
        self.folder = folder
        self.port = free_port()
        log = (folder / "server.log").open("ab")
        self.process = subprocess.Popen(
            [str(POUCH_SERVER), "--port", str(self.port), "--dir", str(folder), "-n"],
            cwd=folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        for _ in range(300):
            try:
                if httpx.get(self.root, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        sys.exit(f"pouchdb-server did not start; see {folder / 'server.log'}")

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def count(self, db: str) -> int:
        return int(httpx.get(f"{self.root}/{db}", timeout=30).json()["doc_count"])

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def bedside_side(tmp: Path, bundles: list[dict[str, Any]], n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    with syncbench.server("sqlite", tmp, 1) as srv:
        count, _ = syncbench.import_samples(srv, bundles)
        username, _, _ = srv.doctor("versus", srv.patients)
        node = syncbench.enroll_device(srv, username, tmp / "home")
        try:
            with Remote(srv.fhir, timeout=600) as remote:
                token = syncbench.device_token(node, remote)
                summary = SyncSummary()
                began = time.perf_counter()
                pull(node, remote, token, summary)
                took = time.perf_counter() - began
                out["bedside_pull"] = summary.received
                out["bedside_pull_per_s"] = round(summary.received / took)
                print(
                    f"bedside first sync: {summary.received:,} resources (server holds {count:,})"
                    f" in {took:.2f} s = {summary.received / took:,.0f}/s"
                )
                for obs in observations(n, srv.patients):
                    node.record("create", obs)
                token = syncbench.device_token(node, remote)
                summary = SyncSummary()
                began = time.perf_counter()
                push(node, remote, token, summary)
                took = time.perf_counter() - began
                confirmed = sum(1 for e in node.outbox("confirmed"))
                out["bedside_push"] = confirmed
                out["bedside_push_per_s"] = round(confirmed / took)
                print(
                    f"bedside push: {confirmed:,} of {n:,} events confirmed in {took:.2f} s"
                    f" = {confirmed / took:,.0f}/s"
                )
        finally:
            node.lock()
    return out


def pouchdb_side(tmp: Path, bundles: list[dict[str, Any]], n: int) -> dict[str, Any]:
    out: dict[str, Any] = {}
    pouch = PouchServer(tmp / "pouchdb-server")
    try:
        docs = server_documents(bundles)
        node_js("seed", f"{pouch.root}/records", str(ndjson(tmp / "records.ndjson", docs)))
        got = node_js("pull", f"{pouch.root}/records", str(tmp / "pull-db"))
        out["pouchdb_pull"] = got["docs"]
        out["pouchdb_pull_per_s"] = round(got["docs"] / got["seconds"])
        print(
            f"pouchdb first sync: {got['docs']:,} documents in {got['seconds']:.2f} s"
            f" = {got['docs'] / got['seconds']:,.0f}/s"
        )
        obs = [
            {"_id": f"Observation/push-{i}", **o} for i, o in enumerate(observations(n, ["p"] * 1))
        ]
        sent = node_js(
            "push", f"{pouch.root}/pushed", str(ndjson(tmp / "push.ndjson", obs)), str(tmp / "l")
        )
        stored = pouch.count("pushed")
        out["pouchdb_push"] = stored
        out["pouchdb_push_per_s"] = round(sent["docs"] / sent["seconds"])
        print(
            f"pouchdb push: {sent['docs']:,} documents ({stored:,} on the server) in"
            f" {sent['seconds']:.2f} s = {sent['docs'] / sent['seconds']:,.0f}/s"
        )
    finally:
        pouch.stop()
    return out


def _node_version() -> str:
    done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000, help="Observations pushed")
    parser.add_argument("--resources", type=int, default=None, help="first-sync resources")
    args = parser.parse_args()
    if not POUCH_SERVER.exists() or shutil.which("node") is None:
        sys.exit("PouchDB is not installed: run `make bench-pouchdb` first")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, node {_node_version()}"
    )
    bundles = samples.workload(args.resources) if args.resources else samples.load_samples()
    with tempfile.TemporaryDirectory(prefix="bedside-vs-pouchdb-") as name:
        tmp = Path(name)
        figures = pouchdb_side(tmp, bundles, args.n)
        figures |= bedside_side(tmp, bundles, args.n)
    figures["push_ratio"] = round(figures["bedside_push_per_s"] / figures["pouchdb_push_per_s"], 2)
    figures["pull_ratio"] = round(figures["bedside_pull_per_s"] / figures["pouchdb_pull_per_s"], 2)
    print(
        f"push: Bedside {figures['bedside_push_per_s']:,}/s vs PouchDB "
        f"{figures['pouchdb_push_per_s']:,}/s = {figures['push_ratio']}x (target >= 2)"
    )
    print(
        f"first sync: Bedside {figures['bedside_pull_per_s']:,}/s vs PouchDB "
        f"{figures['pouchdb_pull_per_s']:,}/s = {figures['pull_ratio']}x (target >= 2)"
    )
    print(orjson.dumps(figures).decode())


if __name__ == "__main__":
    main()
