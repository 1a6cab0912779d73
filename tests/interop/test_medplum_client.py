"""``@medplum/core`` 4.5.2's MedplumClient (npm, from tests/interop/medplum's lock), unmodified,
against a real server on loopback: create, read, update and search as an integrator's app would,
each answer checked against what the store holds (issue 21). Node runs ``run.mjs``; ``make
interop-js`` installs the lock.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Server

HERE = Path(__file__).resolve().parent / "medplum"


def node_client() -> None:
    if shutil.which("node") is None or not (HERE / "node_modules/@medplum/core").exists():
        message = "@medplum/core is not installed: run `make interop-js`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)


def test_medplum_client_creates_reads_updates_and_searches(server: Server) -> None:
    node_client()
    env = {**os.environ, "BEDSIDE_FHIR": server.base, "BEDSIDE_TOKEN": server.token()}
    run = subprocess.run(
        ["node", str(HERE / "run.mjs")], cwd=HERE, env=env, capture_output=True, timeout=120
    )
    assert run.returncode == 0, run.stderr.decode()
    got = json.loads(run.stdout)
    pid = got["created"]["id"]
    assert got["created"]["versionId"] == "1"
    assert got["read"] == {"family": "Medplumtest", "birthDate": "1970-01-02"}
    assert got["updated"] == {"active": False, "versionId": "2"}
    assert got["search"] == [pid]
    assert got["searchOne"] == pid
    assert got["observationsBundle"]["type"] == "searchset"
    # Bedside's 400 OperationOutcome and 404, as Medplum reads them
    assert got["unknownParameter"] == "invalid"
    assert got["missing"] == "not-found"
    with server.client() as c:  # what the store holds, read past the client
        stored = c.get(f"/Patient/{pid}").json()
        history = c.get(f"/Patient/{pid}/_history").json()
    assert stored["active"] is False and stored["meta"]["versionId"] == "2"
    assert stored["name"] == [{"family": "Medplumtest", "given": ["Ada"]}]
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["2", "1"]
