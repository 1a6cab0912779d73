"""Concurrent writers through a real server on loopback, on each backend (http.html#concurrency).

Each test fires its requests from a pool of 8 threads, each with its own httpx client, so the
server sees them at once and its locks (SQLite's single writer, PostgreSQL advisory locks and
row locks) decide the outcome.
"""

from __future__ import annotations

import queue
import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import BACKENDS, Server
from tests.integration._module_server import module_server

FHIR = {"Content-Type": "application/fhir+json"}
MRN = "http://bedside.test/mrn"
WORKERS = 8


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """Overrides the per-test conftest server: one real server per backend for this module."""
    yield from module_server(tmp_path_factory, str(request.param))


@pytest.fixture(scope="module")
def clients(server: Server) -> Iterator[queue.Queue[httpx.Client]]:
    """WORKERS clients, each with its own connections, shared by the module's tests."""
    pool: queue.Queue[httpx.Client] = queue.Queue()
    headers = {"Accept": "application/fhir+json", "Authorization": f"Bearer {server.token()}"}
    made = [httpx.Client(base_url=server.base, headers=headers, timeout=60) for _ in range(WORKERS)]
    for c in made:
        pool.put(c)
    yield pool
    for c in made:
        c.close()


def concurrently(
    clients: queue.Queue[httpx.Client], n: int, call: Callable[[httpx.Client], httpx.Response]
) -> list[httpx.Response]:
    """Run ``call`` n times from WORKERS threads, releasing the first wave together."""
    gate = threading.Barrier(min(n, WORKERS))

    def one(i: int) -> httpx.Response:
        c = clients.get()
        try:
            if i < min(n, WORKERS):
                gate.wait(timeout=30)
            return call(c)
        finally:
            clients.put(c)

    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        return list(pool.map(one, range(n)))


def body(value: str, **extra: Any) -> bytes:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": MRN, "value": value}],
        **extra,
    }
    return orjson.dumps(resource)


def statuses(responses: list[httpx.Response]) -> list[int]:
    return sorted(r.status_code for r in responses)


def search_identifier(c: httpx.Client, value: str) -> dict[str, Any]:
    r = c.get("/Patient", params={"identifier": f"{MRN}|{value}"})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def history_versions(c: httpx.Client, pid: str) -> list[int]:
    r = c.get(f"/Patient/{pid}/_history", params={"_count": "1000"})
    assert r.status_code == 200, r.text
    return [int(e["response"]["etag"][3:-1]) for e in r.json()["entry"]]


def test_concurrent_conditional_creates_make_exactly_one_resource(
    client: httpx.Client, clients: queue.Queue[httpx.Client]
) -> None:
    value = secrets.token_hex(8)
    headers = {**FHIR, "If-None-Exist": f"identifier={MRN}|{value}"}
    responses = concurrently(
        clients, 10, lambda c: c.post("/Patient", content=body(value), headers=headers)
    )
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    assert statuses(responses).count(201) == 1
    assert len({r.json()["id"] for r in responses}) == 1
    found = search_identifier(client, value)
    assert found["total"] == 1
    assert found["entry"][0]["resource"]["id"] == responses[0].json()["id"]


def test_concurrent_conditional_updates_on_fresh_identifier_make_one_resource(
    client: httpx.Client, clients: queue.Queue[httpx.Client]
) -> None:
    value = secrets.token_hex(8)
    url = f"/Patient?identifier={MRN}|{value}"
    n = 10
    responses = concurrently(
        clients, n, lambda c: c.put(url, content=body(value, active=True), headers=FHIR)
    )
    assert all(r.status_code in (200, 201) for r in responses), [r.text for r in responses]
    assert statuses(responses).count(201) == 1
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    found = search_identifier(client, value)
    assert found["total"] == 1
    (pid,) = ids
    assert history_versions(client, pid) == list(range(n, 0, -1))


def test_concurrent_if_match_updates_let_exactly_one_win(
    client: httpx.Client, clients: queue.Queue[httpx.Client]
) -> None:
    value = secrets.token_hex(8)
    created = client.post("/Patient", content=body(value), headers=FHIR)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    headers = {**FHIR, "If-Match": 'W/"1"'}

    def update(c: httpx.Client) -> httpx.Response:
        return c.put(f"/Patient/{pid}", content=body(value, id=pid, active=True), headers=headers)

    responses = concurrently(clients, WORKERS, update)
    codes = statuses(responses)
    assert codes.count(200) == 1, [r.text for r in responses]
    assert codes.count(412) == WORKERS - 1, codes
    final = client.get(f"/Patient/{pid}")
    assert final.headers["etag"] == 'W/"2"'
    assert final.json()["meta"]["versionId"] == "2"
    assert history_versions(client, pid) == [2, 1]


def test_concurrent_create_on_update_keeps_one_resource_with_gapless_history(
    client: httpx.Client, clients: queue.Queue[httpx.Client]
) -> None:
    pid = f"race-{secrets.token_hex(6)}"
    value = secrets.token_hex(8)
    n = 10

    def put(c: httpx.Client) -> httpx.Response:
        return c.put(f"/Patient/{pid}", content=body(value, id=pid), headers=FHIR)

    responses = concurrently(clients, n, put)
    codes = statuses(responses)
    assert all(code in (200, 201, 412) for code in codes), [r.text for r in responses]
    assert codes.count(201) == 1, codes
    succeeded = [r for r in responses if r.status_code in (200, 201)]
    etags = sorted(int(r.headers["etag"][3:-1]) for r in succeeded)
    assert etags == list(range(1, len(succeeded) + 1))
    versions = history_versions(client, pid)
    assert versions == list(range(len(succeeded), 0, -1))
    found = search_identifier(client, value)
    assert found["total"] == 1
    assert client.get("/Patient", params={"_id": pid}).json()["total"] == 1
