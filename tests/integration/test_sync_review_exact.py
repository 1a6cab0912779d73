"""Review resolution is exact, and the review listing pages (issue 14, finding 3), over real
HTTP on loopback against a real `bedside serve` on SQLite and PostgreSQL.

Doctors A and B edit a Flag offline: A is confirmed as v2, B goes to review (the item made at
v2), then someone sets the Flag to v3. "Keep server" writes nothing, ever: the Flag stays at v3
with v3's content, the item records v3 as kept, and B's next pull carries the outcome with the
Flag as the server holds it (a real device home ends up with v3). "Keep device" and a merge
stated on a version the server has moved past are 409 and write nothing; stated on the version
the reviewer saw, they write exactly what was kept. The listing pages oldest first through an
opaque cursor, so more than 200 items can all be listed, by HTTP and by the CLI; a forged
cursor is 400.
"""

from __future__ import annotations

import base64
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from bedside.device.remote import Remote
from bedside.device.secret import ENV_KEYSTORE
from bedside.device.sync import sync
from bedside.sync.review import KEPT_SERVER
from tests.conftest import BACKENDS
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_world import (
    SyncDevice,
    api,
    enrol,
    new_id,
    new_ward,
    push,
    read,
    results,
    review_cli,
    sql,
    sql_write,
)
from tests.integration.test_sync_pull_reviews import device_home


@pytest.fixture(scope="module", params=BACKENDS)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, str(request.param)) as s:
        yield s


@pytest.fixture(autouse=True)
def _file_keystore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_KEYSTORE, "file")  # no OS key store in CI


# --- helpers ----------------------------------------------------------------------------------


def flag(patient: str, text: str) -> dict[str, Any]:
    return {
        "resourceType": "Flag",
        "id": new_id(),
        "status": "active",
        "code": {"text": text},
        "subject": {"reference": f"Patient/{patient}"},
    }


def clean(resource: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in resource.items() if k != "meta"}


def put(smart: Smart, resource: dict[str, Any]) -> dict[str, Any]:
    """Someone else changes the record on the server (the operator, through the API)."""
    with smart.fhir_client(smart.operator_token) as c:
        r = c.put(
            f"/{resource['resourceType']}/{resource['id']}",
            json=resource,
            headers={"Content-Type": "application/fhir+json", "Prefer": "return=representation"},
        )
    assert r.status_code in (200, 201), r.text
    found: dict[str, Any] = r.json()
    return found


