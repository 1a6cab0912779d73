"""Notes and sign-off in the clinician app over HTTP, in-process, on a real SQLCipher home
(issue 19): the draft kept by the autosave and by "Save draft", brought back on the same
patient (also after the idle lock), listed on the chart, finished through the outbox as a
progress note; bad input answered with a sentence; and sign-off offered, and accepted, only when
the device's policy snapshot lets its user update the document (a nurse never sees it)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest

from bedside.auth.keys import SigningKeys, load_or_create
from bedside.device.app.signoff import CHECKED_AT_SYNC
from bedside.device.notes import MAX_NOTE, is_note_draft, note_text
from bedside.device.secret import ENV_KEYSTORE
from tests.integration._app_world import AppWorld, app_world
from tests.integration._device_world import OFFLINE


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SigningKeys:
    return load_or_create(tmp_path_factory.mktemp("server"))


@pytest.fixture
def nurse(tmp_path: Path, keys: SigningKeys, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppWorld]:
    monkeypatch.setenv(ENV_KEYSTORE, "file")
    world = app_world(tmp_path / "home", keys)
    yield world
    world.node.lock()


@pytest.fixture
def doctor(
    tmp_path: Path, keys: SigningKeys, monkeypatch: pytest.MonkeyPatch
) -> Iterator[AppWorld]:
    monkeypatch.setenv(ENV_KEYSTORE, "file")
    world = app_world(tmp_path / "doctor", keys, role="doctor")
    yield world
    world.node.lock()


def text(html: str) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def form_value(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    return found.group(1) if found else ""


def autosave(app: AppWorld, pid: str, words: str, **more: str):
    return app.post_json(f"/patients/{pid}/notes/draft", {"patient": pid, "text": words, **more})


def note_drafts(app: AppWorld, pid: str) -> list:
    return [d for d in app.node.drafts(pid) if is_note_draft(d.resource)]


def notes(app: AppWorld, pid: str) -> list[dict]:
    return [
        i.resource
        for i in app.node.chart(pid, "DocumentReference")
        if i.resource.get("docStatus") == "preliminary" and note_text(i.resource)
    ]


def test_the_autosave_keeps_one_draft_per_form_and_it_comes_back_on_the_same_patient(
    nurse: AppWorld,
) -> None:
    page = nurse.get("/patients/p1/notes/new")
    assert page.status_code == 200 and 'id="note-form"' in page.text
    key = form_value(page.text, "key")
    first = autosave(nurse, "p1", "Settled overnight.", key=key)
    assert first.status_code == 200 and "Draft kept on this device" in first.json()["message"]
    # a second tick sent before the first answer came back (no draft id yet): the same draft
    second = autosave(nurse, "p1", "Settled overnight. Eating well.", key=key)
    assert second.json()["draft"] == first.json()["draft"]
    (draft,) = note_drafts(nurse, "p1")
    assert note_text(draft.resource) == "Settled overnight. Eating well."
    assert note_drafts(nurse, "p2") == []

    again = nurse.get("/patients/p1/notes/new").text
    assert "Your unfinished note was kept as a draft" in again
    assert "Settled overnight. Eating well.</textarea>" in again
    assert form_value(again, "draft") == draft.id
    assert "Settled overnight" not in nurse.get("/patients/p2/notes/new").text
    chart = text(nurse.get("/patients/p1").text)
    assert "Unfinished notes (drafts on this device)" in chart
    assert "Continue: Progress note Settled overnight. Eating well." in chart


def test_finishing_records_a_progress_note_through_the_outbox_and_the_draft_goes(
    nurse: AppWorld,
) -> None:
    kept = autosave(nurse, "p1", "Chest clearer.").json()["draft"]
    answer = nurse.post(
        "/patients/p1/notes",
        {
            "patient": "p1",
            "draft": kept,
            "title": "Evening review",
            "text": "Chest clearer.\r\nPlan: continue antibiotics.",
            "intent": "finish",
        },
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/patients/p1"
    assert note_drafts(nurse, "p1") == []
    (note,) = notes(nurse, "p1")
    assert note["status"] == "current" and note["docStatus"] == "preliminary"
    assert note["type"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "11506-3",
        "display": "Progress note",
    }
    assert note["content"][0]["attachment"]["contentType"] == "text/plain"
    assert note_text(note) == "Chest clearer.\nPlan: continue antibiotics."
    assert note["subject"] == {"reference": "Patient/p1"}
    assert note["author"] == [{"reference": "Practitioner/n1"}]
    assert note["description"] == "Evening review"
    (event,) = [e for e in nurse.node.outbox() if e.resource_id == note["id"]]
    assert event.action == "create" and event.state == "pending"
    chart = text(nurse.get("/patients/p1").text)
    assert "Saved on device: Evening review" in chart
    assert "Evening review" in chart and "Unfinished notes" not in chart


def test_save_draft_without_script_and_discard(nurse: AppWorld) -> None:
    form = {"patient": "p2", "draft": "", "key": "k1", "title": "", "text": "Half a thought"}
    answer = nurse.post("/patients/p2/notes", {**form, "intent": "draft"})
    assert answer.status_code == 303
    (draft,) = note_drafts(nurse, "p2")
    assert note_text(draft.resource) == "Half a thought"
    assert notes(nurse, "p2") == []  # nothing recorded
    gone = nurse.post("/patients/p2/notes", {**form, "draft": draft.id, "intent": "discard"})
    assert gone.status_code == 303 and note_drafts(nurse, "p2") == []


def test_bad_input_is_a_sentence_and_keeps_the_text(nurse: AppWorld) -> None:
    empty = nurse.post("/patients/p1/notes", {"patient": "p1", "text": "  ", "intent": "finish"})
    assert empty.status_code == 422 and "Write the note before finishing it" in empty.text
    long = "x" * (MAX_NOTE + 1)
    too = nurse.post("/patients/p1/notes", {"patient": "p1", "text": long, "intent": "finish"})
    assert too.status_code in (413, 422)
    tick = autosave(nurse, "p1", long)
    assert tick.status_code in (413, 422)
    other = nurse.post(
        "/patients/p1/notes", {"patient": "p2", "text": "Wrong bed", "intent": "finish"}
    )
    assert other.status_code == 409 and "another patient" in other.text
    assert "Wrong bed</textarea>" in other.text  # nothing typed is thrown away
    wrong = nurse.post_json("/patients/p1/notes/draft", {"patient": "p2", "text": "x"})
    assert wrong.status_code == 409
    assert notes(nurse, "p1") == [] and note_drafts(nurse, "p1") == []


def test_the_idle_lock_keeps_the_last_tick_and_the_note_comes_back(nurse: AppWorld) -> None:
    assert autosave(nurse, "p1", "Typed before the lock").status_code == 200
    nurse.clock.advance(OFFLINE.inactivity_seconds + 1)
    late = autosave(nurse, "p1", "Typed after the lock")
    assert late.status_code == 401 and late.json()["locked"] is True
    back = nurse.post("/unlock", {"pin": nurse.pin, "next": "/patients/p1/notes/new"})
    assert back.status_code == 303
    page = nurse.get("/patients/p1/notes/new").text
    assert "Typed before the lock</textarea>" in page


def test_a_nurse_never_sees_sign_off_and_a_post_from_her_is_refused(nurse: AppWorld) -> None:
    chart = nurse.get("/patients/p1").text
    assert "Write a note" in chart and "Sign off" not in chart
    page = nurse.get("/patients/p1/sign-off/DocumentReference/d1-p1")
    assert page.status_code == 200
    assert 'type="submit">Sign off' not in page.text and "Ward round note" in page.text
    refused = nurse.post("/patients/p1/sign-off/DocumentReference/d1-p1", {"patient": "p1"})
    assert refused.status_code == 403 and "does not include signing" in refused.text
    doc = nurse.node.read("DocumentReference", "d1-p1").resource
    assert doc.get("docStatus") != "final"


def test_a_doctor_signs_off_offline_and_is_told_it_is_checked_at_sync(doctor: AppWorld) -> None:
    chart = text(doctor.get("/patients/p1").text)
    assert "Sign off: Ward round note" in chart
    page = doctor.get("/patients/p1/sign-off/DocumentReference/d1-p1").text
    assert "You are offline." in text(page) and CHECKED_AT_SYNC in text(page)
    answer = doctor.post("/patients/p1/sign-off/DocumentReference/d1-p1", {"patient": "p1"})
    assert answer.status_code == 303
    doc = doctor.node.read("DocumentReference", "d1-p1").resource
    assert doc["docStatus"] == "final"
    assert doc["authenticator"] == {"reference": "Practitioner/d1"}
    (event,) = [e for e in doctor.node.outbox() if e.resource_id == "d1-p1"]
    assert event.action == "update"
    after = text(doctor.get("/patients/p1").text)
    assert "Signed off on this device: Ward round note. This sign-off will be checked" in after
    assert "Sign off: Ward round note" not in after  # never twice from this device
    assert "Ward round note signed off" in after  # the recent notes line says so
    twice = doctor.post("/patients/p1/sign-off/DocumentReference/d1-p1", {"patient": "p1"})
    assert twice.status_code == 409 and "already signed off" in twice.text
    assert len([e for e in doctor.node.outbox() if e.resource_id == "d1-p1"]) == 1


def test_a_sign_off_is_refused_for_another_patient_or_a_type_that_is_not_a_document(
    doctor: AppWorld,
) -> None:
    under = doctor.get("/patients/p2/sign-off/DocumentReference/d1-p1")
    assert under.status_code == 409 and "does not belong to the patient" in under.text
    odd = doctor.get("/patients/p1/sign-off/Condition/c1-p1")
    assert odd.status_code == 409 and "Only a note or a discharge summary" in odd.text
    wrong = doctor.post("/patients/p1/sign-off/DocumentReference/d1-p1", {"patient": "p2"})
    assert wrong.status_code == 409
    assert doctor.node.read("DocumentReference", "d1-p1").resource.get("docStatus") is None


def test_read_only_refuses_to_finish_or_sign_but_keeps_the_note_as_a_draft(
    doctor: AppWorld,
) -> None:
    expires = doctor.node.status().snapshot_expires
    assert expires is not None
    doctor.clock.now = expires + 60  # past exp, inside the grace: read-only
    doctor.unlock()
    form = {"patient": "p1", "text": "Reviewed, for discharge tomorrow.", "intent": "finish"}
    answer = doctor.post("/patients/p1/notes", form)
    assert answer.status_code == 403 and "you can read but not record" in text(answer.text)
    (draft,) = note_drafts(doctor, "p1")  # nothing typed is lost
    assert note_text(draft.resource) == "Reviewed, for discharge tomorrow."
    assert form_value(answer.text, "draft") == draft.id
    signing = doctor.post("/patients/p1/sign-off/DocumentReference/d1-p1", {"patient": "p1"})
    assert signing.status_code == 403
    assert doctor.node.outbox() == []
