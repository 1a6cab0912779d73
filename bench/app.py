"""The clinician app's speed: page renders and a NEWS2 save, over a 300-patient working set.

Everything runs in-process against a real device home (SQLCipher, a snapshot signed by server
keys made for this run) holding 300 demo patients (bedside.demo) topped up with NEWS2 sets to
100,000 resources, each patient in a ward bed. The app is the one ``bedside device app``
serves, behind its guard (session cookie, CSRF), driven through Starlette's TestClient: what is
timed is the whole request as the browser would make it, less the loopback socket.

* **patient list**: ``GET /patients`` (the ward board: 300 cards with their latest NEWS2);
* **chart**: ``GET /patients/<id>`` (the one-screen summary, about 330 resources per patient);
* **NEWS2 save**: ``POST /patients/<id>/observe`` with a complete set (7 readings and the
  total, one durable SQLCipher transaction), as the form posts it;
* **baseline** (same run, same store): a bare ``Node.chart(<id>)``, the read a chart is built
  on. Each figure is also given as a ratio to it;
* and once, the first patient list after an unlock, when the board reads every patient's
  facts (it keeps them for the session and rereads a patient only when their rows change).

    python bench/app.py            # 300 patients, 100,000 resources
    python bench/app.py --quick    # 60 patients, 20,000 resources

Targets (issue 16): list and chart render p95 <= 50 ms, NEWS2 save p95 <= 30 ms. The last line
is JSON.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import platform
import random
import secrets
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bedside.auth.keys import load_or_create
from bedside.clinical.news2 import Consciousness, News2Inputs, SpO2Scale
from bedside.clinical.news2_fhir import build_observations
from bedside.demo.generator import generate_patients
from bedside.device import Node
from bedside.device.app import Gate, build_app
from bedside.device.app.pages import Pages
from bedside.device.app.server import tune_gc
from bedside.device.app.syncer import Syncer
from bedside.device.keys import KdfParams

sys.path.insert(0, str(Path(__file__).resolve().parent))
device_bench = importlib.import_module("device")  # bench/device.py: server-shaped resources

warnings.filterwarnings("ignore", category=DeprecationWarning)
from starlette.testclient import TestClient  # noqa: E402

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
WARDS = ("Ward 3A", "Ward 4B", "Ward 7", "Ward 9")


def news2_sets(patient: str, n: int, rng: random.Random) -> list[dict[str, Any]]:
    """``n`` NEWS2 sets (7 readings and the total each), hours apart, ending now."""
    out: list[dict[str, Any]] = []
    now = time.time()
    for k in range(n):
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - (n - k) * 4 * 3600))
        inputs = News2Inputs(
            respiration_rate=rng.randint(12, 26),
            spo2=rng.randint(90, 99),
            spo2_scale=SpO2Scale.SCALE_1,
            on_oxygen=rng.random() < 0.2,
            systolic_bp=rng.randint(95, 160),
            pulse=rng.randint(55, 125),
            consciousness=Consciousness.ALERT,
            temperature=Decimal(f"{rng.uniform(36.0, 39.0):.1f}"),
        )
        made = build_observations(inputs, patient=patient, effective=when)
        for resource in made.all():
            resource["meta"] = {"versionId": "1", "lastUpdated": when}
            out.append(resource)
    return out


def working_set(patients: int, target: int, rng: random.Random) -> list[dict[str, Any]]:
    """Demo patients as a server sends them, each in a ward bed, topped up to ``target``."""
    resources = device_bench.server_resources(list(generate_patients(patients, seed=16)))
    ids = [r["id"] for r in resources if r["resourceType"] == "Patient"]
    for n, pid in enumerate(ids):
        resources.append(
            {
                "resourceType": "Encounter",
                "id": f"ward-{pid}",
                "meta": {"versionId": "1"},
                "status": "in-progress",
                "class": {"code": "IMP"},
                "subject": {"reference": f"Patient/{pid}"},
                "period": {"start": "2026-11-20T09:00:00Z"},
                "location": [
                    {"location": {"display": WARDS[n % len(WARDS)]}, "status": "active"},
                    {"location": {"display": f"Bed {n % 28 + 1}"}, "status": "active"},
                ],
            }
        )
    per_set = 8
    sets = max(0, (target - len(resources)) // per_set)
    for k in range(sets):
        resources.extend(news2_sets(ids[k % len(ids)], 1, rng))
    return resources


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))] * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    patients, target, rounds = (60, 20_000, 100) if args.quick else (300, 100_000, 300)
    rng = random.Random(16)
    os.environ.setdefault("BEDSIDE_DEVICE_KEYSTORE", "file")
    cpus = os.cpu_count()
    print(f"machine: {platform.machine()}, {cpus} CPUs, python {sys.version.split()[0]}")
    resources = working_set(patients, target, rng)
    ids = [r["id"] for r in resources if r["resourceType"] == "Patient"]
    print(f"working set: {len(resources):,} resources for {len(ids)} patients")

    with tempfile.TemporaryDirectory(prefix="bedside-bench-app-") as tmp:
        root = Path(tmp)
        keys = load_or_create(root / "server-keys")
        pin = "".join(rng.choice("0123456789") for _ in range(6))
        node, _ = Node.enroll_local(
            root / "home",
            user="bench-user",
            device_id="bench-device",
            server=device_bench.ISSUER,
            client_id="bedside-device",
            pin=pin,
            snapshot_jws=device_bench.signed_snapshot(keys, ids, time.time()),
            jwks=keys.public_jwks(),
            refresh_token=secrets.token_urlsafe(32),
            signing_key=Ed25519PrivateKey.generate(),
            kdf=KdfParams(time_cost=1, memory_cost=8192),
        )
        for i in range(0, len(resources), 5_000):
            node.receive(resources[i : i + 5_000])
        count = len(resources)
        del resources
        gc.collect()

        gate = Gate(PORT)
        client = TestClient(
            build_app(Pages(node, gate, Syncer(node), root / "home")), base_url=BASE
        )
        client.get(gate.launch_url().removeprefix(BASE), follow_redirects=False)
        page = client.get("/unlock").text
        csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]

        def get(path: str) -> None:
            answer = client.get(path, follow_redirects=False)
            assert answer.status_code == 200, (path, answer.status_code)

        form = {
            "respiration_rate": "22",
            "spo2": "95",
            "spo2_scale": "1",
            "air_or_oxygen": "air",
            "systolic_bp": "105",
            "pulse": "95",
            "consciousness": "alert",
            "temperature": "38.5",
        }

        def save() -> None:
            pid = rng.choice(ids)
            body = {**form, "patient": pid, "draft": "", "csrf": csrf}
            answer = client.post(f"/patients/{pid}/observe", data=body, follow_redirects=False)
            assert answer.status_code == 303, answer.text[:300]

        tune_gc()  # as `bedside device app` does once it has started
        for _ in range(5):  # warm: templates compiled, pages cached
            get("/patients")
            get(f"/patients/{ids[0]}")
        baseline = timed(lambda: node.chart(rng.choice(ids)), rounds)
        listing = timed(lambda: get("/patients"), rounds)
        chart = timed(lambda: get(f"/patients/{rng.choice(ids)}"), rounds)
        trend = timed(lambda: get(f"/patients/{rng.choice(ids)}/news2"), rounds // 3)
        saves = timed(save, rounds)
        node.lock()  # a new session: the board reads every patient's facts once
        node.unlock(pin)
        first = timed(lambda: get("/patients"), 1)
        node.lock()

    base95 = pct(baseline, 0.95)
    rows = (
        ("bare Node.chart (baseline)", baseline, None),
        ("patient list GET /patients", listing, 50),
        ("chart GET /patients/<id>", chart, 50),
        ("NEWS2 chart GET /patients/<id>/news2", trend, None),
        ("NEWS2 save POST /patients/<id>/observe", saves, 30),
    )
    for name, values, target_ms in rows:
        p50, p95 = pct(values, 0.5), pct(values, 0.95)
        goal = f" (target p95 <= {target_ms} ms)" if target_ms else ""
        print(f"{name}: p50 {p50:.2f} ms, p95 {p95:.2f} ms, {p95 / base95:.1f}x baseline{goal}")
    print(f"first patient list after an unlock: {first[0] * 1e3:.1f} ms (then cached per patient)")
    result = {
        "resources": count,
        "patients": len(ids),
        "baseline_chart_p95_ms": round(base95, 2),
        "list_p95_ms": round(pct(listing, 0.95), 2),
        "chart_p95_ms": round(pct(chart, 0.95), 2),
        "news2_chart_p95_ms": round(pct(trend, 0.95), 2),
        "save_p95_ms": round(pct(saves, 0.95), 2),
        "first_list_ms": round(first[0] * 1e3, 1),
    }
    print(orjson.dumps(result).decode())


if __name__ == "__main__":
    main()
