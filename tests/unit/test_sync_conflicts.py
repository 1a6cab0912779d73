"""Conflict classes and the three-way merge (bedside.policy.conflicts, docs/sync-server.md)."""

from __future__ import annotations

from typing import Any

import pytest

from bedside.errors import PolicyError
from bedside.policy.conflicts import CURRENT, differing, merge, settle, task_status
from bedside.policy.rules import PolicyRules, parse
from bedside.protocol.results import Result

RULES = PolicyRules.default().sync


def patient(**extra: Any) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "id": "p1",
        "meta": {"versionId": "1"},
        "name": [{"family": "Ward"}],
        **extra,
    }


PHONE = [{"system": "phone", "value": "0100"}]
OTHER_PHONE = [{"system": "phone", "value": "0199"}]
ADDRESS = [{"city": "Leeds"}]


# --- the policy file -------------------------------------------------------------------------


def test_default_classes_follow_the_brief() -> None:
    assert RULES.conflict_class("Observation") == "append-only"
    assert RULES.conflict_class("Task") == "mergeable"
    assert RULES.conflict_class("MedicationRequest") == "exclusive"
    assert RULES.conflict_class("Practitioner") == "read-only"
    assert RULES.conflict_class("Encounter") == "exclusive"
    assert RULES.conflict_class("RiskAssessment") == "exclusive"  # listed nowhere: the safest
    assert RULES.review_role("MedicationRequest") == "doctor"
    assert RULES.review_role("Observation") == "nurse"


def test_a_policy_file_can_move_a_type_and_route_its_review() -> None:
    text = """
[roles.nurse]
patients = "related"
[sync.conflicts]
mergeable = ["Observation"]
default = "append-only"
[sync.review]
roles = { "*" = "nurse" }
"""
    rules = parse(text, source="test").sync
    assert rules.conflict_class("Observation") == "mergeable"
    assert rules.conflict_class("Patient") == "append-only"
    assert rules.review_role("MedicationRequest") == "nurse"


def test_console_resolvers_are_named_per_queue_and_none_unless_named() -> None:
    assert RULES.console_resolvers == {"doctor": "clinical-safety"}  # the shipped policy
    roles = '[roles.nurse]\npatients = "related"\n[roles.clinical-safety]\npatients = "none"\n'
    named = parse(
        roles + '[sync.review]\nroles = { "*" = "nurse" }\nconsole = { nurse = "clinical-safety" }',
        source="test",
    )
    assert named.sync.console_resolvers == {"nurse": "clinical-safety"}
    silent = parse(roles + '[sync.review]\nroles = { "*" = "nurse" }', source="test")
    assert silent.sync.console_resolvers == {}  # deny by default


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[sync.conflicts]\nmergeable = ["Nope"]', "Nope is not a FHIR R4 resource type"),
        ('[sync.conflicts]\nsometimes = ["Task"]', "has no class sometimes"),
        ('[sync.conflicts]\nmergeable = ["Task"]\nexclusive = ["Task"]', "in two classes"),
        ('[sync.review]\nroles = { Task = "wizard" }', "undefined role"),
        ('[sync.review]\nroles = { Task = "nurse" }\nconsole = { nurse = "wizard" }', "undefined"),
        ('[sync.review]\nroles = { Task = "nurse" }\nconsole = "nurse"', "console must be a table"),
        ("[sync.elsewhere]\nx = 1", "has no table elsewhere"),
    ],
)
def test_a_bad_sync_table_is_a_startup_error(text: str, words: str) -> None:
    with pytest.raises(PolicyError, match=words):
        parse('[roles.nurse]\npatients = "related"\n' + text, source="test")


# --- settle -------------------------------------------------------------------------------------


def test_a_change_on_the_current_version_is_confirmed_whatever_the_class() -> None:
    for rtype in ("Observation", "Patient", "MedicationRequest"):
        mine = {"resourceType": rtype, "id": "x", "status": "final"}
        decision = settle(RULES, rtype, mine, mine, mine, based_on_current=True)
        assert decision.state == "confirmed" and decision.body == mine


