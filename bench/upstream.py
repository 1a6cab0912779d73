"""Upstream ingest throughput: HL7 v2 messages/s over MLLP, resources/s pulled from a FHIR source.

MLLP: a listener on loopback (the one `bedside serve` runs) in front of a fresh SQLite store;
one client sends, per synthetic patient, an admit (A01), a result (ORU^R01 with three OBX) and
a discharge (A03), each waiting for its ACK. FHIR: a real `bedside serve` on loopback holds the
sample bundles; `Upstream.pull` copies Patient, Encounter, Observation, Condition and
DiagnosticReport into a fresh SQLite store, one source version per transaction.

Baseline, same run, same machine: `bedside import` (``import_paths``) of the same resources into
another fresh SQLite store, as one collection Bundle per patient. The ratios say what the
per-message and per-version transactions (with their Provenance, ledger row and compare-before-
write) cost against bulk loading.

    python bench/upstream.py            # 300 patients over MLLP, 10 sample bundles pulled
    python bench/upstream.py --quick    # 60 patients, 3 bundles

The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[1]
SAMPLE_DIR = ROOT.parent / "shared" / "data" / "synthea-r4"
BASE = "http://bench/fhir"
TYPES = ["Patient", "Encounter", "Observation", "Condition", "DiagnosticReport"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def messages(patients: int) -> list[bytes]:
    out = []
    for i in range(patients):
        mrn, visit = f"B{i:06d}", f"V{i:06d}"
        pid = f"PID|1||{mrn}^^^HOSP^MR||Bench^Person{i}||19600101|F"
        pv1 = "PV1|1|I|WARD1^1^A" + "|" * 16 + f"{visit}^^^HOSP^VN" + "|" * 25
        msh = "MSH|^~\\&|EHR|HOSP|BEDSIDE|WARD|20260301080000||"
        out.append(f"{msh}ADT^A01^ADT_A01|A01-{i}|P|2.5\r{pid}\r{pv1}20260301080000\r".encode())
        obx = "".join(
            f"OBX|{n}|NM|C{n}^Test {n}^L||{4 + n}.1|mmol/L^mmol/L^UCUM|||||F|||20260301130000\r"
            for n in (1, 2, 3)
        )
        obr = f"OBR|1|ORD-{i}|LAB-{i}|PANEL^Panel^L|||20260301130000\r"
        out.append(f"{msh}ORU^R01^ORU_R01|R01-{i}|P|2.5\r{pid}\r{pv1}\r{obr}{obx}".encode())
        out.append(
            f"{msh}ADT^A03^ADT_A03|A03-{i}|P|2.5\r{pid}\r{pv1}20260301080000|20260302080000\r".encode()
        )
    return out


def bench_mllp(tmp: Path, patients: int) -> dict[str, Any]:
    from bedside.store import open_store
    from bedside.upstream.config import parse
    from bedside.upstream.service import Upstream

    port = free_port()
    cfg = parse(f'[source.adt]\nkind = "hl7v2"\nmllp_port = {port}\n', source="bench", data_dir=tmp)
    store = open_store(f"sqlite:///{tmp / 'mllp.db'}")
    up = Upstream(store, cfg, BASE)
    loop = asyncio.new_event_loop()
    ready, stop = threading.Event(), asyncio.Event()

    async def serve() -> None:
        async with up.listening():
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    ready.wait(10)
    batch = messages(patients)
    sock = socket.create_connection(("127.0.0.1", port))
    started = time.perf_counter()
    buf = b""
    for raw in batch:
        sock.sendall(b"\x0b" + raw + b"\x1c\x0d")
        while b"\x1c\x0d" not in buf:
            buf += sock.recv(65536)
        ack, _, buf = buf.partition(b"\x1c\x0d")
        if b"MSA|AA" not in ack:
            sys.exit(f"message refused: {ack!r}")
    seconds = time.perf_counter() - started
    sock.close()
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    written = up.counters["adt"].snapshot().get("resources_written", 0)
    resources = _dump(store)
    store.close()
    return {
        "messages": len(batch),
        "seconds": seconds,
        "messages_per_s": len(batch) / seconds,
        "resources_written": written,
        "resources_per_s": written / seconds,
        "resources": resources,
    }


def _dump(store: Any) -> list[dict[str, Any]]:
    """Every current resource except Provenance, for the import baseline."""
    from bedside.auth.caller import Caller
    from bedside.auth.scopes import ScopeSet
    from bedside.rest import FhirRequest, Repository

    repo = Repository(store, Caller("bench", ScopeSet.parse("system/*.cruds")), BASE)
    out = []
    for rtype in [*TYPES, "RelatedPerson", "AllergyIntolerance"]:
        query: tuple[tuple[str, str], ...] = (("_count", "1000"),)
        while True:
            page = repo.handle(FhirRequest("GET", rtype, query=query)).resource or {}
            for e in page.get("entry", []):
                r = dict(e["resource"])
                r.pop("meta", None)
                out.append(r)
            nxt = [x["url"] for x in page.get("link", []) if x["relation"] == "next"]
            if not nxt:
                break
            query = tuple(parse_qsl(urlsplit(nxt[0]).query))
    return out


def start_source(tmp: Path, bundles: list[Path]) -> tuple[subprocess.Popen[bytes], str, str]:
    from bedside.auth import tokens
    from bedside.auth.keys import load_or_create

    data = tmp / "source"
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bedside", "serve", "--data-dir", str(data), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/fhir"
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    token = tokens.issue(
        load_or_create(data), subject="bench", audience=base, scope="system/*.cruds", ttl=3600
    )
    with httpx.Client(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as c:
        for path in bundles:
            resp = c.post(
                "", content=path.read_bytes(), headers={"Content-Type": "application/fhir+json"}
            )
            resp.raise_for_status()
    return proc, base, token


def bench_pull(tmp: Path, bundles: list[Path]) -> dict[str, Any]:
    from bedside.store import open_store
    from bedside.upstream.config import parse
    from bedside.upstream.service import Upstream

    proc, base, token = start_source(tmp, bundles)
    try:
        (tmp / "token").write_text(token)
        cfg = parse(
            f'[source.ehr]\nkind = "fhir"\nbase_url = "{base}"\ntoken_file = "{tmp / "token"}"\n'
            f"types = {orjson.dumps(TYPES).decode()}\npage_size = 200\n",
            source="bench",
            data_dir=tmp,
        )
        store = open_store(f"sqlite:///{tmp / 'pull.db'}")
        up = Upstream(store, cfg, BASE)
        started = time.perf_counter()
        report = up.pull("ehr")
        seconds = time.perf_counter() - started
        if report.errors:
            sys.exit(f"pull failed: {report.errors[:3]}")
        resources = _dump(store)
        store.close()
    finally:
        proc.terminate()
        proc.wait(10)
    return {
        "resources_written": report.written,
        "seconds": seconds,
        "resources_per_s": report.written / seconds,
        "resources": resources,
    }


def bench_import(tmp: Path, name: str, resources: list[dict[str, Any]]) -> float:
    """Resources/s of `bedside import` of the same resources into a fresh SQLite store."""
    from bedside.auth.caller import Caller
    from bedside.auth.scopes import ScopeSet
    from bedside.importer import import_paths
    from bedside.rest import Repository
    from bedside.store import open_store

    folder = tmp / f"import-{name}"
    folder.mkdir()
    for i in range(0, len(resources), 100):
        chunk = resources[i : i + 100]
        bundle = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": r} for r in chunk],
        }
        (folder / f"{i:06d}.json").write_bytes(orjson.dumps(bundle))
    store = open_store(f"sqlite:///{tmp / f'import-{name}.db'}")
    repo = Repository(store, Caller("importer", ScopeSet.parse("system/*.cruds")), BASE)
    report = import_paths(repo, [folder])
    store.close()
    if report.errors:
        sys.exit(f"import failed: {report.errors[:3]}")
    return report.rate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    patients, nbundles = (60, 3) if args.quick else (300, 10)
    bundles = sorted(SAMPLE_DIR.glob("*.json"), key=lambda p: p.stat().st_size)[:nbundles]
    if not bundles:
        sys.exit(f"No sample bundles in {SAMPLE_DIR}")
    with tempfile.TemporaryDirectory(prefix="bench-upstream-") as d:
        tmp = Path(d)
        mllp = bench_mllp(tmp, patients)
        mllp_base = bench_import(tmp, "mllp", mllp.pop("resources"))
        pull = bench_pull(tmp, bundles)
        pull_base = bench_import(tmp, "pull", pull.pop("resources"))
    print(f"machine: {platform.machine()} {platform.python_version()}, SQLite")
    print(
        f"MLLP: {mllp['messages']} messages in {mllp['seconds']:.1f} s = "
        f"{mllp['messages_per_s']:,.0f} messages/s, {mllp['resources_per_s']:,.0f} resources/s;"
        f" import of the same resources {mllp_base:,.0f}/s"
        f" (ratio {mllp['resources_per_s'] / mllp_base:.3f})"
    )
    print(
        f"FHIR pull: {pull['resources_written']} resources in {pull['seconds']:.1f} s = "
        f"{pull['resources_per_s']:,.0f} resources/s; import of the same {pull_base:,.0f}/s"
        f" (ratio {pull['resources_per_s'] / pull_base:.3f})"
    )
    print(
        orjson.dumps(
            {
                "mllp_messages_per_s": round(mllp["messages_per_s"], 1),
                "mllp_resources_per_s": round(mllp["resources_per_s"], 1),
                "mllp_vs_import": round(mllp["resources_per_s"] / mllp_base, 4),
                "pull_resources_per_s": round(pull["resources_per_s"], 1),
                "pull_vs_import": round(pull["resources_per_s"] / pull_base, 4),
            }
        ).decode()
    )


if __name__ == "__main__":
    main()
