"""End-to-end smoke test: a real server on loopback, on each backend."""

from __future__ import annotations

from tests.conftest import Server


def test_server_requires_token_and_serves_created_patient(server: Server) -> None:
    with server.client(scope=None) as anon:
        r = anon.get("/Patient")
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert r.json()["resourceType"] == "OperationOutcome"
        assert anon.get("/metadata").status_code == 200
    with server.client() as c:
        r = c.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Okafor"}]})
        assert r.status_code == 201, r.text
        pid = r.json()["id"]
        assert r.headers["etag"] == 'W/"1"'
        got = c.get(f"/Patient/{pid}")
        assert got.status_code == 200
        assert got.json()["name"][0]["family"] == "Okafor"
        found = c.get("/Patient", params={"family": "oka"}).json()
        assert found["total"] == 1
