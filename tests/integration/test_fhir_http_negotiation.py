"""Formats, methods and conditional reads over real HTTP on loopback (http.html), per backend:
406 for a format not served, 405 for a method a path does not take, 304 for a current copy,
JSON Merge Patch by its media type, and compartment search / ``$everything`` / system history
by URL as ``fhir-kit-client`` sends them.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.conftest import BACKENDS, Server
from tests.integration._module_server import module_server

FHIR = "application/fhir+json"


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    yield from module_server(tmp_path_factory, str(request.param))


@pytest.fixture(scope="module")
def api(server: Server) -> Iterator[httpx.Client]:
    with server.client() as c:
        r = c.put("/Patient/neg-p", content=orjson.dumps(
            {"resourceType": "Patient", "id": "neg-p", "name": [{"family": "Osei"}]}
        ), headers={"Content-Type": FHIR})  # fmt: skip
        assert r.status_code in (200, 201), r.text
        r = c.put("/Observation/neg-o", content=orjson.dumps(
            {"resourceType": "Observation", "id": "neg-o", "status": "final",
             "code": {"text": "pulse"}, "subject": {"reference": "Patient/neg-p"}}
        ), headers={"Content-Type": FHIR})  # fmt: skip
        assert r.status_code in (200, 201), r.text
        yield c


def outcome(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["resourceType"] == "OperationOutcome"
    return str(body["issue"][0]["diagnostics"])


@pytest.mark.parametrize(
    ("params", "accept"),
    [
        ({"_format": "xml"}, FHIR),
        ({"_format": "application/fhir+xml"}, FHIR),
        ({}, "application/fhir+xml"),
        ({}, "application/xml, text/xml;q=0.9"),
        ({}, "text/turtle"),
    ],
)
def test_a_format_not_served_is_406(
    api: httpx.Client, server: Server, params: dict[str, str], accept: str
) -> None:
    for path in ("/Patient/neg-p", "/Patient", "/metadata"):
        r = api.get(path, params=params, headers={"Accept": accept})
        assert "JSON" in outcome(r, 406)


@pytest.mark.parametrize("accept", ["*/*", "application/json", "text/html, */*;q=0.8", ""])
def test_json_or_any_format_is_served(api: httpx.Client, accept: str) -> None:
    r = api.get("/Patient/neg-p", headers={"Accept": accept})
    assert r.status_code == 200, r.text
    assert api.get("/metadata", params={"_format": "json"}).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/metadata"),
        ("POST", "/metadata"),
        ("PUT", "/metadata"),
        ("DELETE", "/Patient/_history"),
        ("POST", "/Patient/neg-p"),
    ],
)
def test_a_method_a_path_does_not_take_is_405(api: httpx.Client, method: str, path: str) -> None:
    r = api.request(method, path, content=b"{}", headers={"Content-Type": FHIR})
    outcome(r, 405)


def test_conditional_read_is_304_without_a_body(api: httpx.Client) -> None:
    first = api.get("/Patient/neg-p")
    etag, modified = first.headers["etag"], first.headers["last-modified"]
    r = api.get("/Patient/neg-p", headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["etag"] == etag and r.headers["cache-control"] == "no-store"
    assert api.get("/Patient/neg-p", headers={"If-Modified-Since": modified}).status_code == 304
    stale = api.get("/Patient/neg-p", headers={"If-None-Match": 'W/"999"'})
    assert stale.status_code == 200 and stale.json()["id"] == "neg-p"


def test_merge_patch_by_its_media_type(api: httpx.Client) -> None:
    r = api.patch(
        "/Patient/neg-p",
        content=orjson.dumps({"gender": "unknown"}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["gender"] == "unknown" and r.json()["name"] == [{"family": "Osei"}]
    r = api.patch(  # a Parameters body is a FHIRPath Patch now; one with no operation is a 400
        "/Patient/neg-p",
        content=orjson.dumps({"resourceType": "Parameters", "parameter": []}),
        headers={"Content-Type": FHIR},
    )
    outcome(r, 400)


def test_compartment_search_everything_and_system_history_by_url(api: httpx.Client) -> None:
    r = api.get("/Patient/neg-p/Observation")
    assert r.status_code == 200, r.text
    assert [e["resource"]["id"] for e in r.json()["entry"]] == ["neg-o"]
    r = api.get("/Patient/neg-p/$everything", params={"_type": "Patient,Observation"})
    assert r.status_code == 200, r.text
    assert [e["resource"]["id"] for e in r.json()["entry"]] == ["neg-p", "neg-o"]
    r = api.get("/_history", params={"_count": "5"})
    assert r.status_code == 200, r.text
    assert r.json()["type"] == "history" and len(r.json()["entry"]) == 5


def test_lenient_handling_reports_what_it_ignored(api: httpx.Client) -> None:
    strict = api.get("/Patient", params={"_totalMethod": "count", "_count": "0"})
    assert "_totalMethod" in outcome(strict, 400)
    r = api.get(
        "/Patient",
        params={"_totalMethod": "count", "_count": "0"},
        headers={"Prefer": "handling=lenient"},
    )
    assert r.status_code == 200, r.text
    bundle = r.json()
    assert bundle["total"] >= 1
    (entry,) = bundle["entry"]
    assert entry["search"]["mode"] == "outcome"
    assert "_totalMethod" in entry["resource"]["issue"][0]["diagnostics"]


# --- hostile input on the new paths never reaches a 5xx --------------------------------------

ASYNC = {"Prefer": "respond-async"}
HOSTILE: list[tuple[str, str, dict[str, str], dict[str, str]]] = [
    ("GET", "/Patient/neg-p/$everything", {"_cursor": "eyJzIjoxLCJhIjpbOTk5LDFdLCJvIjowfQ"}, {}),
    ("GET", "/Patient/neg-p/$everything", {"_cursor": "eyJzIjoxLCJhIjpbMCwieCJdLCJvIjowfQ"}, {}),
    ("GET", "/Patient/neg-p/$everything", {"_count": "-1"}, {}),
    ("GET", "/Patient/neg-p/$everything", {"_type": "Nope,,"}, {}),
    ("GET", "/_history", {"_at": "99999-01-01"}, {}),
    ("GET", "/_history", {"_since": "9999-12-31T23:59:59.999+14:00"}, {}),
    ("GET", "/_history", {"_at": "0001"}, {}),
    ("GET", "/Observation", {"subject:Patient.": "x"}, {}),
    ("GET", "/Observation", {".": "x"}, {}),
    ("GET", "/Observation", {"subject:Patient.subject:Patient.name": "x"}, {}),
    ("GET", "/Observation", {"patient.organization:Organization.partof.name": "x"}, {}),
    ("GET", "/Patient", {"_has:": "x"}, {}),
    ("GET", "/Patient", {"_has:Observation:patient:_has:Observation:patient:code": "x"}, {}),
    ("GET", "/Patient", {"_has:Observation:patient:code:not": ""}, {}),
    ("GET", "/Observation", {"_include:iterate": "Nope:x"}, {}),
    ("GET", "/Observation", {"_include:iterate": "Patient:name"}, {}),
    ("GET", "/Patient/neg-p", {"_elements": ",,,.."}, {}),
    ("GET", "/Patient/neg-p", {}, {"If-None-Match": 'W/"1", "x", W/'}),
    ("GET", "/Patient/neg-p", {}, {"If-Modified-Since": "Mon, 99 Foo 20000 99:99:99 GMT"}),
    ("GET", "/Patient/neg-p/Nope", {}, {}),
    ("GET", "/Patient/../Observation", {}, {}),
    ("GET", "/$export-status/..%2F..%2Fkeys", {}, {}),
    ("GET", "/Patient", {"birthdate": "9999-12-31T23:59:59.999+14:00"}, {}),
    ("GET", "/$export-status/" + "0" * 32, {}, {}),
    ("GET", "/$export-file/" + "0" * 32 + "/..%2Fjob.json", {}, {}),
    ("GET", "/$export", {"_typeFilter": "Observation?subject:Patient.name=x,?"}, ASYNC),
    ("GET", "/Group/nope/$export", {}, ASYNC),
]  # fmt: skip


@pytest.mark.parametrize(("method", "path", "params", "headers"), HOSTILE)
def test_hostile_input_on_new_paths_is_answered_without_a_5xx(
    api: httpx.Client, method: str, path: str, params: dict[str, str], headers: dict[str, str]
) -> None:
    r = api.request(method, path, params=params, headers=headers)
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert r.json()["resourceType"] == "OperationOutcome", r.text


@pytest.mark.parametrize(
    "path",
    [
        "/Patient/_history?_count=%C2%B9",  # "¹": str.isdigit() says yes, int() says no
        "/Patient/neg-p/_history/%C2%B2",
        "/Patient/neg-p/$everything?_count=%C2%B3",
        "/AuditEvent?_count=%C2%B9",
    ],
)
def test_a_superscript_digit_is_a_plain_refusal_never_a_500(api: httpx.Client, path: str) -> None:
    r = api.get(path)
    assert r.status_code < 500, r.text
    if r.status_code >= 400:
        assert r.json()["resourceType"] == "OperationOutcome"
