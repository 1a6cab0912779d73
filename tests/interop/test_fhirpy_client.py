"""``fhirpy`` 2.3.1 (PyPI, from the lock), unmodified, against a real server on loopback:
``count()``, ``patch()``, search with ``fetch``/``fetch_all`` and a transaction Bundle, each
checked against what the server stores (issue 21: count and patch were 400 before).

fhirpy's ``count()`` sends the Aidbox parameter ``_totalMethod``; the client is configured the
way docs/api.md says, with ``Prefer: handling=lenient``, so the server ignores it and says so.
Its ``patch()`` sends a partial resource as ``application/json``: a JSON Merge Patch.
"""

from __future__ import annotations

import httpx
from fhirpy import SyncFHIRClient

from tests.conftest import Server


def test_fhirpy_count_patch_search_and_transaction(server: Server) -> None:
    client = SyncFHIRClient(
        server.base,
        authorization=f"Bearer {server.token()}",
        extra_headers={"Prefer": "handling=lenient"},
    )
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:00000000-0000-4000-8000-00000000000{i}",
                "resource": {
                    "resourceType": "Patient",
                    "name": [{"family": "Fhirpy"}],
                    "gender": "female",
                    "active": True,
                },
                "request": {"method": "POST", "url": "Patient"},
            }
            for i in range(3)
        ],
    }
    answer = client.execute("", method="post", data=bundle)
    assert answer["type"] == "transaction-response"
    assert [e["response"]["status"][:3] for e in answer["entry"]] == ["201"] * 3

    patients = client.resources("Patient").search(family="fhirpy")
    assert patients.count() == 3
    found = patients.fetch_all()
    assert len(found) == 3 and {p["name"][0]["family"] for p in found} == {"Fhirpy"}

    target = found[0]
    patched = client.patch("Patient", target["id"], gender="other", active=None)
    assert patched["gender"] == "other" and "active" not in patched
    assert patched["meta"]["versionId"] == "2"
    stored = httpx.get(
        f"{server.base}/Patient/{target['id']}",
        headers={"Authorization": f"Bearer {server.token()}"},
    ).json()
    assert stored["gender"] == "other" and stored["name"] == [{"family": "Fhirpy"}]
    assert client.resources("Patient").search(family="fhirpy", gender="other").count() == 1
