"""``GET /sync/pull`` (docs/sync-protocol.md "Pull", docs/sync-pull.md) over real HTTP against
a real `bedside serve` on SQLite and PostgreSQL: what a first sync and a delta send, tombstones,
purges, backfill, paging, device status, the protocol version, the audit trail, and, on
PostgreSQL, that a write committing out of seq order is delivered exactly once."""

from __future__ import annotations

import copy
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack

import httpx
import pytest

from bedside.rest.access import Access
from bedside.rest.interactions import Interactions
from bedside.store import open_store
from tests.conftest import BACKENDS, OPERATOR
from tests.integration._pull_world import World, new_world, observation
from tests.integration._smart import Smart, smart_server

ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
HIV = f"{ACT_CODE}|HIV"


@pytest.fixture(scope="module", params=BACKENDS)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, str(request.param)) as s:
        yield s


@pytest.fixture
def world(smart: Smart) -> World:
    return new_world(smart)


def outcome(resp: object) -> list[str]:
    body = resp.json()  # type: ignore[attr-defined]
    assert body["resourceType"] == "OperationOutcome"
    return [str(i["diagnostics"]) for i in body["issue"]]


# --- first sync and deltas -------------------------------------------------------------------


def test_first_sync_sends_the_working_set_and_nothing_of_a_stranger(world: World) -> None:
    mine = world.observation(world.nurse.patient)
    theirs = world.observation(world.nurse.stranger)
    first = world.pull()
    assert len(first.pages) == 1 and first.pages[0]["protocol"] == 1
    assert world.nurse.patient in first.ids("Patient")
    assert mine in first.ids("Observation")
    assert world.nurse.stranger not in first.ids("Patient")
    assert theirs not in first.ids("Observation")
    assert world.nurse.stranger not in str(first.pages)
    assert len(first.ids("CareTeam")) == 1
    assert all(r["meta"]["versionId"] for r in first.resources())
    assert first.deleted() == [] and first.purge() == []
    assert first.pages[0]["reviews"] == []
    progress = first.pages[0]["progress"]
    assert progress["done"] == progress["total"] == len(first.resources())
    (snapshot,) = first.snapshots()  # a first sync always brings the signed policy snapshot
    assert snapshot.count(".") == 2


def test_a_delta_sends_only_what_changed_once(world: World) -> None:
    kept = world.observation(world.nurse.patient)
    changed = world.observation(world.nurse.patient)
    first = world.pull()
    obs = world.read("Observation", changed)
    obs["status"] = "amended"
    world.put(obs)
    added = world.observation(world.nurse.patient)
    world.observation(world.nurse.stranger)
    delta = world.pull(first.next)
    assert sorted(delta.versions()) == sorted(
        [("Observation", changed, "2"), ("Observation", added, "1")]
    )
    assert kept not in delta.ids("Observation")
    assert delta.snapshots() == []  # the access did not change, so neither did the snapshot
    again = world.pull(delta.next)
    assert again.resources() == [] and again.deleted() == [] and again.purge() == []


def test_a_write_after_a_pull_is_delivered_exactly_once(world: World) -> None:
    """The simple case on both backends (SQLite: one writer, so seq order is commit order)."""
    token = world.pull().next
    seen: Counter[str] = Counter()
    for _ in range(3):
        created = world.observation(world.nurse.patient)
        # On PostgreSQL the horizon is the whole cluster's: a transaction open elsewhere (another
        # test run on the same server) holds a fresh write back for a moment, never loses it.
        deadline = time.monotonic() + 10
        while created not in seen:
            assert time.monotonic() < deadline, "a committed write was never delivered"
            pulled = world.pull(token)
            token = pulled.next
            seen.update(pulled.ids("Observation"))
            if created not in seen:
                time.sleep(0.1)
    assert set(seen.values()) == {1}


def test_deletes_travel_as_tombstones_only_for_what_the_device_could_hold(world: World) -> None:
    mine = world.observation(world.nurse.patient)
    theirs = world.observation(world.nurse.stranger)
    token = world.pull().next
    world.delete("Observation", mine)
    world.delete("Observation", theirs)
    delta = world.pull(token)
    assert delta.deleted() == [{"type": "Observation", "id": mine, "version": "2"}]
    assert delta.resources() == []


