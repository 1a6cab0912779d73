"""FHIR Subscriptions (R4 Backport IG) over real HTTP, on each backend: a rest-hook receiver
and a websocket client on loopback get the handshake, event notifications and heartbeats;
a client that disconnected gets the events it missed back with ``$events``; a subscriber who
loses access to a patient stops getting that patient's events (not even an id); a
Subscription is its owner's alone; endpoints off the allow-list are refused.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import httpx
import orjson
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bedside.auth import tokens
from bedside.auth.keys import load_or_create
from tests.conftest import BACKENDS, Server, fresh_pg_schema, start_server, stop_server
from tests.integration._hook_receiver import Receiver, receiver

FHIR = "application/fhir+json"
BACKPORT = "http://hl7.org/fhir/uv/subscriptions-backport/StructureDefinition"
TOPIC = "urn:bedside:subscription-topic:Observation"


@pytest.fixture(scope="module")
def hooks() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, hooks: Receiver
) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp(f"subs-{request.param}")
    data = tmp / "data"
    data.mkdir(mode=0o700)
    (data / "subscriptions.toml").write_text(
        f'rest_hook_endpoints = ["{hooks.url}/hook/"]\npoll_seconds = 0.2\n'
    )
    with ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{tmp / 'bedside.db'}"
        else:
            url = stack.enter_context(fresh_pg_schema()).url
        srv = start_server(data, url)
        try:
            yield srv
        finally:
            stop_server(srv)


def client(
    server: Server, subject: str, scope: str = "system/*.cruds", **claims: str
) -> httpx.Client:
    token = tokens.issue(
        load_or_create(server.data_dir),
        subject=subject,
        audience=server.base,
        scope=scope,
        ttl=600,
        extra={"client_id": claims.pop("client_id", subject), **claims},
    )
    headers = {"Authorization": f"Bearer {token}", "Accept": FHIR, "Content-Type": FHIR}
    return httpx.Client(base_url=server.base, headers=headers, timeout=30.0)


def put(c: httpx.Client, resource: dict[str, Any]) -> None:
    r = c.put(f"/{resource['resourceType']}/{resource['id']}", content=orjson.dumps(resource))
    assert r.status_code in (200, 201), r.text


def obs(oid: str, patient: str, value: float = 1.0) -> dict[str, Any]:
    code = {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]}
    return {"resourceType": "Observation", "id": oid, "status": "final", "code": code,
            "valueQuantity": {"value": value},
            "subject": {"reference": f"Patient/{patient}"}}  # fmt: skip


def subscription(
    channel: str,
    content: str,
    *,
    patient: str | None = None,
    endpoint: str | None = None,
    heartbeat: int = 0,
    headers: tuple[str, ...] = (),
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Subscription",
        "status": "requested",
        "reason": "integration test",
        "criteria": TOPIC,
        "channel": {
            "type": channel,
            "payload": FHIR,
            "_payload": {
                "extension": [{"url": f"{BACKPORT}/backport-payload-content", "valueCode": content}]
            },
            "header": list(headers),
        },
    }
    if endpoint:
        body["channel"]["endpoint"] = endpoint
    if heartbeat:
        body["channel"]["extension"] = [
            {"url": f"{BACKPORT}/backport-heartbeat-period", "valueUnsignedInt": heartbeat}
        ]
    if patient:
        criteria = f"Observation?patient=Patient/{patient}"
        ext = {"url": f"{BACKPORT}/backport-filter-criteria", "valueString": criteria}
        body["_criteria"] = {"extension": [ext]}
    return body


def create(c: httpx.Client, body: dict[str, Any]) -> str:
    r = c.post("/Subscription", content=orjson.dumps(body))
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def status_of(bundle: dict[str, Any]) -> dict[str, Any]:
    params = bundle["entry"][0]["resource"]["parameter"]
    out: dict[str, Any] = {"events": []}
    for p in params:
        if p["name"] == "notification-event":
            parts = {q["name"]: q for q in p["part"]}
            focus = parts.get("focus", {}).get("valueReference", {}).get("reference")
            out["events"].append((int(parts["event-number"]["valueString"]), focus))
        else:
            out[p["name"]] = next(v for k, v in p.items() if k.startswith("value"))
    return out


def current(c: httpx.Client, sid: str) -> dict[str, Any]:
    r = c.get(f"/Subscription/{sid}/$status")
    assert r.status_code == 200, r.text
    return status_of({"entry": [r.json()["entry"][0]]})


def wait_events(c: httpx.Client, sid: str, count: int) -> None:
    deadline = time.monotonic() + 20
    while current(c, sid)["events-since-subscription-start"] != str(count):
        assert time.monotonic() < deadline, current(c, sid)
        time.sleep(0.1)


def test_rest_hook_gets_handshake_events_heartbeats_and_replays(
    server: Server, hooks: Receiver
) -> None:
    path = f"/hook/{server.base.rsplit(':', 1)[1].split('/')[0]}-a"
    with client(server, "integrator-a") as c:
        put(c, {"resourceType": "Patient", "id": "sub-p1", "active": True})
        put(c, {"resourceType": "Patient", "id": "sub-p2", "active": True})
        body = subscription("rest-hook", "full-resource", patient="sub-p1",
                            endpoint=hooks.url + path, heartbeat=1,
                            headers=("Authorization: Bearer hook-secret",))  # fmt: skip
        sid = create(c, body)
        assert c.get(f"/Subscription/{sid}").json()["status"] in ("requested", "active")
        hooks.wait(lambda _: bool(hooks.of(path, "handshake")))
        handshake = hooks.of(path, "handshake")[0]
        assert handshake.headers["Authorization"] == "Bearer hook-secret"
        assert handshake.body["type"] == "history"
        assert status_of(handshake.body)["status"] == "active"
        put(c, obs("sub-o1", "sub-p1", 1.0))
        put(c, obs("sub-o2", "sub-p2"))  # another patient: filtered out
        put(c, obs("sub-o1", "sub-p1", 2.0))
        assert c.delete("/Observation/sub-o1").status_code == 200
        hooks.wait(lambda _: sum(len(status_of(r.body)["events"])
                                 for r in hooks.of(path, "event-notification")) >= 3)  # fmt: skip
        sent = hooks.of(path, "event-notification")
        events = [e for r in sent for e in status_of(r.body)["events"]]
        focus = f"{server.base}/Observation/sub-o1"
        assert events == [(1, focus), (2, focus), (3, focus)]
        entries = [e for r in sent for e in r.body["entry"][1:]]
        assert [e["request"]["method"] for e in entries] == ["POST", "PUT", "DELETE"]
        assert entries[1]["resource"]["valueQuantity"]["value"] == 2.0
        assert "resource" not in entries[2]
        hooks.wait(lambda _: bool(hooks.of(path, "heartbeat")), timeout=10)
        assert c.get(f"/Subscription/{sid}").json()["status"] == "active"
        st = current(c, sid)
        assert st["events-since-subscription-start"] == "3" and st["type"] == "query-status"
        r = c.get(f"/Subscription/{sid}/$events",
                  params={"eventsSinceNumber": "2", "eventsUntilNumber": "3"})  # fmt: skip
        assert r.status_code == 200, r.text
        assert [n for n, _ in status_of(r.json())["events"]] == [2, 3]
        assert status_of(r.json())["type"] == "query-event"
        bad = c.get(f"/Subscription/{sid}/$events", params={"eventsSinceNumber": "x"})
        assert bad.status_code == 400 and bad.json()["resourceType"] == "OperationOutcome"
    with client(server, "integrator-b") as other:  # someone else's Subscription: not known
        assert other.get(f"/Subscription/{sid}").status_code == 404
        assert other.get(f"/Subscription/{sid}/$events").status_code == 404
        assert other.delete(f"/Subscription/{sid}").status_code == 404
        assert other.get("/Subscription").json()["total"] == 0
        off_list = subscription("rest-hook", "id-only", endpoint="http://127.0.0.1:9/elsewhere")
        r = other.post("/Subscription", content=orjson.dumps(off_list))
        assert r.status_code == 400 and "endpoint" in r.text
        ftp = subscription("rest-hook", "id-only", endpoint="ftp://127.0.0.1/x")
        assert other.post("/Subscription", content=orjson.dumps(ftp)).status_code == 400
    with client(server, "integrator-a") as c:
        assert c.delete(f"/Subscription/{sid}").status_code == 200
        assert c.get(f"/Subscription/{sid}").status_code == 404


def _token(c: httpx.Client, sid: str) -> tuple[str, str]:
    empty = orjson.dumps({"resourceType": "Parameters"})
    r = c.post(f"/Subscription/{sid}/$get-ws-binding-token", content=empty)
    assert r.status_code == 200, r.text
    params = {p["name"]: p for p in r.json()["parameter"]}
    return params["token"]["valueString"], params["websocket-url"]["valueUrl"]


def _bind(ws: ClientConnection, token: str) -> None:
    ws.send(f"bind-with-token {token}")
    assert status_of(orjson.loads(ws.recv(timeout=10)))["type"] == "handshake"


def _next_events(ws: ClientConnection) -> list[tuple[int, str | None]]:
    while True:
        got = status_of(orjson.loads(ws.recv(timeout=20)))
        if got["type"] == "event-notification":
            return list(got["events"])


def test_websocket_disconnect_and_replay_missed_events(server: Server) -> None:
    with client(server, "integrator-ws") as c:
        put(c, {"resourceType": "Patient", "id": "ws-p1", "active": True})
        sid = create(c, subscription("websocket", "id-only", patient="ws-p1"))
        token, url = _token(c, sid)
        with connect(url, open_timeout=10) as ws:
            _bind(ws, token)
            put(c, obs("ws-o1", "ws-p1"))
            assert _next_events(ws) == [(1, f"{server.base}/Observation/ws-o1")]
        put(c, obs("ws-o2", "ws-p1"))  # missed while disconnected
        put(c, obs("ws-o3", "ws-p1"))
        wait_events(c, sid, 3)
        with connect(url, open_timeout=10) as ws:
            _bind(ws, _token(c, sid)[0])
            r = c.get(f"/Subscription/{sid}/$events", params={"eventsSinceNumber": "2"})
            replay = r.json()
            assert [n for n, _ in status_of(replay)["events"]] == [2, 3]
            assert [e["fullUrl"] for e in replay["entry"][1:]] == [
                f"{server.base}/Observation/ws-o2", f"{server.base}/Observation/ws-o3"]  # fmt: skip
            assert all("resource" not in e for e in replay["entry"][1:])  # id-only
            put(c, obs("ws-o4", "ws-p1"))
            assert _next_events(ws) == [(4, f"{server.base}/Observation/ws-o4")]
        with connect(url, open_timeout=10) as reused:  # a binding token is good once
            reused.send(f"bind-with-token {token}")
            with pytest.raises(ConnectionClosed):
                reused.recv(timeout=10)


def test_websocket_heartbeats_and_a_bad_bind_is_closed(server: Server) -> None:
    with client(server, "integrator-hb") as c:
        sid = create(c, subscription("websocket", "empty", heartbeat=1))
        token, url = _token(c, sid)
        with connect(url, open_timeout=10) as ws:
            _bind(ws, token)
            beat = status_of(orjson.loads(ws.recv(timeout=10)))
            assert beat["type"] == "heartbeat" and beat["events"] == []
        with connect(url, open_timeout=10) as bad:
            bad.send("hello")
            with pytest.raises(ConnectionClosed):
                bad.recv(timeout=10)
        own = subscription("rest-hook", "id-only", endpoint=f"{server.base}/x")
        r = c.post("/Subscription", content=orjson.dumps(own))  # not on the allow-list
        assert r.status_code == 400, r.text


def test_a_subscriber_who_loses_access_stops_getting_that_patients_events(
    server: Server, hooks: Receiver
) -> None:
    path = f"/hook/{server.base.rsplit(':', 1)[1].split('/')[0]}-doc"
    team = {"resourceType": "CareTeam", "id": "sub-team", "status": "active",
            "subject": {"reference": "Patient/sub-p3"},
            "participant": [{"member": {"reference": "Practitioner/sub-doc"}}]}  # fmt: skip
    with client(server, "operator") as op:
        put(op, {"resourceType": "Practitioner", "id": "sub-doc", "active": True})
        put(op, {"resourceType": "Patient", "id": "sub-p3", "active": True})
        put(op, {"resourceType": "Patient", "id": "sub-p4", "active": True})
        put(op, team)
        with client(server, "u-doc", "user/*.cruds", client_id="ward-app", role="doctor",
                    fhirUser="Practitioner/sub-doc") as doc:  # fmt: skip
            sid = create(doc, subscription("rest-hook", "full-resource", endpoint=hooks.url + path))
            hooks.wait(lambda _: bool(hooks.of(path, "handshake")))
            put(op, obs("sub-o4", "sub-p4"))  # not the doctor's patient: never numbered
            put(op, obs("sub-o3", "sub-p3"))
            hooks.wait(lambda _: bool(hooks.of(path, "event-notification")))
            time.sleep(1.0)
            sent = hooks.of(path, "event-notification")
            assert [e for r in sent for e in status_of(r.body)["events"]] == [
                (1, f"{server.base}/Observation/sub-o3")]  # fmt: skip
            put(op, {**team, "status": "inactive"})  # the care relationship ends
            put(op, obs("sub-o3b", "sub-p3"))
            put(op, {"resourceType": "Patient", "id": "sub-p3", "active": False})
            time.sleep(2.0)  # several dispatcher rounds
            assert len(hooks.of(path, "event-notification")) == 1
            assert current(doc, sid)["events-since-subscription-start"] == "1"
            replay = doc.get(f"/Subscription/{sid}/$events", params={"eventsSinceNumber": "1"})
            assert replay.status_code == 200, replay.text
            assert status_of(replay.json())["events"] == []  # not even its id
            assert len(replay.json()["entry"]) == 1
            assert b"sub-o3" not in replay.content


def test_every_send_is_audited_as_the_subscriber(server: Server) -> None:
    """The access-loss test's notification to the doctor is in the audit trail, about p3."""
    with client(server, "u-aud", "user/AuditEvent.rs", role="auditor") as aud:
        r = aud.get("/AuditEvent", params={"patient": "sub-p3", "subtype": "operation"})
        assert r.status_code == 200, r.text
        assert b"subscription event-notification sent over rest-hook" in r.content
        assert b"u-doc" in r.content  # the subscriber is the agent
        r = aud.get("/AuditEvent", params={"subtype": "operation", "_count": "200"})
        assert b"subscription handshake sent over websocket" in r.content