def test_exclusive_on_an_old_version_goes_to_review_naming_the_fields() -> None:
    base = {"resourceType": "MedicationRequest", "id": "m", "status": "active", "note": []}
    current = {**base, "status": "stopped"}
    mine = {**base, "dosageInstruction": [{"text": "twice daily"}]}
    decision = settle(RULES, "MedicationRequest", mine, base, current, based_on_current=False)
    assert decision.state == "needs-review" and decision.body is None
    assert decision.fields == ("dosageInstruction", "status")
    assert "medication request" in decision.reason


def test_exclusive_already_holding_the_same_change_writes_nothing() -> None:
    base = {"resourceType": "MedicationRequest", "id": "m", "status": "active"}
    done = {**base, "status": "completed", "meta": {"versionId": "2"}}
    mine = {**base, "status": "completed"}
    assert settle(RULES, "MedicationRequest", mine, base, done, based_on_current=False).state == (
        CURRENT
    )


def test_a_correction_of_a_superseded_version_goes_to_review() -> None:
    base = {"resourceType": "Observation", "id": "o", "status": "final", "valueString": "a"}
    current = {**base, "valueString": "b"}
    mine = {**base, "status": "entered-in-error"}
    decision = settle(RULES, "Observation", mine, base, current, based_on_current=False)
    assert decision.state == "needs-review" and "correction" in decision.reason


def test_a_composition_becoming_final_is_exclusive_even_when_its_class_is_not() -> None:
    rules = parse(
        '[roles.doctor]\npatients = "related"\n[sync.conflicts]\nmergeable = ["Composition"]\n'
        'sign_off = ["Composition"]\n[sync.review]\nroles = { "*" = "doctor" }',
        source="test",
    ).sync
    base = {"resourceType": "Composition", "id": "c", "status": "preliminary", "title": "A"}
    current = {**base, "title": "B"}  # another edit, no clash with a sign-off by itself
    mine = {**base, "status": "final"}
    decision = settle(rules, "Composition", mine, base, current, based_on_current=False)
    assert decision.state == "needs-review"


# --- the three-way merge ------------------------------------------------------------------------


def test_changes_to_different_fields_merge() -> None:
    base = patient()
    mine = patient(telecom=PHONE)
    theirs = patient(address=ADDRESS, meta={"versionId": "2"})
    decision = merge("Patient", base, mine, theirs)
    assert decision.state == "merged"
    assert decision.body is not None
    assert decision.body["telecom"] == PHONE and decision.body["address"] == ADDRESS


def test_the_same_field_changed_two_ways_goes_to_review() -> None:
    decision = merge("Patient", patient(), patient(telecom=PHONE), patient(telecom=OTHER_PHONE))
    assert decision.state == "needs-review" and decision.fields == ("telecom",)
    assert decision.reason == "Both you and someone else changed the patient's telecom."


def test_the_same_change_on_both_sides_is_agreed() -> None:
    decision = merge("Patient", patient(), patient(telecom=PHONE), patient(telecom=PHONE))
    assert decision.state == CURRENT


def test_a_field_removed_on_one_side_is_removed() -> None:
    decision = merge("Patient", patient(telecom=PHONE), patient(), patient(telecom=PHONE))
    assert decision.state == "confirmed" and decision.body is not None  # mine, as sent
    assert "telecom" not in decision.body


def test_items_added_to_a_list_on_both_sides_are_all_kept() -> None:
    one = {"title": "Turn every two hours"}
    two = {"title": "Check the dressing"}
    three = {"title": "Offer fluids"}
    base = {"resourceType": "CarePlan", "id": "c", "activity": [{"detail": one}]}
    mine = {**base, "activity": [{"detail": one}, {"detail": two}]}
    theirs = {**base, "activity": [{"detail": one}, {"detail": three}]}
    decision = merge("CarePlan", base, mine, theirs)
    assert decision.state == "merged" and decision.body is not None
    assert decision.body["activity"] == [{"detail": one}, {"detail": three}, {"detail": two}]