def test_a_resource_labelled_out_of_view_travels_as_a_tombstone(world: World) -> None:
    relabelled = world.observation(world.nurse.patient)
    churned = world.observation(world.nurse.patient)
    token = world.pull().next
    for rid in (relabelled, churned):
        obs = world.read("Observation", rid)
        obs["meta"] = {"security": [{"system": ACT_CODE, "code": "HIV"}]}
        world.put(obs)  # v2: now hidden from this nurse
    world.delete("Observation", churned)  # v3: the delete alone would look at hidden v2
    delta = world.pull(token)
    assert delta.resources() == []
    assert sorted(delta.deleted(), key=lambda d: d["version"]) == [
        {"type": "Observation", "id": relabelled, "version": "2"},
        {"type": "Observation", "id": churned, "version": "3"},
    ]
    # a resource that was never visible gets no tombstone: hidden from the start
    secret = world.observation(
        world.nurse.patient, meta={"security": [{"system": ACT_CODE, "code": "HIV"}]}
    )
    quiet = world.pull(delta.next)
    obs = world.read("Observation", secret)
    obs["status"] = "amended"
    world.put(obs)
    later = world.pull(quiet.next)
    assert secret not in str(quiet.pages) and secret not in str(later.pages)


# --- purges and backfill ---------------------------------------------------------------------


def test_a_revoked_consent_purges_what_it_shared_and_the_rest_comes_back(world: World) -> None:
    patient = world.nurse.patient
    plain = world.observation(patient)
    secret = world.observation(patient, meta={"security": [{"system": ACT_CODE, "code": "HIV"}]})
    hidden = world.pull()
    assert plain in hidden.ids("Observation") and secret not in hidden.ids("Observation")

    consent_id = world.smart.create(consent(patient, f"Practitioner/{world.practitioner}"))
    shared = world.pull(hidden.next)
    assert secret in shared.ids("Observation")  # the consent names the label: now it is shared
    assert [e["reason"] for e in shared.purge()] == ["access-changed"]

    revoked = world.read("Consent", consent_id)
    revoked["status"] = "inactive"
    world.put(revoked)
    after = world.pull(shared.next)
    reasons = {e["reason"]: e for e in after.purge()}
    assert reasons["consent-revoked"] == {
        "patient": patient,
        "reason": "consent-revoked",
        "types": ["Observation"],
        "labels": [HIV],
    }
    assert reasons["access-changed"]["patient"] == patient
    assert plain in after.ids("Observation")  # still hers through the care team: sent again
    assert secret not in after.ids("Observation")


def test_a_patient_who_leaves_the_care_team_is_purged(world: World) -> None:
    token = world.pull().next
    (team_id,) = world.sql(
        "SELECT r.id FROM resources r JOIN idx_reference x ON x.rid = r.rid"
        " WHERE r.type = 'CareTeam' AND x.param = 'CareTeam.subject' AND x.target = ?",
        world.nurse.patient,
    )[0]
    team = world.read("CareTeam", team_id)
    team["status"] = "inactive"
    world.put(team)
    later = world.observation(world.nurse.patient)
    delta = world.pull(token)
    assert delta.purge() == [
        {"patient": world.nurse.patient, "reason": "access-ended", "types": [], "labels": []}
    ]
    assert later not in delta.ids("Observation") and delta.resources() == []
    assert len(delta.snapshots()) == 1  # her access changed: a new snapshot comes with it
    quiet = world.pull(delta.next)
    assert quiet.purge() == [] and quiet.resources() == []


def test_a_patient_who_joins_is_backfilled_whole(world: World) -> None:
    token = world.pull().next
    newcomer = world.smart.create_patient("Newcomer")
    history = [world.observation(newcomer) for _ in range(3)]
    changed = world.read("Observation", history[0])
    changed["status"] = "amended"
    world.put(changed)
    world.delete("Observation", history[2])
    assert world.pull(token).ids("Patient") == []  # not hers yet
    world.care_team(newcomer)
    joined = world.pull(token)
    assert newcomer in joined.ids("Patient")
    sent = {k[1]: k[2] for k in joined.versions() if k[0] == "Observation"}
    assert sent == {history[0]: "2", history[1]: "1"}  # the current state, not the feed
    assert joined.deleted() == [] and joined.purge() == []


