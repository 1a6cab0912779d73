"""The parts of the sync pull that need no server (bedside.sync.pull_token, .members, .visible).

The in-memory visibility used for tombstones is compared, resource by resource, with the
store's own visibility SQL on a real SQLite store: it must never admit what the server hides.
The server's working set is compared with the device's rule on the same snapshot claims.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt

from bedside.audit.entry import NullAuditor
from bedside.auth.caller import Caller
from bedside.auth.keys import load_or_create
from bedside.auth.scopes import ScopeSet
from bedside.consent.evaluate import shares_for
from bedside.device.offline import OfflinePolicy
from bedside.errors import InvalidRequest
from bedside.fhir.search import confine as visible
from bedside.policy.decide import Policy
from bedside.policy.model import AccessView, PatientAccess, Refusal, Share
from bedside.policy.rules import PolicyRules
from bedside.policy.snapshot import sign_snapshot, snapshot
from bedside.protocol.pull import SYNC_TYP
from bedside.rest import FhirRequest, Repository
from bedside.rest.access import Access
from bedside.store import Store, open_store
from bedside.sync import members, pull_token
from bedside.sync.pull import claims_digest
from bedside.sync.pull_token import DELTA, PullToken, Round
from tests.conftest import OPERATOR

NOW = 1_700_000_000
ISSUER = "http://bedside.test/fhir"
ACT = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
HIV = (ACT, "HIV")
RULES = PolicyRules.default()
NURSE = RULES.role("nurse").permissions


def nurse(scope: str = "user/*.cruds", **extra: Any) -> Caller:
    return Caller(
        "u1",
        ScopeSet.parse(scope),
        client_id="bedside-device",
        fhir_user="Practitioner/9",
        role="nurse",
        device="dev-1",
        **extra,
    )


def view(**parts: Any) -> AccessView:
    return AccessView("nurse", True, NURSE, sensitive=RULES.sensitive, now=NOW, **parts)


CARE = PatientAccess("p1", "care-team", "CareTeam/1")
SHARE = Share("p2", "Consent/c1", frozenset({"Observation"}), frozenset({HIV}))
GLASS = PatientAccess("p3", "break-glass", "break-glass/b1", NOW + 600)


# --- the token ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return load_or_create(tmp_path_factory.mktemp("keys"))


def test_a_token_round_trips_with_64_bit_horizons(keys: Any) -> None:
    big = 2**63 - 5
    token = PullToken(
        "dev-1", "u1", big, "ab" * 32, "cd" * 16, Round(big + 1, DELTA, (big, 7), 3, 9)
    )
    text = pull_token.encode(token, keys)
    assert pull_token.decode(text, keys, device="dev-1", subject="u1") == token
    first = PullToken("dev-1", "u1")
    assert (
        first.fresh
        and pull_token.decode(pull_token.encode(first, keys), keys, device="dev-1", subject="u1")
        == first
    )


def test_a_token_carries_the_review_outcome_cursor_and_one_without_it_starts_at_0(
    keys: Any,
) -> None:
    token = PullToken("dev-1", "u1", 5, reviews=2**40)
    text = pull_token.encode(token, keys)
    assert pull_token.decode(text, keys, device="dev-1", subject="u1").reviews == 2**40
    claims = {"v": 1, "dev": "dev-1", "sub": "u1", "h": "5", "ws": "", "sn": "", "r": None}
    header = {"alg": "RS256", "kid": keys.signing.kid, "typ": SYNC_TYP}
    older = jwt.encode(header, claims, keys.signing)  # a token made before the cursor existed
    assert pull_token.decode(older, keys, device="dev-1", subject="u1") == PullToken(
        "dev-1", "u1", 5
    )


def test_a_token_of_another_device_or_user_or_a_forged_one_is_refused(
    keys: Any, tmp_path: Path
) -> None:
    text = pull_token.encode(PullToken("dev-1", "u1", 5), keys)
    head, body, sig = text.split(".")
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    other = load_or_create(tmp_path)  # another server's key
    for candidate, device, subject in (
        (text, "dev-2", "u1"),
        (text, "dev-1", "u2"),
        (f"{head}.{forged}.{sig}", "dev-1", "u1"),
        ("not a token", "dev-1", "u1"),
        (pull_token.encode(PullToken("dev-1", "u1", 5), other), "dev-1", "u1"),
    ):
        with pytest.raises(InvalidRequest, match="Sync again without it"):
            pull_token.decode(candidate, keys, device=device, subject=subject)


def test_a_policy_snapshot_is_not_a_sync_token(keys: Any) -> None:
    claims = snapshot(view(relations=(CARE,)), nurse(), issuer=ISSUER, rules=RULES, now=NOW)
    with pytest.raises(InvalidRequest):
        pull_token.decode(sign_snapshot(claims, keys), keys, device="dev-1", subject="u1")


def test_the_snapshot_digest_ignores_what_changes_at_every_signing() -> None:
    one = snapshot(view(relations=(CARE,)), nurse(), issuer=ISSUER, rules=RULES, now=NOW)
    two = snapshot(view(relations=(CARE,)), nurse(), issuer=ISSUER, rules=RULES, now=NOW + 60)
    three = snapshot(
        view(relations=(CARE,), shares=(SHARE,)), nurse(), issuer=ISSUER, rules=RULES, now=NOW
    )
    assert claims_digest(one) == claims_digest(two) != claims_digest(three)


# --- the working set ---------------------------------------------------------------------------

CASES: list[tuple[AccessView, Caller, tuple[str, ...]]] = [
    (view(relations=(CARE,), shares=(SHARE,), glass=(GLASS,)), nurse(), ()),
    (view(relations=(CARE,), shares=(SHARE,), glass=(GLASS,)), nurse(), ("p2", "p3", "p8")),
    (
        view(relations=(CARE, PatientAccess("p4", "location", "Encounter/e"))),
        nurse("patient/*.rs", patient="p4"),
        ("p1",),
    ),
    (
        AccessView(
            "patient", True, {"*": frozenset("rs")}, glass=(PatientAccess("p7", "self", "self"),)
        ),
        Caller(
            "u7", ScopeSet.parse("user/*.rs"), fhir_user="Patient/p7", role="patient", device="d"
        ),
        (),
    ),
    (
        AccessView("auditor", False, {"AuditEvent": frozenset("rs")}, now=NOW),
        Caller(
            "u8",
            ScopeSet.parse("user/*.rs"),
            fhir_user="Practitioner/a",
            role="auditor",
            device="d",
        ),
        ("p1", "p9"),
    ),
    (
        AccessView(None, False, {"*": frozenset("cruds")}, now=NOW),
        Caller("svc", ScopeSet.parse("patient/*.rs"), patient="p5", device="d"),
        ("p6",),
    ),
]


@pytest.mark.parametrize(("v", "caller", "pins"), CASES)
def test_the_working_set_is_the_one_the_device_keeps(
    v: AccessView, caller: Caller, pins: tuple[str, ...]
) -> None:
    claims = snapshot(v, caller, issuer=ISSUER, rules=RULES, now=NOW, pins=pins)
    device = OfflinePolicy(claims).working_set(NOW, claims.get("pins") or ())
    assert set(members.working_set(v, caller, pins)) == device


def test_a_fingerprint_changes_only_with_what_decides_visibility() -> None:
    base = members.working_set(view(relations=(CARE,), shares=(SHARE,)), nurse(), ("p2",))
    other_team = PatientAccess("p1", "care-team", "CareTeam/2", NOW + 60)
    moved = members.working_set(view(relations=(other_team,), shares=(SHARE,)), nurse(), ("p2",))
    refused = Refusal("p1", "Consent/c9", frozenset({"Condition"}))
    denied = members.working_set(
        view(relations=(CARE,), shares=(SHARE,), refusals=(refused,)), nurse(), ("p2",)
    )
    assert moved == base
    assert denied["p1"] != base["p1"] and denied["p2"] == base["p2"]
    narrower = members.working_set(view(relations=(CARE,), shares=(SHARE,)), nurse("user/*.rs"), ())
    assert narrower["p1"] != base["p1"]


def test_members_digest_is_stable_and_empty_for_none() -> None:
    a = {"p1": ("f1", members.HELD), "p2": ("f2", members.ENTERING)}
    b = dict(reversed(list(a.items())))
    assert members.digest(a) == members.digest(b) != "" and members.digest({}) == ""


# --- tombstone visibility agrees with the store's SQL ------------------------------------------


def obs(
    patient: str, *, labels: tuple[tuple[str, str], ...] = (), category: str = "vital-signs"
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
        "code": {"text": "x"},
        "subject": {"reference": f"Patient/{patient}"},
    }
    if labels:
        body["meta"] = {"security": [{"system": s, "code": c} for s, c in labels]}
    return body


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Store, list[Any]]]:
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('vis') / 'b.db'}")
    repo = Repository(
        store, OPERATOR, ISSUER, policy=Policy(consents=shares_for), auditor=NullAuditor()
    )
    bodies: list[dict[str, Any]] = []
    for p in ("p1", "p2", "p3", "p4"):
        bodies.append({"resourceType": "Patient", "id": p})
        bodies += [obs(p), obs(p, labels=(HIV,)), obs(p, category="laboratory")]
        bodies.append({"resourceType": "Condition", "subject": {"reference": f"Patient/{p}"}})
    out = []
    for body in bodies:
        rtype = body["resourceType"]
        if "id" in body:
            resp = repo.handle(FhirRequest("PUT", f"{rtype}/{body['id']}", body=body))
        else:
            resp = repo.handle(FhirRequest("POST", rtype, body=body))
        out.append(resp.resource)
    yield store, out
    store.close()


ACCESSES = [
    (nurse(), view(relations=(CARE,))),
    (nurse(), view(relations=(CARE,), shares=(SHARE,), glass=(GLASS,))),
    (
        nurse(),
        view(relations=(CARE,), refusals=(Refusal("p1", "Consent/c", frozenset({"Observation"})),)),
    ),
    (nurse("user/Observation.rs?category=laboratory user/Patient.rs"), view(relations=(CARE,))),
    (nurse("patient/*.rs", patient="p1"), view(relations=(CARE,), glass=(GLASS,))),
]


@pytest.mark.parametrize(("caller", "v"), ACCESSES)
def test_tombstone_visibility_matches_the_store(
    stored: tuple[Store, list[Any]], caller: Caller, v: AccessView
) -> None:
    store, resources = stored
    access = Access(caller, v)
    subsets = [("p1",), ("p1", "p2", "p3"), ("p2", "p4")]
    seen: set[bool] = set()
    with store.read() as session:
        for resource, patients in itertools.product(resources, subsets):
            rtype = resource["resourceType"]
            vis = visible.confine(access.rows(rtype, "search"), rtype, patients)
            current = session.current(rtype, resource["id"])
            assert current is not None
            in_sql = bool(session.visible_rids([current.rid], vis)) if not vis.nothing else False
            assert visible.admits(vis, resource) == in_sql, (rtype, resource.get("meta"), patients)
            seen.add(in_sql)
    assert seen == {True, False}


def test_confining_an_unrestricted_visibility_gives_the_patients_compartment() -> None:
    vis = visible.confine(None, "Observation", ["p1"])
    assert visible.admits(vis, obs("p1")) and not visible.admits(vis, obs("p2"))
    assert visible.confine(None, "Observation", []).nothing


def test_a_one_result_share_changes_the_fingerprint_and_tombstones_follow_its_id(
    stored: tuple[Store, list[Any]],
) -> None:
    store, resources = stored
    p3 = [r for r in resources if r["resourceType"] == "Observation" and "p3" in str(r)]
    named = p3[0]["id"]
    one = Share(
        "p3", "Consent/c2", frozenset({"Observation"}), ids=frozenset({f"Observation/{named}"})
    )
    other = Share("p3", "Consent/c2", frozenset({"Observation"}), ids=frozenset({"Observation/x"}))
    a = members.working_set(view(shares=(one,)), nurse(), ("p3",))
    b = members.working_set(view(shares=(other,)), nurse(), ("p3",))
    assert a["p3"] != b["p3"]
    access = Access(nurse(), view(shares=(one,)))
    admitted = set()
    with store.read() as session:
        for resource in resources:
            rtype = resource["resourceType"]
            vis = visible.confine(access.rows(rtype, "search"), rtype, ("p3",))
            current = session.current(rtype, resource["id"])
            assert current is not None
            in_sql = bool(session.visible_rids([current.rid], vis)) if not vis.nothing else False
            assert visible.admits(vis, resource) == in_sql, (rtype, resource["id"])
            if in_sql:
                admitted.add(resource["id"])
    assert admitted == {named}
