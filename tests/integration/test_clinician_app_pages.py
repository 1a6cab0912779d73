"""The clinician app over HTTP, in-process, on a real SQLCipher device home (issue 16).

What each screen shows and what each action writes, read back from the node: the NEWS2 set
(one Observation per reading and the total ``derivedFrom`` them, as one action), incomplete and
implausible sets, wrong-patient refusals, the idle lock keeping a draft, read-only mode, the
patient list and its POSTed search, and the outbox. The security wrapper (launch token, Host,
CSRF, headers) is in test_clinician_app_security.py; the browser story in tests/browser.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest

from bedside.auth.keys import SigningKeys, load_or_create
from bedside.clinical.news2_codes import is_total, parameter_of
from bedside.device import DeviceError
from bedside.device.secret import ENV_KEYSTORE
from tests.integration._app_world import COMPLETE, WARD, AppWorld, app_world, encounter
from tests.integration._device_world import OFFLINE
from tests.integration._outbox import settle, take


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SigningKeys:
    return load_or_create(tmp_path_factory.mktemp("server"))


@pytest.fixture
def app(tmp_path: Path, keys: SigningKeys, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppWorld]:
    monkeypatch.setenv(ENV_KEYSTORE, "file")
    world = app_world(tmp_path / "home", keys)
    yield world
    world.node.lock()


def text(html: str) -> str:
    """A page's visible words, tags stripped and spaces squeezed."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def observations(app: AppWorld, pid: str) -> list[dict]:
    return [i.resource for i in app.node.chart(pid, "Observation")]


def save(app: AppWorld, pid: str, fields: dict[str, str], patient: str | None = None):
    form = {**fields, "patient": patient or pid, "draft": ""}
    return app.post(f"/patients/{pid}/observe", form)


# --- recording NEWS2 ------------------------------------------------------------------------


def test_a_complete_set_saves_each_reading_and_the_total_derived_from_them(app: AppWorld) -> None:
    answer = save(app, "p1", COMPLETE)
    assert answer.status_code == 303 and answer.headers["location"] == "/patients/p1"
    saved = observations(app, "p1")
    totals = [o for o in saved if is_total(o)]
    readings = [o for o in saved if parameter_of(o) is not None]
    assert len(totals) == 1 and len(readings) == 7
    total = totals[0]
    assert total["valueInteger"] == 6
    assert sorted(r["reference"] for r in total["derivedFrom"]) == sorted(
        f"Observation/{o['id']}" for o in readings
    )
    assert all(o["subject"] == {"reference": "Patient/p1"} for o in saved)
    assert {i.local_state for i in app.node.chart("p1", "Observation")} == {"saved-on-device"}
    events = app.node.outbox()
    assert len(events) == 8 and {e.patient for e in events} == {"p1"}
    assert {e.state for e in events} == {"pending"}
    chart = text(app.get("/patients/p1").text)
    assert "Saved on device: NEWS2 6 (Medium risk: urgent response)" in chart
    assert "NEWS2 6 Medium risk: urgent response" in chart and "saved on device" in chart
    trend = text(app.get("/patients/p1/news2").text)
    assert "6 Medium risk: urgent response saved on device" in trend


@pytest.mark.parametrize(
    ("changes", "headline", "band"),
    [
        ({}, "NEWS2 6", "Medium risk: urgent response"),
        ({"respiration_rate": "8"}, "NEWS2 7", "High risk: emergency response"),
        (
            {"respiration_rate": "18", "systolic_bp": "120", "pulse": "80", "temperature": "37.0"},
            "NEWS2 1",
            "Low risk: ward response",
        ),
        (
            {"respiration_rate": "18", "spo2": "97", "systolic_bp": "120", "pulse": "80"}
            | {"temperature": "37.0", "consciousness": "new-confusion"},
            "NEWS2 3",
            "Low-medium risk: urgent ward response",
        ),
        (
            {"respiration_rate": "18", "spo2": "90", "spo2_scale": "2", "systolic_bp": "120"}
            | {"pulse": "80", "temperature": "37.0"},
            "NEWS2 0",
            "Low risk: routine monitoring",
        ),
        ({"temperature": "38.0", "respiration_rate": "20", "spo2": "96"}, "NEWS2 2", "Low risk"),
    ],
)
def test_the_live_score_is_the_rcp_chart(
    app: AppWorld, changes: dict[str, str], headline: str, band: str
) -> None:
    answer = app.post_json(
        "/patients/p1/observe/score", {"patient": "p1", "fields": {**COMPLETE, **changes}}
    )
    assert answer.status_code == 200
    assert answer.json()["headline"] == headline
    assert answer.json()["band_text"].startswith(band)