def test_an_item_changed_in_a_list_on_both_sides_goes_to_review() -> None:
    base = {"resourceType": "CarePlan", "id": "c", "activity": [{"progress": "a"}]}
    mine = {**base, "activity": [{"progress": "b"}]}
    theirs = {**base, "activity": [{"progress": "c"}]}
    assert merge("CarePlan", base, mine, theirs).state == "needs-review"


@pytest.mark.parametrize(
    ("base", "mine", "theirs", "merged"),
    [
        ("requested", "in-progress", "accepted", "in-progress"),  # accepted -> in-progress
        ("requested", "accepted", "in-progress", "in-progress"),
        ("in-progress", "completed", "on-hold", "completed"),
        ("requested", "cancelled", "accepted", "cancelled"),
        ("in-progress", "completed", "cancelled", None),  # two terminal states
        ("in-progress", "on-hold", "completed", "completed"),
        ("ready", "entered-in-error", "in-progress", None),
    ],
)
def test_task_status_merges_by_the_state_machine(
    base: str, mine: str, theirs: str, merged: str | None
) -> None:
    task = {"resourceType": "Task", "id": "t", "intent": "order"}
    decision = merge(
        "Task", {**task, "status": base}, {**task, "status": mine}, {**task, "status": theirs}
    )
    if merged is None:
        assert decision.state == "needs-review" and decision.fields == ("status",)
        assert decision.reason == "Both you and someone else changed the task's status."
    else:
        assert decision.state in ("merged", "confirmed", CURRENT)
        assert (decision.body or {"status": theirs})["status"] == merged


def test_task_status_never_merges_by_clock() -> None:
    # whichever side arrives first, the answer is the same
    assert task_status("requested", "in-progress", "accepted") == "in-progress"
    assert task_status("requested", "accepted", "in-progress") == "in-progress"


def test_review_fields_ignore_meta_and_text() -> None:
    a = patient(text={"status": "generated", "div": "<div>a</div>"})
    b = patient(meta={"versionId": "7"}, telecom=PHONE)
    assert differing(a, b) == ("telecom",)


def test_a_result_encodes_only_what_it_says() -> None:
    encoded = Result(4, "k" * 16, "rejected", code="invalid", reason="Bad.").encode()
    assert encoded == (
        b'{"seq":4,"idempotency_key":"kkkkkkkkkkkkkkkk","state":"rejected",'
        b'"code":"invalid","reason":"Bad."}'
    )


def _isort_order(name: str) -> tuple[int, str]:
    """The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions."""
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


SERVER_MODULES = ("clock", "ingest", "lineage", "push", "replay", "resolution")
#: Modules the sync server shares with the device (moved out of bedside.sync, issue 15).
SHARED_MODULES = (
    "bedside.policy.conflicts",
    "bedside.protocol",
    "bedside.protocol.attachments",
    "bedside.protocol.event",
    "bedside.protocol.pull",
    "bedside.protocol.push",
    "bedside.protocol.results",
    "bedside.protocol.snapshot",
)


@pytest.mark.parametrize("name", [*SERVER_MODULES, "results", "review", *SHARED_MODULES])
def test_sync_server_modules_list_their_public_api(name: str) -> None:
    import importlib

    module = importlib.import_module(name if "." in name else f"bedside.sync.{name}")
    assert module.__all__ == sorted(module.__all__, key=_isort_order)
    assert all(hasattr(module, n) for n in module.__all__)
    public = {
        n
        for n, value in vars(module).items()
        if not n.startswith("_") and getattr(value, "__module__", None) == module.__name__
    }
    assert public <= set(module.__all__)
