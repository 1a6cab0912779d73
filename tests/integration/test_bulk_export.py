"""Bulk Data ``$export`` as a backend client would drive it (export.html), on each backend:
kick-off with ``Prefer: respond-async``, poll the status URL, download the NDJSON files and
check every count against the store; ``_type``, ``_since``, ``_typeFilter``; Group level
confined to the members; files only for the client that asked; DELETE cancels; expiry.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from bedside.audit.entry import NullAuditor
from bedside.auth import tokens
from bedside.auth.keys import load_or_create
from bedside.consent.evaluate import shares_for
from bedside.errors import NotFound
from bedside.policy.decide import Policy
from bedside.rest import FhirRequest, Repository
from bedside.rest.bulk_export import BulkExports
from bedside.store.base import Store
from tests.conftest import BACKENDS, BASE, OPERATOR, Server
from tests.integration._module_server import module_server

FHIR = "application/fhir+json"
ASYNC = {"Prefer": "respond-async", "Accept": FHIR}
LOINC = "http://loinc.org"


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    yield from module_server(tmp_path_factory, str(request.param))


def token(server: Server, client: str, scope: str = "system/*.rs") -> str:
    return tokens.issue(
        load_or_create(server.data_dir),
        subject=client,
        audience=server.base,
        scope=scope,
        ttl=600,
        extra={"client_id": client},
    )


def client_for(server: Server, client: str, scope: str = "system/*.rs") -> httpx.Client:
    headers = {"Authorization": f"Bearer {token(server, client, scope)}"}
    return httpx.Client(base_url=server.base, headers=headers, timeout=60.0)


@pytest.fixture(scope="module")
def data(server: Server) -> dict[str, int]:
    """3 patients, 2 Observations each (one laboratory), 1 Condition for bx-p1, a Group."""
    with server.client() as c:

        def put(resource: dict[str, Any]) -> None:
            path = f"/{resource['resourceType']}/{resource['id']}"
            r = c.put(path, content=orjson.dumps(resource), headers={"Content-Type": FHIR})
            assert r.status_code in (200, 201), r.text

        for p in ("bx-p1", "bx-p2", "bx-p3"):
            put({"resourceType": "Patient", "id": p, "active": True})
            for kind in ("laboratory", "vital-signs"):
                put({"resourceType": "Observation", "id": f"{p}-{kind}", "status": "final",
                     "category": [{"coding": [{"code": kind}]}],
                     "code": {"coding": [{"system": LOINC, "code": "718-7"}]},
                     "subject": {"reference": f"Patient/{p}"}})  # fmt: skip
        put({"resourceType": "Condition", "id": "bx-c1", "subject": {"reference": "Patient/bx-p1"},
             "code": {"text": "asthma"}})  # fmt: skip
        put({"resourceType": "Group", "id": "bx-g", "type": "person", "actual": True,
             "member": [{"entity": {"reference": "Patient/bx-p1"}},
                        {"entity": {"reference": "Patient/bx-p2"}}]})  # fmt: skip
        counts = {}
        for rtype in ("Patient", "Observation", "Condition", "Group", "Provenance"):
            counts[rtype] = c.get(f"/{rtype}", params={"_summary": "count"}).json()["total"]
        return counts


def kick_off(c: httpx.Client, path: str = "/$export", **params: str) -> str:
    r = c.get(path, params=params, headers=ASYNC)
    assert r.status_code == 202, r.text
    assert r.content == b""
    return r.headers["content-location"]


def manifest(c: httpx.Client, status_url: str) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = c.get(status_url)
        if r.status_code == 200:
            assert r.headers["content-type"].startswith("application/json")
            assert r.headers["cache-control"] == "no-store" and "expires" in r.headers
            out: dict[str, Any] = r.json()
            return out
        assert r.status_code == 202, r.text
        assert r.headers["retry-after"] == "1" and "types exported" in r.headers["x-progress"]
        time.sleep(0.2)
    raise AssertionError("the export did not complete in 60 s")


def download(c: httpx.Client, out: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    files: dict[str, list[dict[str, Any]]] = {}
    for item in out["output"]:
        r = c.get(item["url"])
        assert r.status_code == 200, r.text
        assert r.headers["content-type"].startswith("application/fhir+ndjson")
        assert r.headers["cache-control"] == "no-store"
        lines = [orjson.loads(line) for line in r.content.splitlines()]
        assert len(lines) == item["count"]
        assert all(res["resourceType"] == item["type"] for res in lines)
        files[item["type"]] = lines
    return files


def test_a_system_export_holds_every_resource_of_every_type(
    server: Server, data: dict[str, int]
) -> None:
    with client_for(server, "backend-a") as c:
        out = manifest(c, kick_off(c))
        assert out["requiresAccessToken"] is True and out["error"] == []
        assert out["request"].endswith("/$export")
        files = download(c, out)
    for rtype, count in data.items():
        assert len(files[rtype]) == count, rtype
    assert {r["id"] for r in files["Condition"]} == {"bx-c1"}


def test_type_since_and_type_filter(server: Server, data: dict[str, int]) -> None:
    with client_for(server, "backend-a") as c:
        only = download(c, manifest(c, kick_off(c, _type="Observation,Condition")))
        assert set(only) == {"Observation", "Condition"}
        labs = manifest(c, kick_off(c, _type="Observation",
                                    _typeFilter="Observation?category=laboratory"))  # fmt: skip
        got = download(c, labs)["Observation"]
        assert sorted(r["id"] for r in got) == ["bx-p1-laboratory", "bx-p2-laboratory",
                                                "bx-p3-laboratory"]  # fmt: skip
        later = manifest(c, kick_off(c, _since="2999-01-01T00:00:00Z"))
        assert later["output"] == []


def test_a_group_export_holds_only_the_members_data(server: Server, data: dict[str, int]) -> None:
    with client_for(server, "backend-a") as c:
        files = download(c, manifest(c, kick_off(c, "/Group/bx-g/$export")))
    assert {r["id"] for r in files["Patient"]} == {"bx-p1", "bx-p2"}
    subjects = {r["subject"]["reference"] for r in files["Observation"]}
    assert subjects == {"Patient/bx-p1", "Patient/bx-p2"}
    assert {r["id"] for r in files["Group"]} == {"bx-g"}  # a Group is in its members' compartments


def test_files_and_status_belong_to_the_client_that_asked(
    server: Server, data: dict[str, int]
) -> None:
    with client_for(server, "backend-a") as a, client_for(server, "backend-b") as b:
        status_url = kick_off(a, _type="Patient")
        out = manifest(a, status_url)
        assert b.get(status_url).status_code == 404
        assert b.delete(status_url).status_code == 404
        for item in out["output"]:
            assert b.get(item["url"]).status_code == 404
            assert httpx.get(item["url"]).status_code == 401
        assert a.get(out["output"][0]["url"]).status_code == 200


def test_delete_cancels_and_removes_the_files(server: Server, data: dict[str, int]) -> None:
    with client_for(server, "backend-a") as c:
        status_url = kick_off(c)
        out = manifest(c, status_url)
        assert c.delete(status_url).status_code == 202
        assert c.get(status_url).status_code == 404
        assert c.get(out["output"][0]["url"]).status_code == 404
        job = status_url.rsplit("/", 1)[1]
        assert not (server.data_dir / "exports" / job).exists()


@pytest.mark.parametrize(
    ("params", "headers", "status"),
    [
        ({}, {"Accept": FHIR}, 400),  # no Prefer: respond-async
        ({"_outputFormat": "text/csv"}, ASYNC, 400),
        ({"_type": "Nonsense"}, ASYNC, 400),
        ({"_since": "whenever"}, ASYNC, 400),
        ({"_typeFilter": "Observation?nonsense=1"}, ASYNC, 400),
    ],
)
def test_a_bad_kick_off_is_refused_with_an_outcome(
    server: Server, params: dict[str, str], headers: dict[str, str], status: int
) -> None:
    with client_for(server, "backend-a") as c:
        r = c.get("/$export", params=params, headers=headers)
        assert r.status_code == status, r.text
        assert r.json()["resourceType"] == "OperationOutcome"


def test_a_token_without_the_type_gets_only_what_it_may_read(
    server: Server, data: dict[str, int]
) -> None:
    with client_for(server, "backend-c", "system/Patient.rs") as c:
        files = download(c, manifest(c, kick_off(c)))
        assert set(files) == {"Patient"}
        r = c.get("/$export", params={"_type": "Observation"}, headers=ASYNC)
        assert r.status_code == 403


def test_finished_jobs_expire_with_their_files(store: Store, tmp_path: Path) -> None:
    exports = BulkExports(
        tmp_path / "exports",
        store,
        Policy(consents=shares_for),
        auditor=_NoAudit(),
        expires=0.0,
        start=lambda f: f(),
    )
    repo = Repository(
        store,
        OPERATOR,
        BASE,
        exports=exports,
        policy=Policy(consents=shares_for),
        auditor=NullAuditor(),
    )
    repo.handle(FhirRequest("PUT", "Patient/e1", body={"resourceType": "Patient", "id": "e1"}))
    resp = repo.handle(FhirRequest("GET", "$export", prefer_async=True))
    assert resp.status == 202
    job = resp.headers["Content-Location"].rsplit("/", 1)[1]
    assert (tmp_path / "exports" / job / "Patient.ndjson").exists()
    time.sleep(0.01)
    exports.sweep()
    assert not (tmp_path / "exports" / job).exists()
    with pytest.raises(NotFound):
        exports.status(OPERATOR, job, BASE)


class _NoAudit:
    enabled = False

    def append(self, records: Any, entries: Any) -> None:
        return None

    def submit(self, entries: Any) -> None:
        return None


def test_a_patient_confined_token_exports_only_its_patient(
    server: Server, data: dict[str, int]
) -> None:
    confined = tokens.issue(
        load_or_create(server.data_dir),
        subject="app-d",
        audience=server.base,
        scope="patient/*.rs",
        ttl=600,
        extra={"client_id": "app-d", "patient": "bx-p3"},
    )
    with httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {confined}"}) as c:
        files = download(c, manifest(c, kick_off(c, "/Patient/$export")))
    assert {r["id"] for r in files["Patient"]} == {"bx-p3"}
    assert {r["subject"]["reference"] for r in files["Observation"]} == {"Patient/bx-p3"}
    assert "Condition" not in files  # bx-p1's


def test_export_files_are_owner_only_on_disk(server: Server, data: dict[str, int]) -> None:
    with client_for(server, "backend-a") as c:
        status_url = kick_off(c, _type="Patient")
        manifest(c, status_url)
    folder = server.data_dir / "exports" / status_url.rsplit("/", 1)[1]
    assert folder.stat().st_mode & 0o777 == 0o700
    for path in folder.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path.name


def test_an_export_since_lists_what_was_deleted_since_as_the_caller_could_see_it(
    server: Server, data: dict[str, int]
) -> None:
    """Bulk Data 2.0 ``deleted``: with ``_since``, a Bundle of DELETE entries for each resource
    deleted since then (what an upstream copy needs to follow the source's deletions), and only
    those the caller could have exported."""
    with server.client() as op:
        for p in ("bx-d1", "bx-d2"):
            for r in ({"resourceType": "Patient", "id": p, "active": True},
                      {"resourceType": "Observation", "id": f"{p}-obs", "status": "final",
                       "code": {"coding": [{"system": LOINC, "code": "718-7"}]},
                       "subject": {"reference": f"Patient/{p}"}}):  # fmt: skip
                path = f"/{r['resourceType']}/{r['id']}"
                resp = op.put(path, content=orjson.dumps(r), headers={"Content-Type": FHIR})
                assert resp.status_code in (200, 201), resp.text
        time.sleep(0.05)
        since = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        time.sleep(0.05)
        for p in ("bx-d1", "bx-d2"):
            assert op.delete(f"/Observation/{p}-obs").status_code in (200, 204)
    with client_for(server, "backend-a") as c:
        out = manifest(c, kick_off(c, _type="Observation", _since=since))
        assert out["output"] == []
        [item] = out["deleted"]
        assert item["type"] == "Bundle" and item["count"] == 2
        r = c.get(item["url"])
        assert r.status_code == 200, r.text
        bundles = [orjson.loads(line) for line in r.content.splitlines()]
    urls = {e["request"]["url"] for b in bundles for e in b["entry"]}
    assert urls == {"Observation/bx-d1-obs", "Observation/bx-d2-obs"}
    assert all(b["type"] == "transaction" for b in bundles)
    assert {e["request"]["method"] for b in bundles for e in b["entry"]} == {"DELETE"}
    confined = tokens.issue(
        load_or_create(server.data_dir),
        subject="app-e",
        audience=server.base,
        scope="patient/*.rs",
        ttl=600,
        extra={"client_id": "app-e", "patient": "bx-d1"},
    )
    with httpx.Client(base_url=server.base, headers={"Authorization": f"Bearer {confined}"}) as c:
        out = manifest(c, kick_off(c, "/Patient/$export", _type="Observation", _since=since))
        [item] = out["deleted"]
        lines = [orjson.loads(x) for x in c.get(item["url"]).content.splitlines()]
    assert {e["request"]["url"] for b in lines for e in b["entry"]} == {"Observation/bx-d1-obs"}
