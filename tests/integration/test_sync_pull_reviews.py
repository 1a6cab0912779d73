"""Review outcomes in ``GET /sync/pull`` (docs/sync-protocol.md "Pull", docs/sync-pull.md "Review
outcomes") over real HTTP against a real `bedside serve` on SQLite and PostgreSQL.

A device's event goes to review; a person resolves the item (``POST /review/{id}/resolve``);
the device's next pull carries the outcome once — ``confirmed`` with the version written, or
``rejected`` with a plain reason — and the pull after that does not. Two resolutions that
commit out of order lose nothing, and a real device home (``bedside.device.sync``) settles its
outbox from the outcome, a repeated outcome changing nothing.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bedside.audit.chain import AuditLog
from bedside.auth.caller import Caller
from bedside.auth.scopes import ScopeSet
from bedside.consent.evaluate import shares_for
from bedside.device import Node
from bedside.device.remote import Remote
from bedside.device.secret import ENV_KEYSTORE
from bedside.device.sync import sync
from bedside.policy.decide import Policy
from bedside.policy.rules import PolicyRules
from bedside.protocol.event import public_key_text
from bedside.rest.repository import Repository
from bedside.store import open_store
from bedside.sync.resolution import Resolution, resolve
from bedside.sync.review import KEPT_SERVER
from tests.conftest import BACKENDS
from tests.integration._device_world import FAST
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_world import (
    CLIENT,
    SCOPE,
    SyncDevice,
    api,
    enrol,
    new_id,
    new_ward,
    push,
    read,
    results,
    sql,
)

PIN = "482913"
POSTURE = {"os": "TestOS 1", "disk_encryption": True, "screen_lock": True}
Pages = list[dict[str, Any]]


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


def pull_once(
    smart: Smart, device: SyncDevice, since: str | None = None, *, limit: int = 1000
) -> dict[str, Any]:
    params: dict[str, str] = {"protocol": "1", "limit": str(limit)}
    if since is not None:
        params["since"] = since
    with api(smart, device.access) as c:
        r = c.get("/sync/pull", params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def pull(smart: Smart, device: SyncDevice, since: str | None = None, *, limit: int = 1000) -> Pages:
    """Every page until ``more`` is false."""
    pages: Pages = []
    for _ in range(100):
        page = pull_once(smart, device, since, limit=limit)
        pages.append(page)
        since = page["next"]
        if not page["more"]:
            return pages
    raise AssertionError("the pull never finished")


def outcomes(pages: Pages) -> list[dict[str, Any]]:
    return [r for p in pages for r in p["reviews"]]


def versions(pages: Pages, rtype: str) -> list[tuple[str, str]]:
    return [
        (r["id"], r["meta"]["versionId"])
        for p in pages
        for r in p["resources"]
        if r["resourceType"] == rtype
    ]


def medication_request(patient: str) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": new_id(),
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": "Amoxicillin 500 mg"},
        "subject": {"reference": f"Patient/{patient}"},
    }


def doctors(smart: Smart) -> tuple[str, SyncDevice, SyncDevice]:
    ward, users = new_ward(smart, "doctor", "doctor")
    return ward.patient, enrol(smart, users[0]), enrol(smart, users[1])


def in_review(
    smart: Smart, patient: str, a: SyncDevice, b: SyncDevice
) -> tuple[str, int, dict[str, Any]]:
    """``a`` creates an order and stops it; ``b`` changes the dose on the first version: b's
    event goes to review (exclusive class). (review id, b's event seq, the order)."""
    order = medication_request(patient)
    results(push(smart, a, [a.event("create", order, patient=patient)]))
    results(push(smart, a, [a.event("update", {**order, "status": "stopped"}, base="1")]))
    dose = {**order, "dosageInstruction": [{"text": "1 tablet tds"}]}
    event = b.event("update", dose, base="1", patient=patient)
    (result,) = results(push(smart, b, [event]))
    assert result["state"] == "needs-review", result
    return str(result["review"]), int(event["seq"]), order


def resolve_item(
    smart: Smart, item: str, body: dict[str, Any], token: str | None = None
) -> dict[str, Any]:
    with api(smart, token or smart.operator_token) as c:
        r = c.post(f"/review/{item}/resolve", json=body)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


# --- delivered once, then never again ----------------------------------------------------------


def test_a_resolution_reaches_the_device_at_its_next_pull_once(smart: Smart) -> None:
    patient, a, b = doctors(smart)
    token = pull(smart, b)[-1]["next"]
    item, seq, order = in_review(smart, patient, a, b)

    waiting = pull(smart, b, token)
    assert outcomes(waiting) == []  # an open item has no outcome yet

    resolved = resolve_item(smart, item, {"keep": "device"}, b.access)
    assert resolved["resolution"]["outcome"] == "confirmed"
    got = pull(smart, b, waiting[-1]["next"])
    assert outcomes(got) == [{"review": item, "seq": seq, "state": "confirmed", "version": "3"}]
    token = got[-1]["next"]
    for _ in range(40):  # the version itself comes through the feed, below the horizon
        if (order["id"], "3") in versions(got, "MedicationRequest"):
            break
        time.sleep(0.25)  # on a busy PostgreSQL cluster another transaction may hold it back
        later = pull(smart, b, token)
        assert outcomes(later) == []  # the outcome is not sent again meanwhile
        got, token = got + later, later[-1]["next"]
    assert (order["id"], "3") in versions(got, "MedicationRequest")

    after = pull(smart, b, token)
    assert outcomes(after) == []
    assert outcomes(pull(smart, a)) == []  # another device never hears of it

    audited = [
        json.loads(bytes(row[0]))
        for row in sql(
            smart,
            "SELECT content FROM audit_log WHERE device = ? AND subtype = 'sync-pull' ORDER BY n",
            b.device_id,
        )
    ]
    pages = [e for e in audited if "review outcomes" in e["outcomeDesc"]]  # not backfill's
    told = [e for e in pages if not e["outcomeDesc"].endswith(", 0 review outcomes")]
    assert [e["outcomeDesc"].rsplit(", ", 1)[1] for e in told] == ["1 review outcomes"]
    assert told[0]["outcome"] == "0"
    assert told[0]["subtype"][0]["display"] == "Device pulled changes at sync"


def test_outcomes_come_in_resolution_order_paged_and_a_lost_page_repeats_them(
    smart: Smart,
) -> None:
    patient, a, b = doctors(smart)
    (i1, s1, _), (i2, s2, o2), (i3, s3, o3) = [in_review(smart, patient, a, b) for _ in range(3)]
    merged = {**o3, "status": "stopped", "dosageInstruction": [{"text": "1 tablet bd"}]}
    resolve_item(smart, i2, {"keep": "server"})
    resolve_item(smart, i1, {"keep": "device"})
    resolve_item(smart, i3, {"keep": "merged", "resource": merged, "version": "2"})

    pages = pull(smart, b, limit=2)  # a first sync: every outcome not yet delivered
    assert outcomes(pages) == [
        {"review": i2, "seq": s2, "state": "rejected", "reason": KEPT_SERVER},
        {"review": i1, "seq": s1, "state": "confirmed", "version": "3"},
        {"review": i3, "seq": s3, "state": "confirmed", "version": "3"},
    ]
    assert all(len(p["reviews"]) <= 2 for p in pages)
    assert pages[0]["more"] and len(pages[0]["reviews"]) == 2
    kept = read(smart, f"/MedicationRequest/{o2['id']}")  # the server's side: nothing written
    assert (kept["status"], kept["meta"]["versionId"]) == ("stopped", "2")

    again = pull_once(smart, b, None, limit=2)  # the first answer was lost: asked again
    assert again["reviews"] == pages[0]["reviews"]
    assert outcomes(pull(smart, b, pages[-1]["next"])) == []


# --- two resolutions committing out of order ---------------------------------------------------


def test_a_resolution_still_open_during_a_pull_is_delivered_after_it_commits(
    smart: Smart,
) -> None:
    """Resolution A is written and left open; resolution B of another item of the same device
    runs meanwhile over HTTP, and a pull runs while A is open. A cursor on ``resolved_at`` (or
    any number taken without the device's lock) would let B commit first, move past it and
    skip A for ever; here B waits for A's commit and both arrive once, A first."""
    if smart.backend != "postgresql":
        pytest.skip("SQLite has one writer: resolutions cannot commit out of order")
    patient, a, b = doctors(smart)
    (ia, sa, _), (ib, sb, _) = in_review(smart, patient, a, b), in_review(smart, patient, a, b)
    token = pull(smart, b)[-1]["next"]

    store = open_store(smart.database)
    audit = AuditLog(store, server=smart.fhir)
    policy = Policy(PolicyRules.load(smart.server.data_dir / "policy.toml"), consents=shares_for)
    operator = Caller("operator", ScopeSet.parse("system/*.cruds"))
    repo = Repository(store, operator, smart.fhir, policy=policy, auditor=audit)
    answers: list[httpx.Response] = []

    def resolve_b() -> None:
        with api(smart, smart.operator_token) as c:
            answers.append(c.post(f"/review/{ib}/resolve", json={"keep": "device"}))

    other = threading.Thread(target=resolve_b)
    try:
        with store.write() as session:
            resolve(repo, session, ia, Resolution("device"), now=time.time())
            other.start()
            other.join(1.5)
            assert other.is_alive(), "B must wait for A's outcome number"
            during = pull(smart, b, token)
            assert outcomes(during) == []  # A not committed, B not numbered yet
            repo.chain(session)  # A's audit entries last (the audit head would hold the pull)
        other.join(60)
    finally:
        audit.close()
        store.close()
    assert answers and answers[0].status_code == 200, answers
    after = pull(smart, b, during[-1]["next"])
    assert [(o["review"], o["seq"]) for o in outcomes(after)] == [(ia, sa), (ib, sb)]
    assert outcomes(pull(smart, b, after[-1]["next"])) == []


# --- a real device home applies the outcome ----------------------------------------------------


def device_home(smart: Smart, user: tuple[str, str, str], home: Path) -> tuple[Node, str]:
    """Enrol a device home as ``bedside device enroll`` does, without the browser: sign in,
    make the home with the first snapshot, register, refresh (the token names the device)."""
    username, user_id, _ = user
    signed = smart.login(CLIENT, username, SCOPE)
    key = Ed25519PrivateKey.generate()
    device_id = str(uuid.uuid4())
    with Remote(smart.fhir) as remote:
        jwks = remote.jwks()
        node, ek = Node.enroll_local(
            home,
            user=user_id,
            device_id=device_id,
            server=remote.fhir_base,
            client_id=remote.client_id,
            pin=PIN,
            snapshot_jws=remote.snapshot(signed["access_token"]),
            jwks=jwks,
            refresh_token=signed["refresh_token"],
            signing_key=key,
            app_version="test",
            kdf=FAST,
        )
        remote.register_device(
            signed["access_token"],
            device_id=device_id,
            public_key=public_key_text(key.public_key()),
            app_version="test",
            posture=POSTURE,
            escrow_key=ek,
        )
        bound = remote.refresh(signed["refresh_token"])
        node.set_refresh_token(bound.refresh_token or "")
        node.apply_snapshot(remote.snapshot(bound.access_token), jwks)
    return node, bound.access_token


def test_a_device_settles_its_outbox_from_the_outcome_and_a_repeat_changes_nothing(
    smart: Smart, tmp_path: Path
) -> None:
    ward, users = new_ward(smart, "doctor")
    order = medication_request(ward.patient)
    order_id = smart.create({k: v for k, v in order.items() if k != "id"})
    node, access = device_home(smart, users[0], tmp_path / "home")
    try:
        with Remote(smart.fhir) as remote:
            for _ in range(40):  # the order comes through the feed, below the horizon
                sync(node, remote, access)
                if any(c.id == order_id for c in node.chart(ward.patient, "MedicationRequest")):
                    break
                time.sleep(0.25)  # a busy PostgreSQL cluster may hold the horizon back a moment
            local = node.read("MedicationRequest", order_id)
            assert local.server_version == "1"

            stopped = read(smart, f"/MedicationRequest/{order_id}")
            with smart.fhir_client(smart.operator_token) as c:  # changed on the server: v2
                r = c.put(
                    f"/MedicationRequest/{order_id}",
                    json={**stopped, "status": "stopped"},
                    headers={"Content-Type": "application/fhir+json"},
                )
                assert r.status_code == 200, r.text
            dose = {**local.resource, "dosageInstruction": [{"text": "1 tablet tds"}]}
            recorded = node.record("update", dose, ward.patient)
            pushed = sync(node, remote, access)
            assert pushed.needs_review == 1
            (entry,) = [e for e in node.outbox() if e.seq == recorded.seq]
            assert entry.state == "needs-review" and entry.result is not None
            item = str(entry.result["review"])

            before = node.sync_token()
            resolve_item(smart, item, {"keep": "device"})
            settled = sync(node, remote, access)
            assert settled.reviews_settled == 1
            (entry,) = [e for e in node.outbox() if e.seq == recorded.seq]
            assert entry.state == "confirmed"
            assert entry.result is not None and entry.result["version"] == "3"
            now = node.read("MedicationRequest", order_id)
            assert (now.server_version, now.local_state) == ("3", "synced")
            assert now.resource["dosageInstruction"] == [{"text": "1 tablet tds"}]

            # the same outcome again (a page asked for twice): nothing changes
            repeat = remote.json_of(
                remote.request(
                    "GET",
                    f"{remote.root}/sync/pull",
                    token=access,
                    params={"protocol": 1, "since": before},
                ),
                "the sync pull",
            )
            assert [o["review"] for o in repeat["reviews"]] == [item]
            assert node.apply_pull(repeat).reviews == 0
            assert sync(node, remote, access).reviews_settled == 0
            (entry,) = [e for e in node.outbox() if e.seq == recorded.seq]
            assert entry.state == "confirmed"
    finally:
        node.lock()
