"""``fhir-kit-client`` 2.0.3 (npm, from tests/interop/fhirkit's lock), unmodified, against a
real server on loopback: compartment search, system/type/instance history, ``$everything``
and JSON Patch, each checked against what the store holds (issue 21: these were 405, 404 and
404 before). Node runs ``run.mjs``; ``make interop-js`` installs the lock.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import httpx
import orjson
import pytest

from tests.conftest import Server

HERE = Path(__file__).resolve().parent / "fhirkit"
FHIR = "application/fhir+json"


def node_client() -> None:
    if shutil.which("node") is None or not (HERE / "node_modules/fhir-kit-client").exists():
        message = "fhir-kit-client is not installed: run `make interop-js`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def put(c: httpx.Client, resource: dict[str, object]) -> None:
    path = f"/{resource['resourceType']}/{resource['id']}"
    r = c.put(path, content=orjson.dumps(resource), headers={"Content-Type": FHIR})
    assert r.status_code in (200, 201), r.text


def test_fhir_kit_client_compartment_history_everything_and_patch(server: Server) -> None:
    node_client()
    with server.client() as c:
        put(c, {"resourceType": "Patient", "id": "fk-p", "active": True})
        put(c, {"resourceType": "Patient", "id": "fk-other", "active": True})
        for oid, who in (("fk-o1", "fk-p"), ("fk-o2", "fk-p"), ("fk-o3", "fk-other")):
            subject = {"reference": f"Patient/{who}"}
            put(c, {"resourceType": "Observation", "id": oid, "status": "final",
                    "code": {"text": "pulse"}, "subject": subject})  # fmt: skip
        everything = c.get("/Patient/fk-p/$everything", params={"_count": "1000"}).json()
        stored = {
            f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in everything["entry"]
        }
    env = {
        **os.environ,
        "BEDSIDE_FHIR": server.base,
        "BEDSIDE_TOKEN": server.token(),
        "BEDSIDE_PATIENT": "fk-p",
    }
    run = subprocess.run(
        ["node", str(HERE / "run.mjs")], cwd=HERE, env=env, capture_output=True, timeout=120
    )
    assert run.returncode == 0, run.stderr.decode()
    got = json.loads(run.stdout)
    assert got["metadata"] == "4.0.1"
    assert sorted(got["compartment"]) == ["Observation/fk-o1", "Observation/fk-o2"]
    assert {"Patient/fk-p", "Observation/fk-o3"} <= set(got["systemHistory"])
    assert set(got["typeHistory"]) == {
        "Observation/fk-o1",
        "Observation/fk-o2",
        "Observation/fk-o3",
    }
    assert got["instanceHistory"] == 1
    assert set(got["everything"]) == stored
    assert {"Patient/fk-p", "Observation/fk-o1", "Observation/fk-o2"} <= stored
    assert "Observation/fk-o3" not in stored
    assert got["patchedActive"] is False
    assert got["exportWithoutPrefer"] == 400  # $export needs Prefer: respond-async