def resolving(smart: Smart, item: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    with api(smart, smart.operator_token) as c:
        r = c.post(f"/review/{item}/resolve", json=body)
    return r.status_code, r.json()


def clashing_flag(
    smart: Smart, patient: str, a: SyncDevice, b: SyncDevice
) -> tuple[dict[str, Any], dict[str, Any], str, int]:
    """A creates a Flag and changes its code (v2); B changes the code another way on v1: a
    clash, so B's event goes to review with the item made at v2. Then someone sets the Flag to
    v3. (B's device value, v3 as stored, the review id, B's event seq)."""
    made = flag(patient, "Falls risk")
    results(push(smart, a, [a.event("create", made, patient=patient)]))
    mine = {**made, "code": {"text": "High falls risk"}}
    (ra,) = results(push(smart, a, [a.event("update", mine, base="1", patient=patient)]))
    assert (ra["state"], ra["version"]) == ("confirmed", "2")
    theirs = {**made, "code": {"text": "Low falls risk"}}
    event = b.event("update", theirs, base="1", patient=patient)
    (rb,) = results(push(smart, b, [event]))
    assert rb["state"] == "needs-review" and rb["code"] == "conflict", rb
    with api(smart, smart.operator_token) as c:
        item = c.get(f"/review/{rb['review']}").json()
    assert item["server_version"] == "2"
    later = {**clean(read(smart, f"/Flag/{made['id']}")), "code": {"text": "Falls risk: rails up"}}
    v3 = put(smart, later)
    assert v3["meta"]["versionId"] == "3"
    return theirs, v3, str(rb["review"]), int(event["seq"])


def doctors(smart: Smart) -> tuple[str, SyncDevice, SyncDevice]:
    ward, users = new_ward(smart, "doctor", "doctor")
    return ward.patient, enrol(smart, users[0]), enrol(smart, users[1])


def pull_all(smart: Smart, device: SyncDevice, since: str | None = None) -> list[dict[str, Any]]:
    pages: list[dict[str, Any]] = []
    with api(smart, device.access) as c:
        for _ in range(100):
            params = {"protocol": "1", **({"since": since} if since else {})}
            r = c.get("/sync/pull", params=params)
            assert r.status_code == 200, r.text
            pages.append(r.json())
            since = pages[-1]["next"]
            if not pages[-1]["more"]:
                return pages
    raise AssertionError("the pull never finished")


def audited_resolutions(smart: Smart) -> list[dict[str, Any]]:
    rows = sql(
        smart, "SELECT content FROM audit_log WHERE subtype = ? ORDER BY n", "review-resolve"
    )
    return [json.loads(bytes(r[0])) for r in rows]


# --- keep server never writes --------------------------------------------------------------------


def test_keep_server_writes_nothing_and_the_device_is_sent_the_kept_version(smart: Smart) -> None:
    patient, a, b = doctors(smart)
    token = pull_all(smart, b)[-1]["next"]
    _, v3, item, seq = clashing_flag(smart, patient, a, b)
    fid = v3["id"]
    for _ in range(40):  # B's cursor past every version of the Flag (a device holds them back)
        pages = pull_all(smart, b, token)
        token = pages[-1]["next"]
        if not any(r["id"] == fid for p in pages for r in p["resources"]):
            break
        time.sleep(0.25)

    status, body = resolving(smart, item, {"keep": "server"})  # on v2, the item's version
    assert status == 409, body
    assert "is now at version 3" in body["issue"][0]["diagnostics"]
    status, body = resolving(smart, item, {"keep": "server", "version": "2"})
    assert status == 409, body
    assert read(smart, f"/Flag/{fid}") == v3  # a refused resolution writes nothing

    status, done = resolving(smart, item, {"keep": "server", "version": "3"})
    assert status == 200, done
    assert done["resolution"]["keep"] == "server"
    assert done["resolution"]["outcome"] == "rejected"
    assert done["resolution"]["version"] == "3"  # the version kept, not one written
    assert read(smart, f"/Flag/{fid}") == v3  # still v3, v3's content: nothing written
    history = smart.get(f"/Flag/{fid}/_history", smart.operator_token).json()
    assert [e["resource"]["meta"]["versionId"] for e in history["entry"]] == ["3", "2", "1"]
    last = audited_resolutions(smart)[-1]
    assert last["outcomeDesc"] == f"review item {item} resolved: kept server version 3"
    assert [e["what"]["reference"] for e in last["entity"]][-1].endswith(f"Flag/{fid}/_history/3")

    pages = pull_all(smart, b, token)  # B's next pull: the outcome, and the Flag as kept
    told = [r for p in pages for r in p["reviews"]]
    assert told == [{"review": item, "seq": seq, "state": "rejected", "reason": KEPT_SERVER}]
    (outcome_page,) = [p for p in pages if p["reviews"]]
    sent = [r for r in outcome_page["resources"] if r["id"] == fid]
    assert sent and sent[-1] == v3
    assert resolving(smart, item, {"keep": "device", "version": "3"})[0] == 409  # closed


def test_keep_device_or_a_merge_on_a_stale_base_is_409_and_on_the_seen_version_exact(
    smart: Smart,
) -> None:
    patient, a, b = doctors(smart)
    device_value, v3, item, _ = clashing_flag(smart, patient, a, b)
    fid = v3["id"]
    merged = {**device_value, "code": {"text": "Falls risk: rails up, low bed"}}

    for body in (
        {"keep": "device"},
        {"keep": "device", "version": "2"},
        {"keep": "merged", "resource": merged, "version": "2"},
    ):
        status, answer = resolving(smart, item, body)
        assert status == 409, answer
        assert read(smart, f"/Flag/{fid}") == v3, body  # nothing written over v3

    status, done = resolving(smart, item, {"keep": "device", "version": "3"})
    assert status == 200, done
    assert (done["resolution"]["outcome"], done["resolution"]["version"]) == ("confirmed", "4")
    stored = read(smart, f"/Flag/{fid}")
    assert stored["meta"]["versionId"] == "4"
    assert clean(stored) == device_value  # exactly the device's content
    last = audited_resolutions(smart)[-1]
    assert last["outcomeDesc"] == f"review item {item} resolved: kept device, wrote version 4"

    # a merge stated on the version seen writes exactly the edit
    _, w3, other, _ = clashing_flag(smart, patient, a, b)
    edit = {**clean(w3), "code": {"text": "Falls risk: rails up, low bed"}}
    status, done = resolving(smart, other, {"keep": "merged", "resource": edit, "version": "3"})
    assert status == 200, done
    again = read(smart, f"/Flag/{w3['id']}")
    assert again["meta"]["versionId"] == "4" and clean(again) == edit


def test_a_device_home_holds_the_servers_version_after_keep_server(
    smart: Smart, tmp_path: Path
) -> None:
    """End to end with a real device home: its change waits in review while the server moves on
    (the device holds its own copy back over the versions it pulls); the reviewer keeps the
    server's side; at the next sync the outbox event is rejected and the device holds v3."""
    ward, users = new_ward(smart, "doctor")
    made = flag(ward.patient, "Falls risk")
    fid = made["id"]
    put(smart, made)
    node, access = device_home(smart, users[0], tmp_path / "home")
    try:
        with Remote(smart.fhir) as remote:
            for _ in range(40):  # the Flag comes through the feed, below the horizon
                sync(node, remote, access)
                if any(c.id == fid for c in node.chart(ward.patient, "Flag")):
                    break
                time.sleep(0.25)
            local = node.read("Flag", fid)
            assert local.server_version == "1"
            v2 = put(smart, {**clean(read(smart, f"/Flag/{fid}")), "code": {"text": "High"}})
            low = {**local.resource, "code": {"text": "Low"}}
            recorded = node.record("update", low, ward.patient)
            assert sync(node, remote, access).needs_review == 1
            (entry,) = [e for e in node.outbox() if e.seq == recorded.seq]
            assert entry.result is not None
            item = str(entry.result["review"])
            v3 = put(smart, {**clean(v2), "code": {"text": "Falls risk: rails up"}})
            for _ in range(40):  # until the device's cursor is past v3 (held back, not stored)
                sync(node, remote, access)
                if passed(remote, access, node.sync_token(), fid):
                    break
                time.sleep(0.25)
            assert node.read("Flag", fid).resource["code"] == {"text": "Low"}
            status, done = resolving(smart, item, {"keep": "server", "version": "3"})
            assert status == 200, done
            settled = sync(node, remote, access)
            assert settled.reviews_settled == 1
            (entry,) = [e for e in node.outbox() if e.seq == recorded.seq]
            assert entry.state == "rejected"
            now = node.read("Flag", fid)
            assert (now.server_version, now.local_state) == ("3", "synced")
            assert clean(now.resource) == clean(v3)
            assert read(smart, f"/Flag/{fid}") == v3
    finally:
        node.lock()


def passed(remote: Remote, access: str, since: str | None, fid: str) -> bool:
    """Whether a pull from ``since`` (asked again later, as after a lost page) has nothing
    more of the Flag: the device's cursor is past every version of it."""
    answer = remote.request(
        "GET", f"{remote.root}/sync/pull", token=access, params={"protocol": 1, "since": since}
    )
    page = remote.json_of(answer, "the sync pull")
    return not page["more"] and all(r["id"] != fid for r in page["resources"])


# --- the listing pages -----------------------------------------------------------------------


def seed_items(smart: Smart, role: str, n: int) -> list[str]:
    """``n`` open review items routed to ``role``, straight into the table (many share a
    creation second: the order is (created_at, id)); their ids, oldest first."""
    base = int(time.time())
    made = []
    for i in range(n):
        item_id = f"r-{secrets.token_hex(8)}"
        sql_write(
            smart,
            "INSERT INTO sync_reviews (id, device, seq, code, reason, action, resource_type,"
            " resource_id, patient, device_value, fields, route_role, device_time, state,"
            " created_at) VALUES (?, ?, ?, 'conflict', 'A test item.', 'update', 'Flag', ?,"
            " NULL, ?, '[\"code\"]', ?, '2026-01-01T00:00:00Z', 'open', ?)",
            item_id,
            f"dev-{role}",
            i + 1,
            new_id(),
            orjson.dumps({"resourceType": "Flag"}),
            role,
            base + i // 7,
        )
        made.append((base + i // 7, item_id))
    return [item_id for _, item_id in sorted(made)]


def listed(smart: Smart, **params: str) -> tuple[list[str], Any]:
    with api(smart, smart.operator_token) as c:
        r = c.get("/review", params=params)
    assert r.status_code == 200, r.text
    return [i["id"] for i in r.json()["items"]], r.json()["next"]


def test_the_listing_pages_through_every_item_by_http_and_cli(smart: Smart) -> None:
    role = f"paging-{secrets.token_hex(3)}"
    ids = seed_items(smart, role, 230)

    first, after = listed(smart, role=role, state="all")
    assert first == ids[:200] and after  # 200 a page unless asked
    rest, end = listed(smart, role=role, state="all", cursor=after)
    assert rest == ids[200:] and end is None

    seen: list[str] = []
    cursor: str | None = None
    for _ in range(20):
        page, cursor = listed(
            smart, role=role, state="open", count="37", **({"cursor": cursor} if cursor else {})
        )
        assert len(page) <= 37
        seen += page
        if cursor is None:
            break
    assert seen == ids  # every item once, oldest first

    everything = json.loads(review_cli(smart, "list", "--role", role, "--state", "all", "--json"))
    assert [i["id"] for i in everything["items"]] == ids and everything["next"] is None
    page = json.loads(review_cli(smart, "list", "--role", role, "--count", "150", "--json"))
    assert [i["id"] for i in page["items"]] == ids[:150]
    tail = review_cli(smart, "list", "--role", role, "--cursor", page["next"], "--json")
    assert [i["id"] for i in json.loads(tail)["items"]] == ids[150:]
    where = ["--data-dir", str(smart.server.data_dir), "--database", smart.database]
    bad = subprocess.run(
        [sys.executable, "-m", "bedside", "review", "list", "--cursor", forged("[1]"), *where],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "cursor is not valid" in bad.stdout + bad.stderr


def forged(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "not a cursor"},
        {"cursor": "%%%"},
        {"cursor": forged('{"s": 0, "a": null, "o": 0}')},
        {"cursor": forged('{"s": 0, "a": ["r-1", 5], "o": 0}')},
        {"cursor": forged('{"s": 0, "a": [true, "r-1"], "o": 0}')},
        {"cursor": forged('{"s": 0, "a": [1180591620717411303424, "r-1"], "o": 0}')},
        {"cursor": forged('{"s": 0, "a": [1, "r-1", 3], "o": 0}')},
        {"cursor": forged('{"s": 0, "a": [1.5, "r-1"], "o": 0}')},
        {"cursor": forged('{"s": 0, "a": [1, {"id": "r-1"}], "o": 0}')},
        {"cursor": forged("[1, 2]")},
        {"cursor": forged('{"s": 0, "a": [1, "r-1"], "o": -1}')},
        {"count": "0"},
        {"count": "1001"},
        {"count": "²"},
        {"count": "9" * 5000},
    ],
)
def test_a_forged_cursor_or_count_is_400(smart: Smart, params: dict[str, str]) -> None:
    with api(smart, smart.operator_token) as c:
        r = c.get("/review", params={"state": "all", **params})
    assert r.status_code == 400, r.text
    assert r.json()["resourceType"] == "OperationOutcome"
