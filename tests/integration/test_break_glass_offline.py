"""Offline break-glass records as the server keeps them (bedside.policy.breakglass_offline), on
real SQLite and PostgreSQL, and the policy's [break_glass] offline settings."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bedside.auth.caller import Caller
from bedside.auth.scopes import ScopeSet
from bedside.errors import InvalidRequest, PolicyError
from bedside.policy import breakglass
from bedside.policy.breakglass_offline import OfflineGrant, grant_id, parse_grants, record
from bedside.policy.rules import PolicyRules, parse
from bedside.protocol.event import format_time
from bedside.store import Store

RULES = PolicyRules.default()
NOW = 1_800_000_000.0
NURSE = Caller(
    "u-nurse",
    ScopeSet.parse("user/*.cruds"),
    client_id="bedside-device",
    fhir_user="Practitioner/n1",
    role="nurse",
    device="dev-1",
)


def body(start: float, end: float, **more: Any) -> dict[str, Any]:
    grant = {
        "id": "local-1",
        "patient": "p9",
        "reason": "Collapsed in the corridor",
        "started": format_time(start),
        "expires": format_time(end),
        "views": [{"at": format_time(start + 5), "type": "*", "action": "read", "count": 0}],
    }
    return {"protocol": 1, "grants": [{**grant, **more}]}


def keep(
    store: Store, grant: OfflineGrant, rules: PolicyRules = RULES, caller: Caller = NURSE
) -> tuple[dict[str, Any], bool]:
    with store.records(write=True) as db:
        return record(db, caller, "dev-1", grant, rules=rules, now=NOW)


def test_default_policy_allows_offline_break_glass_for_30_minutes_synced_within_12_hours() -> None:
    assert RULES.break_glass_offline is True
    assert (RULES.break_glass_offline_seconds, RULES.break_glass_sync_seconds) == (1800, 43200)
    off = parse("[break_glass]\noffline = false\nroles = []\n", source="t")
    assert off.break_glass_offline is False
    with pytest.raises(PolicyError, match="true or false"):
        parse('[break_glass]\noffline = "yes"\n', source="t")
    with pytest.raises(PolicyError, match="offline_sync_hours"):
        parse("[break_glass]\noffline_sync_hours = 0\n", source="t")


def test_a_grant_lands_in_the_review_queue_once_with_its_reason_and_device(store: Store) -> None:
    (grant,) = parse_grants(body(NOW - 600, NOW + 1200))
    answer, new = keep(store, grant)
    assert new and answer["state"] == "recorded" and answer["id"] == "local-1"
    assert answer["late"] is False and answer["allowed"] is True
    again, new_again = keep(store, grant)
    assert not new_again and again["grant"] == answer["grant"]
    with store.records() as db:
        items = [i for i in breakglass.review_queue(db) if i["id"] == answer["grant"]]
    assert len(items) == 1
    item = items[0]
    assert item["reason"] == "Collapsed in the corridor" and item["offline_device"] == "dev-1"
    assert item["patient"] == "Patient/p9" and item["status"] == "open"


def test_the_server_caps_its_life_reads_a_future_start_as_now_and_notes_lateness(
    store: Store,
) -> None:
    (long,) = parse_grants(body(NOW - 60, NOW + 86400, id="long"))
    answer, _ = keep(store, long)
    (future,) = parse_grants(body(NOW + 3600, NOW + 7200, id="future"))
    keep(store, future)
    (late,) = parse_grants(body(NOW - 13 * 3600, NOW - 13 * 3600 + 1800, id="late"))
    late_answer, _ = keep(store, late)
    assert late_answer["late"] is True
    forbidding = replace(RULES, break_glass_offline=False)
    (kept,) = parse_grants(body(NOW - 60, NOW, id="forbidden"))
    forbidden, new = keep(store, kept, forbidding)
    assert new and forbidden["allowed"] is False  # recorded all the same: review decides
    with store.records() as db:
        rows = {
            str(r[0]): (int(r[1]), int(r[2]))
            for r in db.rows("SELECT id, started_at, expires_at FROM break_glass", [])
        }
    started, expires = rows[answer["grant"]]
    assert expires - started == 1800
    assert rows[grant_id("dev-1", "future")][0] == int(NOW)


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"grants": "x"},
        {"grants": [{"id": "a"}]},
        body(NOW, NOW, reason=" "),
        body(NOW, NOW, started="yesterday"),
        body(NOW, NOW, views=[{"at": "x", "type": "*", "action": "read"}]),
        body(NOW, NOW, views=[{"at": format_time(NOW), "type": "*", "action": "r", "count": -1}]),
    ],
)
def test_a_malformed_body_is_400(bad: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        parse_grants(bad)
