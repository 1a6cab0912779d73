"""No PHI in the server's log: a real server handles a canary patient every way we can think
of, successful and failing, and not one canary string may reach its log file (docs/logging.md).
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Server, start_server, stop_server

GIVEN = "Zebulonia"
FAMILY = "Quixtrapper"
MRN = "ZQ-58213-CANARY"
BIRTH_DATE = "1917-04-23"
EMAIL = "zebulonia.q@example.org"
PHONE = "+1 555 014 7788"
CANARIES = (GIVEN, FAMILY, MRN, "58213", BIRTH_DATE, "19170423", EMAIL, "555 014", "0147788")


def canary_patient() -> dict[str, object]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:bedside:test:mrn", "value": MRN}],
        "name": [{"given": [GIVEN], "family": FAMILY}],
        "telecom": [{"system": "email", "value": EMAIL}, {"system": "phone", "value": PHONE}],
        "birthDate": BIRTH_DATE,
    }


def log_path(server: Server) -> Path:
    port = urlsplit(server.base).port
    return server.data_dir.parent / f"server-{port}.log"


def exercise(server: Server) -> None:
    """Every kind of request that could carry the canary into a log line."""
    with server.client() as c:
        created = c.post("/Patient", json=canary_patient())
        assert created.status_code == 201, created.text
        pid = created.json()["id"]
        assert c.get(f"/Patient/{pid}").status_code == 200
        assert c.get("/Patient", params={"name": GIVEN}).json()["total"] == 1
        found = c.get("/Patient", params={"identifier": f"urn:bedside:test:mrn|{MRN}"})
        assert found.json()["total"] == 1
        assert c.get("/Patient", params={"birthdate": BIRTH_DATE, "telecom": EMAIL}).is_success
        form = c.post(
            "/Patient/_search",
            content=f"family={FAMILY}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert form.status_code == 200
        # failing searches: an unknown parameter named after the canary, a malformed date
        assert c.get("/Patient", params={FAMILY: GIVEN}).status_code == 400
        assert c.get("/Patient", params={"birthdate": f"gt{GIVEN}"}).status_code == 400
        # a create that fails validation, with the canary in the body
        invalid = {**canary_patient(), "birthDate": f"{BIRTH_DATE}-{GIVEN}", "gender": FAMILY}
        assert c.post("/Patient", json=invalid).status_code == 400
        updated = {**canary_patient(), "id": pid, "name": [{"given": [GIVEN], "family": "Q"}]}
        assert c.put(f"/Patient/{pid}", json=updated).status_code == 200
        # a body that is not JSON
        bad_json = f'{{"resourceType": "Patient", "name": [{{"family": "{FAMILY}"'
        r = c.post("/Patient", content=bad_json, headers={"Content-Type": "application/fhir+json"})
        assert r.status_code == 400
        # the canary as an id in the path: a read that misses, an update that creates
        assert c.get(f"/Patient/{FAMILY}").status_code == 404
        as_id = {**canary_patient(), "id": GIVEN}
        assert c.put(f"/Patient/{GIVEN}", json=as_id).status_code in (200, 201)
        assert c.get(f"/Patient/{pid}/_history").status_code == 200
        assert c.get(f"/Patient/{pid}/_history/1").status_code == 200
        assert c.get("/Patient/_history", params={"_since": BIRTH_DATE}).is_success
        entries: list[dict[str, object]] = [
            {
                "fullUrl": "urn:uuid:7f1c2b9e-0c1d-4c4e-9a57-2f0e5b1d6a10",
                "resource": canary_patient(),
                "request": {"method": "POST", "url": "Patient"},
            },
            {
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "code": {"text": f"{GIVEN} {FAMILY} weight"},
                    "subject": {"reference": "urn:uuid:7f1c2b9e-0c1d-4c4e-9a57-2f0e5b1d6a10"},
                    "valueString": f"{FAMILY}, born {BIRTH_DATE}",
                },
                "request": {"method": "POST", "url": "Observation"},
            },
        ]
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
        assert c.post("", json=bundle).status_code == 200
        bad_entry = {"resource": invalid, "request": {"method": "POST", "url": "Patient"}}
        bundle["entry"] = [*entries, bad_entry]
        assert c.post("", json=bundle).status_code >= 400  # all or nothing: refused
        assert c.delete(f"/Patient/{GIVEN}").status_code in (200, 204)
        # the error paths for hostile input (issue 13): nesting past the limit, a forged
        # cursor, a tampered history cursor, each carrying the canary
        deep = {**canary_patient(), "extension": json.loads("[" * 150 + "]" * 150)}
        assert c.post("/Patient", json=deep).status_code == 400
        forged = base64.urlsafe_b64encode(json.dumps({"s": 2**70, "k": [FAMILY]}).encode())
        assert c.get("/Patient", params={"_cursor": forged.decode()}).status_code == 400
        assert c.get("/Patient/_history", params={"_cursor": f"{GIVEN}{MRN}"}).status_code == 400
        assert c.get("/Patient", params={"_count": f"{MRN}"}).status_code in (200, 400)
        # a body past the size limit (16 MiB), declared and streamed, the canary at its start
        huge = json.dumps(canary_patient()).encode()[:-1] + b', "text": "' + b"x" * (17 << 20)
        for content in (huge, iter([huge[:65536], huge[65536:]])):
            r = c.post("/Patient", content=content, headers={"Content-Type": "application/json"})
            assert r.status_code == 413 and FAMILY not in r.text
    # a sync push and a device call with the canary in the body and no device token
    root = server.base.removesuffix("/fhir")
    with server.client() as c:
        r = c.post(f"{root}/sync/push", json={"protocol": 1, "events": [canary_patient()]})
        assert r.status_code in (400, 401, 403)
        deep_push = {"protocol": 1, "events": json.loads("[" * 150 + f'"{FAMILY}"' + "]" * 150)}
        assert c.post(f"{root}/sync/push", json=deep_push).status_code in (400, 401, 403)
    # an invalid token (the canary as a token), and a token request naming the canary client
    with httpx.Client(base_url=server.base, timeout=30) as anon:
        r = anon.get(
            "/Patient",
            params={"name": GIVEN},
            headers={"Authorization": f"Bearer {GIVEN}.{FAMILY}.{MRN}"},
        )
        assert r.status_code == 401
        root = server.base.removesuffix("/fhir")
        r = anon.post(
            f"{root}/auth/token",
            data={"grant_type": "client_credentials", "client_id": GIVEN, "scope": FAMILY},
        )
        assert r.status_code in (400, 401)
        form = {"grant_type": "client_credentials", "client_id": GIVEN, "scope": FAMILY * 9000}
        r = anon.post(f"{root}/auth/token", data=form)  # past the 64 KiB limit
        assert r.status_code == 413 and FAMILY not in r.text
    _malformed_http(server)


def _malformed_http(server: Server) -> None:
    """A request uvicorn's parser rejects, with the canary in it (uvicorn logs a warning)."""
    parts = urlsplit(server.base)
    with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), 5) as s:
        s.sendall(
            f"GET /fhir/Patient?name={GIVEN} HTTP/1.1\r\nHost: x\r\n"
            f"Bad Header {FAMILY}\r\n\r\n".encode()
        )
        s.settimeout(5)
        with contextlib.suppress(OSError):
            s.recv(4096)


