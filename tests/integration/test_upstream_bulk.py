"""Pulling a source that offers Bulk Data ``$export``, over real HTTP on loopback.

Bedside's own server does not offer ``$export``, so the source here is a minimal Bulk Data
server written for this test from the IG's description (kick-off, status polling with
``Retry-After``, NDJSON files, ``deleted`` Bundles, ``_since``), holding a handful of resources
it changes between pulls. The receiving side is the real store on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bedside.rest import FhirRequest, Repository
from bedside.store import Store
from bedside.upstream.config import UpstreamError, parse
from bedside.upstream.service import Upstream
from tests.conftest import BASE, free_port

TOKEN = "bulk-test-token"


class BulkSource:
    """Resources by Type/id with version and lastUpdated; deletions with their time."""

    def __init__(self) -> None:
        self.resources: dict[str, dict[str, Any]] = {}
        self.deleted: dict[str, str] = {}
        self.kickoffs: list[dict[str, str]] = []
        self.polls = 0
        self.clock = 0
        self.status_host: str | None = None

    def put(self, resource: dict[str, Any]) -> None:
        key = f"{resource['resourceType']}/{resource['id']}"
        old = self.resources.get(key)
        version = int(old["meta"]["versionId"]) + 1 if old else 1
        self.resources[key] = {
            **resource,
            "meta": {"versionId": str(version), "lastUpdated": self._tick()},
        }

    def delete(self, key: str) -> None:
        self.resources.pop(key)
        self.deleted[key] = self._tick()

    def _tick(self) -> str:
        self.clock += 1
        return f"2026-03-01T10:00:{self.clock:02d}Z"

    def app(self, base: str) -> Starlette:
        state: dict[str, Any] = {}

        def authorised(request: Request) -> bool:
            return request.headers.get("authorization") == f"Bearer {TOKEN}"

        async def metadata(request: Request) -> Response:
            return JSONResponse(
                {
                    "resourceType": "CapabilityStatement",
                    "rest": [
                        {
                            "mode": "server",
                            "operation": [
                                {
                                    "name": "export",
                                    "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                                }
                            ],
                        }
                    ],
                }
            )

        async def kickoff(request: Request) -> Response:
            if not authorised(request) or request.headers.get("prefer") != "respond-async":
                return Response(status_code=401)
            self.kickoffs.append(dict(request.query_params))
            since = request.query_params.get("_since", "")
            types = request.query_params["_type"].split(",")
            state["now"] = self._tick()
            state["files"] = {
                t: [
                    r
                    for k, r in self.resources.items()
                    if k.startswith(f"{t}/") and r["meta"]["lastUpdated"] >= since
                ]
                for t in types
            }
            state["deleted"] = (
                [k for k, when in self.deleted.items() if when >= since] if since else []
            )
            host = self.status_host or base
            return Response(status_code=202, headers={"Content-Location": f"{host}/_status/1"})

        async def status(request: Request) -> Response:
            if request.method == "DELETE":
                return Response(status_code=202)
            self.polls += 1
            if self.polls % 2 == 1:
                return Response(status_code=202, headers={"Retry-After": "0.1"})
            output = [
                {"type": t, "url": f"{base}/_files/{t}.ndjson", "count": len(rows)}
                for t, rows in state["files"].items()
                if rows
            ]
            deleted = (
                [{"type": "Bundle", "url": f"{base}/_files/deleted.ndjson"}]
                if state["deleted"]
                else []
            )
            return JSONResponse(
                {
                    "transactionTime": state["now"],
                    "request": f"{base}/$export",
                    "requiresAccessToken": True,
                    "output": output,
                    "deleted": deleted,
                    "error": [],
                }
            )

        async def files(request: Request) -> Response:
            if not authorised(request):
                return Response(status_code=401)
            name = request.path_params["name"]
            if name == "deleted.ndjson":
                bundle = {
                    "resourceType": "Bundle",
                    "type": "transaction",
                    "entry": [
                        {"request": {"method": "DELETE", "url": k}} for k in state["deleted"]
                    ],
                }
                body = orjson.dumps(bundle) + b"\n"
            else:
                rows = state["files"][name.removesuffix(".ndjson")]
                body = b"".join(orjson.dumps(r) + b"\n" for r in rows)
            return Response(body, media_type="application/fhir+ndjson")

        return Starlette(
            routes=[
                Route("/fhir/metadata", metadata),
                Route("/fhir/$export", kickoff),
                Route("/fhir/_status/1", status, methods=["GET", "DELETE"]),
                Route("/fhir/_files/{name}", files),
            ]
        )


@pytest.fixture
def bulk(tmp_path: Path) -> Iterator[tuple[BulkSource, str]]:
    port = free_port()
    base = f"http://127.0.0.1:{port}/fhir"
    source = BulkSource()
    server = uvicorn.Server(
        uvicorn.Config(
            source.app(base), host="127.0.0.1", port=port, log_level="warning", log_config=None
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    yield source, base
    server.should_exit = True
    thread.join(10)


def _config(base: str, tmp_path: Path) -> Any:
    (tmp_path / "token").write_text(TOKEN)
    return parse(
        f'[source.ehr]\nkind = "fhir"\nbase_url = "{base}"\ntoken_file = "token"\n'
        'types = ["Patient", "Observation"]\n',
        source="t",
        data_dir=tmp_path,
    )


def _patient(pid: str, family: str) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "name": [{"family": family}]}


def _obs(oid: str, pid: str, value: float) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": oid,
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "2345-7"}]},
        "subject": {"reference": f"Patient/{pid}"},
        "valueQuantity": {"value": value, "unit": "mmol/L"},
    }


def _search(repo: Repository, rtype: str) -> list[dict[str, Any]]:
    found = repo.handle(FhirRequest("GET", rtype, query=(("_count", "100"),))).resource or {}
    return [e["resource"] for e in found.get("entry", [])]


def test_bulk_export_pull_then_since_with_changes_and_deletions(
    store: Store, repo: Repository, tmp_path: Path, bulk: tuple[BulkSource, str]
) -> None:
    source, base = bulk
    source.put(_patient("p1", "Example"))
    source.put(_patient("p2", "Sample"))
    for oid, value in (("o1", 5.1), ("o2", 6.2), ("o3", 7.3)):
        source.put(_obs(oid, "p1", value))
    up = Upstream(store, _config(base, tmp_path), BASE)

    first = up.pull("ehr")
    assert first.mode == {"Patient": "bulk export", "Observation": "bulk export"}
    assert first.by_type == {"Patient": 2, "Observation": 3} and not first.errors
    patients = {p["name"][0]["family"]: p for p in _search(repo, "Patient")}
    assert all(
        o["subject"]["reference"] == f"Patient/{patients['Example']['id']}"
        for o in _search(repo, "Observation")
    )
    mark = up.status("ehr")["marks"]
    assert set(mark.values()) == {"2026-03-01T10:00:06Z"}  # the manifest's transactionTime

    second = up.pull("ehr")
    assert second.written == 0 and second.deleted == 0
    assert source.kickoffs[1]["_since"] == "2026-03-01T10:00:06Z"

    source.put(_patient("p1", "Example-Changed"))
    source.delete("Observation/o2")
    third = up.pull("ehr")
    assert third.by_type == {"Patient": 1} and third.deleted == 1
    families = sorted(p["name"][0]["family"] for p in _search(repo, "Patient"))
    assert families == ["Example-Changed", "Sample"]
    assert sorted(o["valueQuantity"]["value"] for o in _search(repo, "Observation")) == [5.1, 7.3]
    provs = [p for p in _search(repo, "Provenance") if p.get("meta", {}).get("source") == base]
    deletes = [p for p in provs if p["activity"]["coding"][0]["code"] == "DELETE"]
    assert len(deletes) == 1
    assert deletes[0]["entity"][0]["what"]["identifier"]["value"].startswith(
        "Observation/o2/deleted/"
    )


def test_an_export_status_on_another_host_is_refused(
    store: Store, tmp_path: Path, bulk: tuple[BulkSource, str]
) -> None:
    source, base = bulk
    source.put(_patient("p1", "Example"))
    source.status_host = "http://127.0.0.2:9/fhir"
    up = Upstream(store, _config(base, tmp_path), BASE)
    with pytest.raises(UpstreamError, match="outside its own host"):
        up.pull("ehr")


def test_a_source_version_that_cannot_be_written_is_kept_and_replayed_after_the_fix(
    store: Store, repo: Repository, tmp_path: Path, bulk: tuple[BulkSource, str]
) -> None:
    """Two local Patients share the identifier: refused, kept; once a person removes the
    duplicate, the replay matches the one left (the pull's mark had moved on)."""
    source, base = bulk
    ids = []
    for _ in range(2):
        made = repo.handle(
            FhirRequest(
                "POST",
                "Patient",
                body={
                    "resourceType": "Patient",
                    "identifier": [{"system": "urn:oid:1.2.9", "value": "X1"}],
                },
            )
        )
        assert made.resource is not None
        ids.append(str(made.resource["id"]))
    source.put(
        {**_patient("p9", "Example"), "identifier": [{"system": "urn:oid:1.2.9", "value": "X1"}]}
    )
    text = (
        f'[source.ehr]\nkind = "fhir"\nbase_url = "{base}"\ntoken_file = "token"\n'
        'types = ["Patient"]\npatient_identifiers = ["urn:oid:1.2.9"]\n'
    )
    (tmp_path / "token").write_text(TOKEN)
    up = Upstream(store, parse(text, source="t", data_dir=tmp_path), BASE)
    report = up.pull("ehr")
    assert len(report.errors) == 1 and "more than one local Patient" in report.errors[0]
    status = up.status("ehr")
    assert [x["entity"] for x in status["dead_letters"]] == ["Patient/p9/_history/1"]
    assert "Example" not in orjson.dumps(status).decode()

    assert up.retry("ehr", None)[0].code == "AE"  # nothing changed yet: still refused
    repo.handle(FhirRequest("DELETE", f"Patient/{ids[1]}"))
    (again,) = up.retry("ehr", None)
    assert again.code == "AA"
    kept = repo.handle(FhirRequest("GET", f"Patient/{ids[0]}")).resource or {}
    assert {"system": f"{base}/Patient", "value": "p9"} in kept["identifier"]
    assert up.status("ehr")["dead_letters_open"] == 0
