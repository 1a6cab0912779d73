"""FHIRPath Patch over HTTP (PATCH with a Parameters body as application/fhir+json), on both
stores: applied, validated like an update, all or nothing (docs/api.md)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from tests.conftest import Server

FHIR = "application/fhir+json"


def operation(kind: str, path: str, *parts: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "operation",
        "part": [
            {"name": "type", "valueCode": kind},
            {"name": "path", "valueString": path},
            *parts,
        ],
    }


def send(c: httpx.Client, *ops: dict[str, Any], **headers: str) -> httpx.Response:
    body = {"resourceType": "Parameters", "parameter": list(ops)}
    return c.patch(
        "/Patient/fp", content=orjson.dumps(body), headers={"Content-Type": FHIR, **headers}
    )


def test_fhirpath_patch_applies_validates_and_is_all_or_nothing(server: Server) -> None:
    with server.client() as c:
        patient = {"resourceType": "Patient", "id": "fp", "active": True,
                   "name": [{"family": "Berg", "given": ["Ada"]}]}  # fmt: skip
        r = c.put("/Patient/fp", content=orjson.dumps(patient), headers={"Content-Type": FHIR})
        assert r.status_code == 201, r.text
        r = send(
            c,
            operation("replace", "Patient.active", {"name": "value", "valueBoolean": False}),
            operation("add", "Patient.name[0]", {"name": "name", "valueString": "given"},
                      {"name": "value", "valueString": "Eva"}),
            operation("add", "Patient", {"name": "name", "valueString": "birthDate"},
                      {"name": "value", "valueDate": "1970-01-02"}),
            **{"If-Match": 'W/"1"'},
        )  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.headers["cache-control"] == "no-store"
        stored = c.get("/Patient/fp").json()
        assert stored["active"] is False
        assert stored["name"] == [{"family": "Berg", "given": ["Ada", "Eva"]}]
        assert stored["birthDate"] == "1970-01-02"
        assert stored["meta"]["versionId"] == "2"

        # the second operation cannot apply: the first is not kept either
        r = send(
            c,
            operation("delete", "Patient.active"),
            operation("replace", "Patient.name.given", {"name": "value", "valueString": "x"}),
        )
        assert r.status_code == 422, r.text
        assert r.json()["resourceType"] == "OperationOutcome"
        # a result that is not a valid Patient is refused like an update
        r = send(
            c, operation("replace", "Patient.birthDate", {"name": "value", "valueString": "soon"})
        )
        assert r.status_code in (400, 422), r.text
        # nor may a patch change the id
        r = send(c, operation("replace", "Patient.id", {"name": "value", "valueString": "other"}))
        assert r.status_code == 422, r.text
        # FHIRPath the server does not evaluate is a 400 naming it, never a guess
        r = send(c, operation("delete", "Patient.name.where(family='Berg')"))
        assert r.status_code == 400 and "where()" in r.text
        assert "Berg" not in r.text  # the path's literals are not echoed
        after = c.get("/Patient/fp").json()
        assert after["meta"]["versionId"] == "2" and after["active"] is False
        cap = c.get("/metadata").json()
        assert "application/fhir+json" in cap["patchFormat"]