def test_pages_resume_from_the_token_and_a_lost_page_is_asked_again(world: World) -> None:
    created = {world.observation(world.nurse.patient) for _ in range(7)}
    paged = world.pull(limit=3)
    assert len(paged.pages) >= 3
    assert all(p["more"] for p in paged.pages[:-1]) and not paged.pages[-1]["more"]
    assert created <= set(paged.ids("Observation"))
    assert len(paged.versions()) == len(set(paged.versions()))
    totals = {p["progress"]["total"] for p in paged.pages}
    done = [p["progress"]["done"] for p in paged.pages]
    assert len(totals) == 1 and done == sorted(done) and done[-1] == totals.pop()
    assert all(len(p["resources"]) <= 3 for p in paged.pages)

    second = paged.pages[1]
    replay = world.pull_once(paged.pages[0]["next"], limit="3")  # the answer was lost
    assert replay.json()["resources"] == second["resources"]

    more = {world.observation(world.nurse.patient) for _ in range(4)}
    delta = world.pull(paged.next, limit=2)
    assert set(delta.ids("Observation")) == more and len(delta.pages) >= 2


def test_a_token_whose_working_set_record_is_gone_resyncs_from_scratch(world: World) -> None:
    mine = world.observation(world.nurse.patient)
    token = world.pull().next
    store = open_store(world.smart.database)
    try:
        with store.records(write=True) as db:
            db.run("DELETE FROM sync_members WHERE device_id = ?", [world.device_id])
    finally:
        store.close()
    again = world.pull(token)
    assert again.purge() == [
        {"patient": world.nurse.patient, "reason": "resync", "types": [], "labels": []}
    ]
    assert mine in again.ids("Observation") and world.nurse.patient in again.ids("Patient")


# --- the device, the version, the token ------------------------------------------------------


def test_a_revoked_device_gets_403_and_a_wiped_one_410(smart: Smart) -> None:
    revoked, wiped = new_world(smart), new_world(smart)
    with revoked.api(smart.operator_token) as c:
        assert c.post(f"/devices/{revoked.device_id}/revoke").status_code == 200
        assert c.post(f"/devices/{wiped.device_id}/wipe").status_code == 200
    r = revoked.pull_once()
    w = wiped.pull_once()
    assert r.status_code == 403 and outcome(r)[1] == '{"status":"revoked"}'
    assert w.status_code == 410 and outcome(w)[1] == '{"status":"wipe"}'
    assert "resources" not in r.text and "resources" not in w.text
    for world in (revoked, wiped):
        (event,) = world.audited_pulls()
        assert event["outcome"] == "4"


def test_the_protocol_version_is_checked(world: World) -> None:
    with world.api() as c:
        absent = c.get("/sync/pull")
    with httpx.Client(base_url=world.smart.root, timeout=30.0) as c:
        anonymous = c.get("/sync/pull", params={"protocol": "1"})
    assert anonymous.status_code == 401 and "resources" not in anonymous.text
    empty = world.pull_once(protocol="")
    other = world.pull_once(protocol="2")
    for resp in (absent, empty, other):
        assert resp.status_code == 400
        assert outcome(resp) == ["This server speaks sync protocol version 1: send ?protocol=1."]
        assert resp.headers["cache-control"] == "no-store"
    assert world.pull_once(limit="0").status_code == 400
    assert world.pull_once(limit="5000").status_code == 400


def test_a_token_only_works_for_its_device_and_cannot_be_forged(smart: Smart) -> None:
    one, two = new_world(smart), new_world(smart)
    token = one.pull().next
    foreign = two.pull_once(token)
    assert foreign.status_code == 400 and "another device" in outcome(foreign)[0]
    head, body, sig = token.split(".")
    forged = two.pull_once(f"{head}.{body}x.{sig}")
    assert forged.status_code == 400
    with one.api(
        smart.login("bedside-device", one.nurse.username, "openid fhirUser user/*.rs")[
            "access_token"
        ]
    ) as c:
        unbound = c.get("/sync/pull", params={"protocol": "1"})
    assert unbound.status_code == 403  # a token that names no device


