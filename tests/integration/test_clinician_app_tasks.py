"""The Tasks screens over HTTP, in-process, on a real SQLCipher device home (issue 19).

"My tasks" (owned by the user or by nobody, for the device's patients), a patient's outstanding
Tasks, only the state machine's moves offered in words, a change saved on the device at once as
one signed update event based on the server version, and bad input answered with a sentence
and the typed text kept. The two-device merge and clash at sync are in test_task_sync.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from typing import Any

import pytest

from bedside.auth.keys import SigningKeys, load_or_create
from bedside.device.secret import ENV_KEYSTORE
from tests.integration._app_world import AppWorld, app_world
from tests.integration._outbox import settle, take

ME = "Practitioner/n1"  # the app world's nurse


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SigningKeys:
    return load_or_create(tmp_path_factory.mktemp("server"))


def task(tid: str, pid: str, status: str, text: str, owner: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "resourceType": "Task",
        "id": tid,
        "meta": {"versionId": "3"},
        "status": status,
        "intent": "order",
        "description": text,
        "for": {"reference": f"Patient/{pid}"},
        "authoredOn": "2027-01-14T09:00:00Z",
    }
    if owner:
        body["owner"] = {"reference": owner}
    return body


@pytest.fixture
def app(tmp_path: Path, keys: SigningKeys, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppWorld]:
    monkeypatch.setenv(ENV_KEYSTORE, "file")
    world = app_world(tmp_path / "home", keys)
    world.node.receive(
        [
            task("t-dress", "p1", "requested", "Change the wound dressing", ME),
            task("t-turn", "p1", "in-progress", "Turn every two hours"),
            task("t-other", "p1", "accepted", "Book the scan", "Practitioner/someone-else"),
            task("t-done", "p1", "completed", "Remove the cannula", ME),
            task("t-p2", "p2", "requested", "Check the blood sugar"),
        ]
    )
    yield world
    world.node.lock()


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def moves(html: str) -> list[str]:
    return re.findall(r'name="status" value="([a-z-]+)"', html)


def form(status: str = "keep", **fields: str) -> dict[str, str]:
    return {"patient": "p1", "status": status, **fields}


def test_my_tasks_are_mine_and_nobodys_for_my_patients(app: AppWorld) -> None:
    page = text(app.get("/tasks").text)
    for shown in ("Change the wound dressing", "Turn every two hours", "Check the blood sugar"):
        assert shown in page
    assert "Book the scan" not in page  # a colleague's
    assert "Remove the cannula" not in page  # done
    assert "Alba Quennell" in page and "Brin Ottaway" in page


def test_the_patients_tasks_list_outstanding_then_finished(app: AppWorld) -> None:
    page = text(app.get("/patients/p1/tasks").text)
    assert "To do (3)" in page and "Finished (1)" in page
    assert "Check the blood sugar" not in page  # another patient's
    assert 'href="/patients/p1/tasks"' in app.get("/patients/p1").text  # from the chart


def test_only_the_state_machines_moves_are_offered_in_words(app: AppWorld) -> None:
    requested = app.get("/patients/p1/tasks/t-dress").text
    assert moves(requested) == ["keep", "received", "accepted", "ready", "in-progress",
                                "rejected", "cancelled"]  # fmt: skip
    assert "Accept it" in requested and "Leave it requested, not yet accepted" in requested
    assert "Owner You" in text(requested)
    assert "Owner Nobody has taken it yet" in text(app.get("/patients/p1/tasks/t-turn").text)
    running = app.get("/patients/p1/tasks/t-turn").text
    assert moves(running) == ["keep", "completed", "on-hold", "failed", "cancelled"]
    assert "Mark as done" in running and "Put it on hold" in running
    done = text(app.get("/patients/p1/tasks/t-done").text)
    assert "its status cannot change any more" in done


def test_a_status_and_note_change_is_saved_on_the_device_at_once(app: AppWorld) -> None:
    answer = app.post(
        "/patients/p1/tasks/t-dress",
        form("accepted", description="Change the wound dressing", note="Dressing pack by bed 3"),
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/patients/p1/tasks"
    (event,) = app.node.outbox()
    assert (event.action, event.type, event.resource_id, event.state) == (
        "update", "Task", "t-dress", "pending",
    )  # fmt: skip
    assert event.event["base_version"] == "3"
    sent = event.event["resource"]
    assert sent["status"] == "accepted" and sent["note"] == [{"text": "Dressing pack by bed 3"}]
    assert "lastModified" not in sent  # two devices stamping it would clash at every merge
    page = text(app.get("/patients/p1/tasks").text)
    assert "Saved on device: Change the wound dressing" in page
    assert "Accepted, not started" in page and "saved on device" in page


def test_bad_input_is_a_sentence_and_nothing_is_saved(app: AppWorld) -> None:
    cases = [
        (form("completed"), 422, "cannot be changed to done"),  # requested → completed: no
        (form("cancelled", note="typed"), 422, "Say why"),
        (form(description="x" * 600), 422, "longer than 500 characters"),
        (form(), 422, "Nothing was changed"),
        ({**form("accepted"), "patient": "p2"}, 409, "another patient"),
    ]
    for data, status, said in cases:
        answer = app.post("/patients/p1/tasks/t-dress", data)
        assert answer.status_code == status, data
        assert said in text(answer.text)
    kept = app.post("/patients/p1/tasks/t-dress", form("cancelled", note="Family asked to wait"))
    assert "Family asked to wait" in kept.text  # what was typed stays in the form
    assert app.node.outbox() == []
    # a task of another patient under this patient's path is not shown
    assert app.get("/patients/p1/tasks/t-p2").status_code == 409


def test_read_only_mode_refuses_a_task_change(app: AppWorld) -> None:
    expires = app.node.status().snapshot_expires
    assert expires is not None
    app.clock.now = expires + 60
    app.unlock()
    assert "<fieldset disabled>" in app.get("/patients/p1/tasks/t-dress").text
    answer = app.post("/patients/p1/tasks/t-dress", form("accepted"))
    assert answer.status_code == 403 and "you can read but not record" in text(answer.text)
    assert app.node.outbox() == []


def test_a_needs_review_item_is_explained_and_kept_for_the_reviewer(app: AppWorld) -> None:
    app.post("/patients/p1/tasks/t-dress", form("accepted", note="Dressing pack by bed 3"))
    (taken,) = take(app.node, 1)
    reason = "Both you and someone else changed the task's note."
    settle(app.node, taken.seq, {"state": "needs-review", "reason": reason, "review": "r-1"})
    assert f'href="/sync/item/{taken.seq}"' in app.get("/sync").text
    page = text(app.get(f"/sync/item/{taken.seq}").text)
    assert reason in page and "is not in the patient's record yet" in page
    assert "Dressing pack by bed 3" in page and "Accepted, not started" in page  # what she entered
    assert "Keep it for the reviewer" in page and "Withdraw my change" in page
    kept = app.post(f"/sync/item/{taken.seq}", {"action": "keep"})
    assert kept.status_code == 303
    assert "kept it for the reviewer" in text(app.get(f"/sync/item/{taken.seq}").text)
    assert app.post(f"/sync/item/{taken.seq}", {"action": "shred"}).status_code == 422
    assert app.get("/sync/item/not-a-number").status_code == 409
    assert [e.state for e in app.node.outbox()] == ["needs-review"]  # still here
    # the task screen says its last change waits for review
    assert reason in text(app.get("/patients/p1/tasks/t-dress").text)
