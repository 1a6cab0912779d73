"""Request body limits (issue 13, finding 11) and the nesting limit on every JSON endpoint, over
real HTTP on loopback against a real `bedside serve`.

The server runs with small limits (``--max-body-fhir 1MiB --max-body-sync 2MiB
--max-body-other 16KiB``) so a body past them is quick to send; one test checks the defaults on
a server started without them. The limit lives in the web layer, not the store, so these run on
SQLite only. Bodies are sent three ways: with a ``Content-Length`` (refused before anything is
read), chunked from a generator (refused once the bytes pass the limit, and the server stops
reading: the generator is never drained), and over a plain socket that declares a huge length
and sends nothing.
"""

from __future__ import annotations

import base64
import json
import secrets
import select
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bedside.protocol.event import format_time, public_key_text
from bedside.settings import BodyLimits
from tests.integration._module_server import live_server
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_world import (
    api,
    enrol,
    new_id,
    new_ward,
    observation,
    push,
    results,
    sql,
)

MIB = 1024 * 1024
FHIR_LIMIT, SYNC_LIMIT, OTHER_LIMIT = MIB, 2 * MIB, 16 * 1024
LIMITS = ("--max-body-fhir", "1MiB", "--max-body-sync", "2MiB", "--max-body-other", "16KiB")
CANARY = "Zebedee-Quorn-7731"  # PHI stand-in: must never come back in an answer
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, "sqlite", *LIMITS) as s:
        yield s


def big_observation(patient: str, size: int) -> dict[str, Any]:
    """An Observation with a unique identifier whose note makes the body about ``size`` bytes."""
    return {
        "resourceType": "Observation",
        "id": new_id(),
        "status": "final",
        "identifier": [{"system": "urn:test:limits", "value": secrets.token_hex(8)}],
        "code": {"text": "Body limit"},
        "subject": {"reference": f"Patient/{patient}"},
        "note": [{"text": CANARY + "x" * size}],
    }


def stored(smart: Smart, identifier: str) -> int:
    with smart.fhir_client(smart.operator_token) as c:
        r = c.get("/Observation", params={"identifier": f"urn:test:limits|{identifier}"})
    assert r.status_code == 200, r.text
    return len(r.json().get("entry", []))


def too_long(resp: httpx.Response) -> str:
    """The diagnostics of a 413 OperationOutcome (asserting its shape)."""
    assert resp.status_code == 413, resp.text
    assert resp.headers["content-type"].startswith("application/fhir+json")
    assert resp.headers["connection"] == "close"
    assert resp.headers["cache-control"] == "no-store"
    body = resp.json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["code"] == "too-long"
    assert CANARY not in resp.text
    return str(body["issue"][0]["diagnostics"])


class Chunks:
    """A request body streamed in 64 KiB chunks (no Content-Length); counts what was taken."""

    def __init__(self, total: int, prefix: bytes = b"") -> None:
        self.total, self.prefix, self.taken = total, prefix, 0

    def __iter__(self) -> Iterator[bytes]:
        yield self.prefix
        self.taken = len(self.prefix)
        while self.taken < self.total:
            self.taken += 65536
            yield b"x" * 65536


def deep(levels: int) -> Any:
    value: Any = "leaf"
    for _ in range(levels):
        value = {"a": [value]}
    return value


def deep_extension(levels: int) -> dict[str, Any]:
    """A valid FHIR extension nested ``2 * levels`` deep, as in test_sync_push.py."""
    nested: dict[str, Any] = {"url": "http://example.org/x", "valueString": "x"}
    for _ in range(levels):
        nested = {"url": "http://example.org/x", "extension": [nested]}
    return nested


def deep_json(levels: int) -> bytes:
    """``levels`` nested arrays: orjson parses up to 1,024 and serialises at most 254."""
    return b"[" * levels + b"1" + b"]" * levels