def test_an_incomplete_set_is_never_scored_and_is_saved_without_a_total(app: AppWorld) -> None:
    partial = {**COMPLETE, "consciousness": "", "air_or_oxygen": ""}
    scored = app.post_json("/patients/p1/observe/score", {"patient": "p1", "fields": partial})
    body = scored.json()
    assert body["headline"] == "NEWS2 incomplete" and body["complete"] is False
    assert body["band"] is None
    assert any("Air or oxygen and Consciousness not recorded" in p for p in body["problems"])
    assert body["fields"]["consciousness"]["score"] is None  # missing, not 0
    assert save(app, "p1", partial).status_code == 303
    saved = observations(app, "p1")
    assert len(saved) == 5 and not any(is_total(o) for o in saved)


def test_an_implausible_reading_is_refused_with_a_sentence_and_nothing_is_saved(
    app: AppWorld,
) -> None:
    wrong = {**COMPLETE, "pulse": "400", "temperature": "98.6"}
    scored = app.post_json("/patients/p1/observe/score", {"patient": "p1", "fields": wrong})
    fields = scored.json()["fields"]
    assert fields["pulse"]["message"].startswith("Pulse must be between 20 and 250")
    assert fields["temperature"]["message"].startswith("Temperature must be between 25.0 and 45.0")
    assert scored.json()["headline"] == "NEWS2 not scored"
    answer = save(app, "p1", wrong)
    assert answer.status_code == 422
    assert "Pulse must be between 20 and 250 beats per minute" in text(answer.text)
    assert observations(app, "p1") == [] and app.node.outbox() == []


def test_a_set_with_no_reading_at_all_is_not_saved(app: AppWorld) -> None:
    answer = save(app, "p1", {"spo2_scale": "1"})
    assert answer.status_code == 422 and "Enter at least one reading" in answer.text
    assert app.node.outbox() == []


# --- wrong patient ----------------------------------------------------------------------------


def test_a_form_for_another_patient_is_refused_before_anything_is_written(app: AppWorld) -> None:
    answer = save(app, "p1", COMPLETE, patient="p2")
    assert answer.status_code == 409
    assert "opened for another patient" in text(answer.text)
    draft = app.post_json("/patients/p1/observe/draft", {"patient": "p2", "fields": COMPLETE})
    assert draft.status_code == 409
    assert app.node.outbox() == [] and app.node.drafts() == []


def test_the_node_refuses_a_set_or_a_record_whose_subject_is_another_patient(
    app: AppWorld,
) -> None:
    other = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "Pulse"},
        "subject": {"reference": "Patient/p2"},
        "valueQuantity": {"value": 80},
    }
    with pytest.raises(DeviceError, match="another patient"):
        app.node.record_set([other], "p1")
    with pytest.raises(DeviceError, match="another patient"):
        app.node.record("create", other, "p1")
    assert app.node.outbox() == []


def test_a_record_is_shown_only_under_its_own_patients_banner(app: AppWorld) -> None:
    own = app.get("/patients/p1/item/Condition/c1-p1")
    assert own.status_code == 200 and "Alba Quennell" in own.text
    crossed = app.get("/patients/p1/item/Condition/c1-p2")
    assert crossed.status_code == 409
    assert "does not belong to the patient whose chart is open" in text(crossed.text)
    assert "Community-acquired pneumonia" not in crossed.text


# --- screens ----------------------------------------------------------------------------------


def test_the_patient_list_groups_wards_and_pins_and_searches_by_post(app: AppWorld) -> None:
    save(app, "p2", COMPLETE)
    page = text(app.get("/patients").text)
    assert page.index("Pinned (1) Cai Pemberton") < page.index(f"{WARD} (2)")
    assert "Alba Quennell 76 y, Female · Ward 7 · Bed 3 No NEWS2 recorded" in page
    assert "Brin Ottaway 76 y, Female · Ward 7 · Bed 4 NEWS2 6 Medium risk" in page
    assert "8 saved on device" in page
    found = text(app.post("/patients/search", {"q": "ottaway"}).text)
    assert "1 of your 3 patients match" in found and "Alba" not in found
    by_id = text(app.post("/patients/search", {"q": "MRN1001"}).text)
    assert "Alba Quennell" in by_id and "Brin" not in by_id
    nobody = text(app.post("/patients/search", {"q": "Stranger"}).text)
    assert "0 of your 3 patients match" in nobody
    ignored = text(app.get("/patients?q=ottaway").text)  # a URL never carries a search
    assert "Alba Quennell" in ignored and "match" not in ignored


