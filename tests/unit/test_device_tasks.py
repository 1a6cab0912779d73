"""The Task moves the device offers (bedside.device.tasks): exactly the FHIR R4 Task state
machine's (the table sync merges by), each in words, none from a final state."""

from __future__ import annotations

from bedside.device.tasks import NEEDS_REASON, OUTSTANDING, STATUS_WORDS, choices
from bedside.policy.conflicts import task_next

FINAL = ("completed", "failed", "cancelled", "rejected", "entered-in-error")


def test_every_move_offered_is_one_the_state_machine_allows_and_all_of_them_are_offered() -> None:
    for status in STATUS_WORDS:
        offered = {s for s, _ in choices(status)}
        assert offered == set(task_next(status)), status
        assert all(words and words[0].isupper() for _, words in choices(status))


def test_a_final_task_offers_no_move_and_is_not_outstanding() -> None:
    for status in FINAL:
        assert choices(status) == ()
        assert status not in OUTSTANDING


def test_onward_moves_come_first_and_stopping_moves_need_a_reason() -> None:
    assert [s for s, _ in choices("in-progress")] == ["completed", "on-hold", "failed", "cancelled"]
    words = [w for _, w in choices("accepted")]
    assert words == ["Mark as ready to start", "Start it", "Cancel it"]
    assert frozenset({"on-hold", "rejected", "failed", "cancelled"}) == NEEDS_REASON
    assert choices("nonsense") == ()