def test_capability_statement_lists_the_operations_and_topics(server: Server) -> None:
    meta = httpx.get(f"{server.base}/metadata", headers={"Accept": FHIR}).json()
    (sub,) = [r for r in meta["rest"][0]["resource"] if r["type"] == "Subscription"]
    ops = {o["name"]: o["definition"] for o in sub["operation"]}
    assert set(ops) == {"status", "events", "get-ws-binding-token"}
    assert ops["events"].endswith("/OperationDefinition/backport-subscription-events")
    topics = {e["valueCanonical"] for e in sub["extension"]}
    assert TOPIC in topics and "urn:bedside:subscription-topic:Patient" in topics


def test_bad_subscriptions_get_a_plain_400(server: Server) -> None:
    with client(server, "integrator-c") as c:
        for body in (
            {"resourceType": "Patient"},
            {**subscription("websocket", "id-only"), "criteria": "Observation?code=1"},
            {**subscription("websocket", "everything")},
            {**subscription("carrier-pigeon", "id-only")},
            {
                **subscription("websocket", "id-only"),
                "_criteria": {
                    "extension": [
                        {
                            "url": f"{BACKPORT}/backport-filter-criteria",
                            "valueString": "Observation?code=8867-4",
                        }
                    ]
                },
            },
            [],
        ):
            r = c.post("/Subscription", content=orjson.dumps(body))
            assert r.status_code == 400, (body, r.text)
            assert r.json()["resourceType"] == "OperationOutcome"
        r = c.put("/Subscription/x", content=orjson.dumps(subscription("websocket", "id-only")))
        assert r.status_code in (404, 405)
    with client(server, "reader", "system/Observation.rs") as ro:  # may not create one
        r = ro.post("/Subscription", content=orjson.dumps(subscription("websocket", "id-only")))
        assert r.status_code == 403