def test_the_chart_summary_has_the_banner_and_every_section(app: AppWorld) -> None:
    page = text(app.get("/patients/p2").text)
    for words in (
        "Brin Ottaway",
        "Born 3 Feb 1950 (76 y)",
        "Sex Female",
        "Identifier MRN MRN1002",
        "Allergies: Penicillin",
        "Active problems Community-acquired pneumonia",
        "Active medications Amoxicillin 500 mg capsules 500 mg three times a day",
        "Allergies Penicillin",
        "Outstanding tasks Repeat chest X-ray scheduled",
        "Recent notes Ward round note",
        "Encounters inpatient encounter in progress",
    ):
        assert words in page, words
    item = text(app.get("/patients/p2/item/CarePlan/t1-p2").text)
    assert "Source Received from the server" in item and "Sync state from server" in item


def test_an_item_recorded_here_shows_its_provenance_and_sync_state(app: AppWorld) -> None:
    save(app, "p1", COMPLETE)
    total = next(o for o in observations(app, "p1") if is_total(o))
    page = text(app.get(f"/patients/p1/item/Observation/{total['id']}").text)
    assert "Source Recorded on this device" in page
    assert f"From device {app.node.info.device_id}" in page
    assert "Server time not yet on the server" in page and "Sync state saved on device" in page
    assert "Derived from" in page


def test_the_idle_lock_keeps_the_draft_and_the_unlock_brings_it_back(app: AppWorld) -> None:
    typed = {**COMPLETE, "temperature": "", "consciousness": ""}
    kept = app.post_json("/patients/p1/observe/draft", {"patient": "p1", "fields": typed})
    assert kept.status_code == 200 and kept.json()["draft"]
    app.clock.advance(OFFLINE.inactivity_seconds + 1)
    gone = app.get("/patients/p1/observe")
    assert gone.status_code == 303
    assert gone.headers["location"] == "/unlock?next=/patients/p1/observe"
    late = app.post_json("/patients/p1/observe/draft", {"patient": "p1", "fields": typed})
    assert late.status_code == 401 and late.json()["locked"] is True
    back = app.post("/unlock", {"pin": app.pin, "next": "/patients/p1/observe"})
    assert back.status_code == 303 and back.headers["location"] == "/patients/p1/observe"
    page = app.get("/patients/p1/observe").text
    assert "Your unsaved readings were kept as a draft" in page
    assert 'name="respiration_rate" type="text" inputmode="numeric" autocomplete="off" ' in page
    assert 'value="22"' in page and 'value="105"' in page
    draft = app.node.drafts("p1")[0].id
    answer = app.post("/patients/p1/observe", {**COMPLETE, "patient": "p1", "draft": draft})
    assert answer.status_code == 303
    assert app.node.drafts("p1") == []  # the save took the draft with it


def test_a_wrong_pin_says_how_many_attempts_are_left(app: AppWorld) -> None:
    app.post("/lock")
    wrong = app.post("/unlock", {"pin": "000000", "next": "/patients"})
    assert wrong.status_code == 401
    assert "That PIN is not right. 2 attempts are left" in text(wrong.text)
    for _ in range(2):
        last = app.post("/unlock", {"pin": "000000", "next": "/patients"})
    locked = text(last.text)
    assert "a PIN can no longer open it. Sign in online" in locked
    assert "bedside device unlock --online --home" in locked
    assert 'name="pin"' not in last.text


def test_read_only_mode_is_shown_on_every_page_and_refuses_to_record(app: AppWorld) -> None:
    expires = app.node.status().snapshot_expires
    assert expires is not None
    app.clock.now = expires + 60  # past exp, inside the grace: read-only
    app.unlock()
    for path in ("/patients", "/patients/p1", "/sync"):
        assert "Read-only: this device's offline access has expired" in text(app.get(path).text)
    form = app.get("/patients/p1/observe").text
    assert "<fieldset disabled>" in form and 'id="save" disabled' in form
    answer = save(app, "p1", COMPLETE)
    assert answer.status_code == 403 and "you can read but not record" in text(answer.text)
    assert app.node.outbox() == []