# --- the FHIR API --------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_with_an_outcome_and_nothing_is_stored(smart: Smart) -> None:
    patient = smart.create_patient("Limits")
    resource = big_observation(patient, FHIR_LIMIT + 1000)
    with smart.fhir_client(smart.operator_token) as c:
        r = c.post("/Observation", json=resource, headers=FHIR_JSON)
    assert f"({FHIR_LIMIT} bytes)" in too_long(r)
    assert stored(smart, resource["identifier"][0]["value"]) == 0


def test_a_body_just_under_the_limit_is_stored_attachments_included(smart: Smart) -> None:
    patient = smart.create_patient("Limits")
    photo = base64.b64encode(secrets.token_bytes(FHIR_LIMIT * 7 // 10)).decode()
    binary = {"resourceType": "Binary", "contentType": "image/jpeg", "data": photo}
    document = {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": f"Patient/{patient}"},
        "content": [{"attachment": {"contentType": "image/jpeg", "data": photo}}],
    }
    with smart.fhir_client(smart.operator_token) as c:
        for resource in (binary, document):
            r = c.post(f"/{resource['resourceType']}", json=resource, headers=FHIR_JSON)
            assert r.status_code == 201, r.text[:300]


def test_a_chunked_body_over_the_limit_is_413_and_the_server_stops_reading(smart: Smart) -> None:
    patient = smart.create_patient("Limits")
    resource = big_observation(patient, 0)
    opening = json.dumps(resource).encode()[:-3] + b', "x": "'  # a string never closed
    body = Chunks(64 * MIB, opening)
    with smart.fhir_client(smart.operator_token) as c:
        r = c.post("/Observation", content=body, headers=FHIR_JSON)
    assert r.request.headers["transfer-encoding"] == "chunked"  # no length declared
    too_long(r)
    # The client stops when the server closes; what it sent is the limit plus what the
    # loopback socket buffers took, far from the 64 MiB it had to send.
    assert body.taken < 24 * MIB, body.taken
    assert stored(smart, resource["identifier"][0]["value"]) == 0


def raw_exchange(smart: Smart, head: str, chunks: Iterator[bytes] = iter(())) -> tuple[bytes, int]:
    """Send ``head`` then ``chunks`` over a plain socket until the server answers; (the answer
    as far as it could be read, body bytes sent)."""
    url = urlsplit(smart.root)
    sent = 0
    with socket.create_connection((url.hostname, url.port), timeout=30) as sock:
        sock.sendall(head.encode())
        for chunk in chunks:
            if select.select([sock], [], [], 0)[0]:
                break  # the server has answered
            try:
                sock.sendall(chunk)
            except OSError:  # it closed the connection: stop
                break
            sent += len(chunk)
        answer = b""
        try:
            while data := sock.recv(65536):
                answer += data
        except OSError:  # reset after the answer, because the rest of the body went unread
            pass
    return answer, sent


def test_a_content_length_over_the_limit_is_refused_before_any_byte_is_sent(smart: Smart) -> None:
    head = (
        "POST /fhir/Observation HTTP/1.1\r\nHost: bedside\r\n"
        f"Authorization: Bearer {smart.operator_token}\r\n"
        "Content-Type: application/fhir+json\r\nExpect: 100-continue\r\n"
        "Content-Length: 50000000000\r\n\r\n"
    )
    answer, _ = raw_exchange(smart, head)  # no body at all: the answer cannot wait for it
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]  # and no "100 Continue" first
    assert b"too-long" in answer


def test_a_chunked_body_over_a_socket_is_cut_off_soon_after_the_limit(smart: Smart) -> None:
    head = (
        "POST /fhir/Observation HTTP/1.1\r\nHost: bedside\r\n"
        f"Authorization: Bearer {smart.operator_token}\r\n"
        "Content-Type: application/fhir+json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    frame = b"10000\r\n" + b"x" * 0x10000 + b"\r\n"
    answer, sent = raw_exchange(smart, head, iter([frame] * 4096))  # 256 MiB to send
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert sent < 24 * MIB, sent


# --- OAuth, the sign-in pages, and the other APIs ----------------------------------------------


@pytest.mark.parametrize("path", ["/auth/token", "/auth/introspect", "/auth/revoke"])
@pytest.mark.parametrize("chunked", [False, True])
def test_an_oversized_oauth_form_is_413_with_an_oauth_error(
    smart: Smart, path: str, chunked: bool
) -> None:
    form = f"grant_type=password&username={CANARY}&password=" + "p" * (OTHER_LIMIT + 1)
    content: Any = Chunks(OTHER_LIMIT * 4, form.encode()) if chunked else form.encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    r = httpx.post(f"{smart.root}{path}", content=content, headers=headers, timeout=30)
    assert r.status_code == 413, r.text
    assert r.headers["content-type"] == "application/json"
    assert r.headers["cache-control"] == "no-store"
    assert r.json() == {
        "error": "invalid_request",
        "error_description": f"The request body is larger than this server accepts here"
        f" ({OTHER_LIMIT} bytes).",
    }
    assert CANARY not in r.text


def test_an_oversized_sign_in_form_is_413_on_the_error_page(smart: Smart) -> None:
    form = {"request": "x", "username": CANARY, "password": "p" * (OTHER_LIMIT + 1)}
    r = httpx.post(f"{smart.root}/auth/signin", data=form, timeout=30)
    assert r.status_code == 413
    assert r.headers["content-type"].startswith("text/html")
    assert "larger than this server accepts" in r.text and CANARY not in r.text


def test_an_oversized_sync_push_is_413_with_an_outcome(smart: Smart) -> None:
    ward, users = new_ward(smart, "nurse")
    device = enrol(smart, users[0])
    events = [  # each well under the FHIR limit, together past the push limit
        device.event(
            "create", big_observation(ward.patient, 200 * 1024), patient=ward.patient, seq=s
        )
        for s in range(1000, 1012)
    ]
    assert f"({SYNC_LIMIT} bytes)" in too_long(push(smart, device, events))
    small = device.event("create", observation(ward.patient), patient=ward.patient)
    assert results(push(smart, device, [small]))[0]["state"] == "confirmed"


def test_an_oversized_device_registration_is_413_with_an_outcome(smart: Smart) -> None:
    _, users = new_ward(smart, "nurse")
    signed = smart.login("bedside-device", users[0][0], "openid fhirUser offline_access user/*.rs")
    body = {"device_id": "dev-big", "app_version": CANARY + "v" * (OTHER_LIMIT + 1)}
    with api(smart, signed["access_token"]) as c:
        assert f"({OTHER_LIMIT} bytes)" in too_long(c.post("/device/register", json=body))


def test_the_default_limits_apply_when_none_is_given(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    defaults = BodyLimits()
    assert (defaults.fhir, defaults.sync, defaults.other) == (16 * MIB, 32 * MIB, 64 * 1024)
    with live_server(tmp_path_factory, "sqlite") as (srv, _):
        token = srv.token()
        root = srv.base.removesuffix("/fhir")
        for path, limit in (("/fhir/Patient", defaults.fhir), ("/auth/token", defaults.other)):
            over = httpx.post(
                f"{root}{path}",
                content=b"{" + b" " * limit + b"}",
                headers={**FHIR_JSON, "Authorization": f"Bearer {token}"},
                timeout=60,
            )
            assert over.status_code == 413, path
        photo = base64.b64encode(secrets.token_bytes(12_000_000)).decode()  # 16.0 MB inline
        under = httpx.post(
            f"{root}/fhir/Binary",
            json={"resourceType": "Binary", "contentType": "image/jpeg", "data": photo},
            headers={**FHIR_JSON, "Authorization": f"Bearer {token}"},
            timeout=60,
        )
        assert under.status_code == 201, under.text[:300]


# --- nesting on every JSON endpoint: 400 in the endpoint's shape, never 500 ---------------------


def test_deep_json_to_the_launch_api_is_400_not_500(smart: Smart) -> None:
    patient = smart.create_patient("Deep")
    body = {"patient": patient, "fhirContext": [deep(150)]}  # 301 levels: orjson cannot store it
    with api(smart, smart.operator_token) as c:
        r = c.post("/auth/launch", json=body)
    assert r.status_code == 400, r.text
    assert "deeper than 100 levels" in r.json()["issue"][0]["diagnostics"]


def test_deep_json_to_device_registration_is_400_and_nothing_is_registered(
    smart: Smart,
) -> None:
    # A registration that is complete but carries a field nested 300 levels deep: it used to
    # be accepted (the field ignored); every JSON body now has the same nesting limit.
    _, users = new_ward(smart, "nurse")
    signed = smart.login("bedside-device", users[0][0], "openid fhirUser offline_access user/*.rs")
    device_id = f"dev-{secrets.token_hex(6)}"
    registration = {
        "device_id": device_id,
        "public_key": public_key_text(Ed25519PrivateKey.generate().public_key()),
        "app_version": "1.0.0",
        "posture": {"os": "TestOS 1", "disk_encryption": True, "screen_lock": True},
        "escrow_key": base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode(),
        "extra": deep(150),
    }
    for raw in (json.dumps(registration).encode(), deep_json(2000)):
        with api(smart, signed["access_token"]) as c:
            r = c.post(
                "/device/register", content=raw, headers={"Content-Type": "application/json"}
            )
        assert r.status_code == 400, r.text
        assert r.json()["resourceType"] == "OperationOutcome"
    assert sql(smart, "SELECT COUNT(*) FROM devices WHERE device_id = ?", device_id) == [(0,)]


def test_deep_json_to_the_break_glass_review_is_400_not_500(smart: Smart) -> None:
    from bedside.auth import tokens
    from bedside.auth.keys import load_or_create

    token = tokens.issue(
        load_or_create(smart.server.data_dir),
        subject="u-admin",
        audience=smart.fhir,
        scope="user/AuditEvent.rs",
        ttl=600,
        extra={"role": "admin", "fhirUser": "Practitioner/3"},
    )
    with api(smart, token) as c:
        for raw in (json.dumps({"outcome": "justified", "note": deep(150)}), deep_json(2000)):
            r = c.post("/governance/break-glass/bg-none/close", content=raw)
            assert r.status_code == 400, r.text
            assert r.json()["resourceType"] == "OperationOutcome"


def test_deep_json_in_a_review_resolution_is_400_not_500(smart: Smart) -> None:
    ward, users = new_ward(smart, "doctor", "doctor")
    a, b = enrol(smart, users[0]), enrol(smart, users[1])
    with smart.fhir_client(smart.operator_token) as c:
        seen = {k: v for k, v in c.get(f"/Patient/{ward.patient}").json().items() if k != "meta"}
    theirs, mine = [{"system": "phone", "value": "0199"}], [{"system": "phone", "value": "0100"}]
    results(push(smart, a, [a.event("update", {**seen, "telecom": theirs}, base="1")]))
    (item,) = results(push(smart, b, [b.event("update", {**seen, "telecom": mine}, base="1")]))
    assert item["state"] == "needs-review"
    merged = {**seen, "telecom": mine, "extension": [deep_extension(150)]}
    with api(smart, b.access) as c:
        r = c.post(f"/review/{item['review']}/resolve", json={"keep": "merged", "resource": merged})
        assert r.status_code == 400, r.text
        assert "deeper than 100 levels" in r.json()["issue"][0]["diagnostics"]
        still = c.get(f"/review/{item['review']}").json()
    assert still["state"] == "open"


def test_a_sync_push_nested_past_what_json_allows_is_400_not_500(smart: Smart) -> None:
    _, users = new_ward(smart, "nurse")
    device = enrol(smart, users[0])
    body = b'{"protocol": 1, "device_time": "' + format_time(0).encode() + b'", "events": '
    body += deep_json(2000) + b"}"
    with api(smart, device.access) as c:
        r = c.post("/sync/push", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["resourceType"] == "OperationOutcome"  # (it was already; kept so)