def assert_no_canary(log: str) -> None:
    lowered = log.lower()
    leaked = [c for c in CANARIES if c.lower() in lowered]
    assert not leaked, f"PHI canaries {leaked} found in the server log:\n{log}"


def access_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "logger=bedside.access" in line]


@pytest.mark.timeout(180)
def test_server_log_holds_no_phi_from_any_request(db_url: str, tmp_path: Path) -> None:
    server = start_server(tmp_path / "data", db_url)
    try:
        exercise(server)
    finally:
        stop_server(server)
    log = log_path(server).read_text(encoding="utf-8", errors="replace")
    assert_no_canary(log)
    lines = access_lines(log)
    assert len(lines) >= 20, log  # every request was recorded, scrubbed
    assert any("method=POST path=/fhir/Patient status=201" in line for line in lines), log
    assert any("path=/fhir/Patient/{id} status=200" in line for line in lines), log
    assert any("path=/fhir/Patient/{id}/_history/{vid}" in line for line in lines), log
    assert any("path=/fhir/Patient status=400" in line for line in lines), log
    assert any("path=/fhir/Patient status=401" in line for line in lines), log
    assert any("method=PUT path=/fhir/Patient/{id}" in line for line in lines), log
    assert all(re.search(r"request_id=[0-9a-f]{16}", line) for line in lines), log
    assert "Invalid HTTP request received." in log  # uvicorn's own warning, scrubbed


@pytest.mark.timeout(180)
def test_worker_processes_log_json_without_phi(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'bedside.db'}"
    server = start_server(tmp_path / "data", db, "--workers", "2", "--log-json")
    try:
        exercise(server)
    finally:
        stop_server(server)
    log = log_path(server).read_text(encoding="utf-8", errors="replace")
    assert_no_canary(log)
    records = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    access = [r for r in records if r.get("logger") == "bedside.access"]
    assert len(access) >= 20, log
    assert {r["status"] for r in access} >= {200, 201, 400, 401, 404}
    assert {r["path"] for r in access} >= {"/fhir/Patient", "/fhir/Patient/{id}", "/fhir/"}
    assert all(
        set(r)
        <= {
            "timestamp",
            "level",
            "logger",
            "event",
            "method",
            "path",
            "status",
            "duration_ms",
            "request_id",
            "error_type",
        }
        for r in access
    )


def test_serve_refuses_an_unknown_log_level(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bedside", "serve", "--data-dir", str(tmp_path / "d"),
         "--log-level", "loud"],
        capture_output=True,
        text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 1
    assert "--log-level must be debug, info, warning or error" in result.stderr