def test_the_outbox_lists_every_item_with_the_servers_reason(app: AppWorld) -> None:
    save(app, "p1", COMPLETE)
    taken = take(app.node, 8)
    first, *rest = taken
    reason = "This record cannot be accepted: the NEWS2 total does not match its observations."
    settle(app.node, first.seq, {"state": "rejected", "reason": reason, "code": "invalid"})
    for e in rest:
        settle(
            app.node, e.seq, {"state": "confirmed", "version": "1", "at": "2027-01-15T08:00:01Z"}
        )
    page = text(app.get("/sync").text)
    assert "Rejected (1)" in page and reason in page
    assert "Confirmed (7)" in page and "Waiting to be sent (0)" in page
    listing = text(app.get("/patients").text)
    assert "1 rejected" in listing
    chart = text(app.get("/patients/p1").text)
    assert "confirmed" in chart


def test_the_list_follows_every_change_to_a_patients_rows(app: AppWorld) -> None:
    """The board keeps each patient's facts between views; a local write, a pulled record or a
    move to another ward must show at the next view all the same."""
    assert "Alba Quennell 76 y, Female · Ward 7 · Bed 3 No NEWS2 recorded" in text(
        app.get("/patients").text
    )
    save(app, "p1", COMPLETE)
    assert "Alba Quennell 76 y, Female · Ward 7 · Bed 3 NEWS2 6 Medium risk" in text(
        app.get("/patients").text
    )
    newer = {
        "resourceType": "Observation",
        "id": "news2-from-server",
        "meta": {"versionId": "1"},
        "status": "final",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "1104051000000101"}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": "2099-01-01T08:00:00Z",
        "valueInteger": 1,
    }
    moved = encounter("p1", "Ward 9", "Bed 12")
    moved["meta"] = {"versionId": "2"}
    app.node.receive([newer, moved])
    page = text(app.get("/patients").text)
    assert "Ward 9 (1) Alba Quennell 76 y, Female · Ward 9 · Bed 12 NEWS2 1 Low risk" in page
    assert "Ward 7 (1) Brin Ottaway" in page


def test_old_data_says_how_old_it_is_and_the_strip_says_when_the_device_last_synced(
    app: AppWorld,
) -> None:
    save(app, "p1", COMPLETE)
    app.clock.advance(5 * 3600 + 60)
    app.unlock()  # the idle lock came long ago
    listing = text(app.get("/patients").text)
    assert (
        "Alba Quennell 76 y, Female · Ward 7 · Bed 3 NEWS2 6 Medium risk: urgent response 5 h ago"
        in listing
    )
    assert "Last sync: never" in listing and "8 waiting to sync" in listing
    chart = text(app.get("/patients/p1").text)
    assert "NEWS2 6 Medium risk: urgent response taken" in chart and ", 5 h ago" in chart


def test_pinning_needs_the_network_and_says_so_in_one_sentence(app: AppWorld) -> None:
    answer = app.post("/patients/p1/pin", {"patient": "p1", "action": "pin"})
    assert answer.status_code == 303 and answer.headers["location"] == "/patients/p1"
    page = text(app.get("/patients/p1").text)
    assert "Pinning needs the network, and the server cannot be reached now" in page
    assert "Pin to this device" in page  # nothing changed
    assert "Cai Pemberton" in text(app.get("/patients").text).split(WARD)[0]  # still the pin


def test_past_the_read_only_grace_the_device_locks_and_says_to_sign_in_online(
    app: AppWorld,
) -> None:
    status = app.node.status()
    assert status.read_only_until is not None
    app.clock.now = status.read_only_until + 60
    gone = app.get("/patients")
    assert gone.status_code == 303 and gone.headers["location"] == "/unlock"
    # the snapshot is inside the encrypted store: the PIN opens it and finds it run out
    tried = app.post("/unlock", {"pin": app.pin, "next": "/patients"})
    assert tried.status_code == 403
    for page in (tried.text, app.get("/unlock").text):
        assert "a PIN can no longer open it. Sign in online" in text(page)
        assert "Alba" not in page and 'name="pin"' not in page
    assert app.get("/patients").headers["location"] == "/unlock"
