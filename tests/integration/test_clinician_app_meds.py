"""Medication administration and escalation in the clinician app over HTTP, in-process, on a
real SQLCipher device home (issue 19): what each step shows and what it writes, read back from
the node and its outbox. The browser path is tests/browser/test_clinician_app_meds.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest

from bedside.auth.keys import SigningKeys, load_or_create
from bedside.device.secret import ENV_KEYSTORE
from tests.integration._app_world import COMPLETE, AppWorld, app_world

ORDER = "m1-p1"  # Amoxicillin 500 mg capsules, "500 mg three times a day" (no timing)
GIVE = {"patient": "p1", "outcome": "given", "dose": "500 mg", "route": "Oral", "time": "09:30"}


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
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def doses(app: AppWorld, pid: str = "p1") -> list[dict]:
    return [i.resource for i in app.node.chart(pid, "MedicationAdministration")]


def give(app: AppWorld, **changes: str):
    return app.post(f"/patients/p1/meds/{ORDER}", {**GIVE, **changes})


def test_the_chart_leads_to_the_active_orders_and_the_form_starts_from_the_order(
    app: AppWorld,
) -> None:
    assert "/patients/p1/meds" in app.get("/patients/p1").text
    listing = text(app.get("/patients/p1/meds").text)
    assert "Amoxicillin 500 mg capsules" in listing and "No doses recorded." in listing
    assert "24 hours, assumed: the order does not say how often" in listing
    form = app.get(f"/patients/p1/meds/{ORDER}")
    assert form.status_code == 200
    assert 'value="given" checked' in form.text and "Ordered: 500 mg three times a day" in text(
        form.text
    )


def test_the_confirm_step_shows_the_five_rights_and_writes_nothing(app: AppWorld) -> None:
    answer = app.post(f"/patients/p1/meds/{ORDER}/check", GIVE)
    assert answer.status_code == 200
    shown = text(answer.text)
    for right in (
        "Right patient Alba Quennell",
        "MRN MRN1001",
        "Right drug Amoxicillin 500 mg capsules",
        "Right dose 500 mg",
        "Right route Oral",
        "Right time",
    ):
        assert right in shown
    assert "Possible duplicate" not in shown
    assert doses(app) == [] and app.node.outbox() == []


def test_a_dose_given_is_saved_on_the_device_at_once_as_one_signed_event(app: AppWorld) -> None:
    answer = give(app)
    assert answer.status_code == 303 and answer.headers["location"] == "/patients/p1/meds"
    (dose,) = doses(app)
    assert dose["status"] == "completed"
    assert dose["request"] == {"reference": f"MedicationRequest/{ORDER}"}
    assert dose["performer"] == [{"actor": {"reference": "Practitioner/n1"}}]
    assert dose["context"] == {"reference": "Encounter/enc-p1"}
    assert dose["dosage"]["dose"] == {"value": 500, "unit": "mg"}
    assert dose["dosage"]["route"] == {"text": "Oral"}
    (event,) = app.node.outbox()
    assert (event.action, event.state, event.patient) == ("create", "pending", "p1")
    listing = text(app.get("/patients/p1/meds").text)
    assert "Saved on device: Amoxicillin 500 mg capsules, given at 09:30" in listing
    assert "Given 500 mg" in listing and "saved on device" in listing


def test_a_second_dose_inside_the_interval_is_warned_and_needs_an_explicit_check(
    app: AppWorld,
) -> None:
    give(app)
    confirm = text(app.post(f"/patients/p1/meds/{ORDER}/check", {**GIVE, "time": "10:00"}).text)
    assert "Possible duplicate: Amoxicillin 500 mg capsules was already given" in confirm
    assert "recorded on this device and not yet on the server" in confirm  # still in the outbox
    assert "Save anyway" in confirm
    refused = give(app, time="10:00")  # the box not ticked: nothing saved, warned again
    assert refused.status_code == 409 and "Possible duplicate" in refused.text
    assert len(doses(app)) == 1
    saved = give(app, time="10:00", checked_duplicate="yes")
    assert saved.status_code == 303 and len(doses(app)) == 2


def test_not_given_needs_a_reason_and_is_never_a_duplicate(app: AppWorld) -> None:
    give(app)
    missing = app.post(
        f"/patients/p1/meds/{ORDER}/check", {"patient": "p1", "outcome": "not-given"}
    )
    assert missing.status_code == 422 and "Choose why the dose was not given." in missing.text
    assert (
        "Possible duplicate"
        not in app.post(
            f"/patients/p1/meds/{ORDER}/check",
            {"patient": "p1", "outcome": "not-given", "reason": "refused", "time": "10:00"},
        ).text
    )
    answer = give(app, outcome="not-given", reason="refused", time="10:00")
    assert answer.status_code == 303
    refused = next(d for d in doses(app) if d["status"] == "not-done")
    assert refused["statusReason"][0]["text"] == "Patient refused" and "dosage" not in refused
    held = give(app, outcome="held", time="10:05")
    assert held.status_code == 303
    assert sorted(d["status"] for d in doses(app)) == ["completed", "not-done", "on-hold"]


def test_entered_in_error_is_a_new_version_through_the_outbox_never_an_edit(
    app: AppWorld,
) -> None:
    give(app)
    (dose,) = doses(app)
    no_reason = app.post(f"/patients/p1/meds/given/{dose['id']}/error", {"patient": "p1"})
    assert no_reason.status_code == 422 and "Say why this record is wrong" in no_reason.text
    answer = app.post(
        f"/patients/p1/meds/given/{dose['id']}/error",
        {"patient": "p1", "reason": "wrong time"},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/patients/p1/meds/{ORDER}"  # record the right one
    (marked,) = doses(app)
    assert marked["id"] == dose["id"] and marked["status"] == "entered-in-error"
    assert marked["note"] == [{"text": "Entered in error: wrong time"}]
    assert marked["dosage"] == dose["dosage"]  # nothing else changed
    events = app.node.outbox()
    assert [e.action for e in events] == ["create", "correct"]
    assert events[1].event["base_version"] == f"pending:{events[0].seq}"
    again = app.post(
        f"/patients/p1/meds/given/{dose['id']}/error", {"patient": "p1", "reason": "twice"}
    )
    assert again.status_code == 409 and len(app.node.outbox()) == 2
    # the corrected dose no longer counts: the right one is not warned as a duplicate
    confirm = app.post(f"/patients/p1/meds/{ORDER}/check", {**GIVE, "time": "09:45"})
    assert "Possible duplicate" not in confirm.text
    listing = text(app.get("/patients/p1/meds").text)
    assert "Entered in error" in listing and "wrong time" in listing


def test_wrong_patient_and_another_patients_records_are_refused(app: AppWorld) -> None:
    wrong = give(app, patient="p2")
    assert wrong.status_code == 409 and doses(app) == [] and doses(app, "p2") == []
    assert app.get("/patients/p2/meds/m1-p1").status_code == 409  # p1's order under p2
    give(app)
    (dose,) = doses(app)
    assert app.get(f"/patients/p2/meds/given/{dose['id']}/error").status_code == 409


def test_bad_input_is_a_sentence_and_nothing_is_lost(app: AppWorld) -> None:
    answer = give(app, dose="a lot", time="half nine")
    assert answer.status_code == 422
    assert "as a number and a unit" in answer.text and "hours and minutes" in answer.text
    assert 'value="a lot"' in answer.text  # what was typed is still there
    assert doses(app) == []


def test_a_medium_news2_puts_escalation_first_and_the_concern_carries_it(app: AppWorld) -> None:
    app.post("/patients/p1/observe", {**COMPLETE, "patient": "p1", "draft": ""})  # NEWS2 6
    chart = app.get("/patients/p1")
    assert 'id="escalate-now"' in chart.text
    assert "NEWS2 6: Medium risk: urgent response" in text(chart.text)
    assert "escalate it to the team" in text(chart.text)
    total = next(
        i for i in app.node.chart("p1", "Observation") if i.resource.get("valueInteger") == 6
    )
    form = app.get("/patients/p1/escalate")
    assert f'name="news2" value="{total.id}" checked' in form.text
    empty = app.post("/patients/p1/escalate", {"patient": "p1", "news2": total.id})
    assert empty.status_code == 422 and "Write what worries you" in empty.text
    sent = app.post(
        "/patients/p1/escalate",
        {"patient": "p1", "news2": total.id, "message": "Breathing faster, new fever"},
    )
    assert sent.status_code == 303
    (concern,) = [i.resource for i in app.node.chart("p1", "Communication")]
    assert concern["reasonReference"] == [{"reference": f"Observation/{total.id}"}]
    assert concern["priority"] == "urgent" and concern["status"] == "completed"
    assert concern["payload"] == [{"contentString": "Breathing faster, new fever"}]
    assert concern["sender"] == {"reference": "Practitioner/n1"}
    assert concern["encounter"] == {"reference": "Encounter/enc-p1"}
    assert app.node.outbox()[-1].type == "Communication"
    after = app.get("/patients/p1")
    assert "Concern saved on device" in text(after.text) and "phone them" in text(after.text)
    assert 'id="escalate-now"' not in after.text  # escalated: the prompt goes


def test_a_low_news2_does_not_prompt_but_a_concern_can_still_be_raised(app: AppWorld) -> None:
    calm = {**COMPLETE, "respiration_rate": "18", "spo2": "97", "systolic_bp": "120"}
    calm |= {"pulse": "80", "temperature": "37.0"}
    app.post("/patients/p1/observe", {**calm, "patient": "p1", "draft": ""})
    assert 'id="escalate-now"' not in app.get("/patients/p1").text
    sent = app.post(  # an id that is no NEWS2 of this patient is not referenced
        "/patients/p1/escalate", {"patient": "p1", "news2": "c1-p1", "message": "Family worried"}
    )
    assert sent.status_code == 303
    (concern,) = [i.resource for i in app.node.chart("p1", "Communication")]
    assert concern["priority"] == "routine" and "reasonReference" not in concern
