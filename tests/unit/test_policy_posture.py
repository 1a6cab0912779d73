"""Graduated compliance steps (bedside.policy.posture) and the [posture] table."""

from __future__ import annotations

import pytest

from bedside.errors import PolicyError
from bedside.policy.posture import PostureRules, assess, refuses, rules_from_claim, words
from bedside.policy.rules import parse

NOTE = {
    "resourceType": "DocumentReference",
    "content": [{"attachment": {"contentType": "text/plain", "data": "aGk="}}],
}
PHOTO = {
    "resourceType": "DocumentReference",
    "content": [{"attachment": {"contentType": "image/jpeg", "url": "att:1"}}],
}
OBS = {"resourceType": "Observation"}
WHY = ["disk encryption is off"]


def test_each_step_blocks_what_it_says_and_nothing_more() -> None:
    assert refuses("warn", WHY, "create", PHOTO) is None
    assert refuses("no-export", WHY, "create", OBS) is None
    assert refuses("no-export", WHY, "create", NOTE) is None  # a typed note is no capture
    assert "photos and documents are blocked" in (refuses("no-export", WHY, "create", PHOTO) or "")
    assert "new records are blocked" in (refuses("no-new-documentation", WHY, "create", OBS) or "")
    assert refuses("no-new-documentation", WHY, "correct", OBS) is None  # corrections go
    assert "read-only" in (refuses("read-only", WHY, "update", OBS) or "")
    assert "disk encryption is off" in (refuses("wipe", WHY, "correct", OBS) or "")


def test_the_banner_says_what_was_found_and_what_it_blocks() -> None:
    assert words("none", []) == ""
    assert words("warn", WHY) == (
        "This device's security check found that disk encryption is off. Nothing is blocked yet."
    )
    rules = PostureRules({"screen_lock": "read-only"}, "none")
    assert assess({"screen_lock": False, "disk_encryption": False}, rules) == (
        "read-only",
        ["there is no screen lock"],
    )


def test_the_table_is_checked_and_carried_in_the_snapshot_claim() -> None:
    rules = parse('[posture]\nroot = "wipe"\nunknown = "warn"\n', source="t").posture
    assert rules.steps["root"] == "wipe" and rules.unknown == "warn"
    assert rules.steps["disk_encryption"] == "warn"  # the default where not set
    assert rules_from_claim(rules.claims()) == rules
    assert rules_from_claim(None) is None
    with pytest.raises(PolicyError, match="must be one of"):
        parse('[posture]\nroot = "explode"\n', source="t")
    with pytest.raises(PolicyError, match="no setting"):
        parse('[posture]\nbattery = "warn"\n', source="t")