def test_the_server_log_names_no_patient_resource_or_hook_secret(server: Server) -> None:
    """After every test above on this server: its log holds none of what they sent."""
    port = server.base.rsplit(":", 1)[1].split("/")[0]
    log = (server.data_dir.parent / f"server-{port}.log").read_text(errors="replace")
    for canary in (
        "sub-p1",
        "sub-p3",
        "sub-o1",
        "sub-o3",
        "ws-p1",
        "ws-o2",
        "hook-secret",
        "/hook/",
    ):
        assert canary not in log, canary


@pytest.mark.parametrize("backend", BACKENDS)
def test_with_two_workers_each_event_is_sent_once(
    backend: str, tmp_path: Any, hooks: Receiver
) -> None:
    """``--workers 2``: both processes run a dispatcher; the lease makes one the sender."""
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    (data / "subscriptions.toml").write_text(
        f'rest_hook_endpoints = ["{hooks.url}/hook/"]\npoll_seconds = 0.1\n'
    )
    path = f"/hook/workers-{backend}"
    with ExitStack() as stack:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path / 'bedside.db'}"
        else:
            url = stack.enter_context(fresh_pg_schema()).url
        srv = start_server(data, url, "--workers", "2")
        stack.callback(stop_server, srv)
        with client(srv, "integrator-w") as c:
            put(c, {"resourceType": "Patient", "id": "w-p", "active": True})
            create(c, subscription("rest-hook", "id-only", endpoint=hooks.url + path))
            for i in range(6):
                put(c, obs(f"w-o{i}", "w-p"))

            def numbers() -> list[int]:
                sent = hooks.of(path, "event-notification")
                return [n for r in sent for n, _ in status_of(r.body)["events"]]

            hooks.wait(lambda _: len(numbers()) >= 6)
            time.sleep(1.0)  # several more rounds of both dispatchers
            assert numbers() == [1, 2, 3, 4, 5, 6]
            assert len(hooks.of(path, "handshake")) == 1