def test_each_pull_is_audited_with_the_patients_it_sent(world: World) -> None:
    world.observation(world.nurse.patient)
    world.observation(world.nurse.stranger)
    pulled = world.pull()
    # a first sync: one access to each patient's record, not an entry naming each resource
    (event,) = world.audited_pulls()
    assert event["subtype"][0]["code"] == "sync-pull" and event["outcome"] == "0"
    patients = world.sql(
        "SELECT p.patient FROM audit_patients p JOIN audit_log l ON l.n = p.n"
        " WHERE l.device = ? AND l.subtype = 'sync-pull'",
        world.device_id,
    )
    assert patients == [(world.nurse.patient,)]
    named = [e["what"]["reference"] for e in event["entity"] if "what" in e]
    assert named == [f"Patient/{world.nurse.patient}"]
    assert f"{len(pulled.resources())} resources of the record sent" in event["outcomeDesc"]
    assert world.device_id in str(event["agent"])
    # later changes: the page's entry names every version sent
    world.observation(world.nurse.patient)
    world.observation(world.nurse.patient)
    delta = world.pull(pulled.next)
    assert len(delta.resources()) == 2
    later = world.audited_pulls()[-1]
    named = [e["what"]["reference"] for e in later["entity"] if "what" in e]
    assert len([n for n in named if "/_history/" in n]) == 2
    assert later["outcomeDesc"].startswith("sync pull: 2 sent")


# --- no row missed when transactions commit out of seq order (PostgreSQL) ----------------------


def test_a_row_committed_out_of_seq_order_is_delivered_exactly_once(world: World) -> None:
    """Tx A takes a lower seq and stays open while tx B takes a higher one and commits. A pull
    then must not move past A's position: a "seq > last" cursor would skip A for ever."""
    smart = world.smart
    if smart.backend != "postgresql":
        pytest.skip("SQLite has one writer: transactions cannot commit out of seq order")
    token = world.pull().next
    store = open_store(smart.database)
    try:
        with ExitStack() as tx_a:
            session = tx_a.enter_context(store.write())
            a = Interactions(session, Access(OPERATOR)).create(
                "Observation", observation(world.nurse.patient)
            )
            b = world.observation(world.nurse.patient)  # tx B: the server commits it now
            assert a.version.seq < _seq(world, b)  # B's seq is higher, and B committed first
            during = world.pull(token)  # A is still open
            assert a.version.id not in during.ids("Observation")
            assert b not in during.ids("Observation")  # held back: the horizon stops at open A
        after = world.pull(during.next)  # A has committed
        quiet = world.pull(after.next)
    finally:
        store.close()
    seen = Counter(during.ids("Observation") + after.ids("Observation") + quiet.ids("Observation"))
    assert seen[a.version.id] == 1
    assert seen[b] == 1
    assert quiet.resources() == []


def _seq(world: World, rid: str) -> int:
    (row,) = world.sql("SELECT seq FROM change_feed WHERE id = ?", rid)
    return int(row[0])


def consent(patient: str, actor: str) -> dict[str, object]:
    """A permit sharing HIV-labelled Observations of ``patient`` with ``actor``."""
    return copy.deepcopy(
        {
            "resourceType": "Consent",
            "status": "active",
            "scope": {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                        "code": "patient-privacy",
                    }
                ]
            },
            "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
            "patient": {"reference": f"Patient/{patient}"},
            "policyRule": {"coding": [{"system": ACT_CODE, "code": "OPTIN"}]},
            "provision": {
                "type": "permit",
                "actor": [{"role": {"text": "recipient"}, "reference": {"reference": actor}}],
                "class": [{"system": "http://hl7.org/fhir/resource-types", "code": "Observation"}],
                "securityLabel": [{"system": ACT_CODE, "code": "HIV"}],
            },
        }
    )
