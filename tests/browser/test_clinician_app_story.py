"""The ward round (issue 16, "Done when"), in Debian's Chromium against the real processes.

A nurse's device is enrolled against a real `bedside serve` holding three patients on her care
team; `bedside device app` starts on it; she unlocks; **the server is killed**. She opens each
patient and records a NEWS2 set, and the score the page shows is the RCP chart's; each item is
"saved on device" in the chart and in the NEWS2 chart. A second tab on another patient is
called out before she saves. Halfway through the third set she stops typing: the device locks
itself, the screen goes to the unlock page, and after the PIN the readings are back. With the
server still down "Sync now" says it needs the network; the server comes back, she syncs from
the app, and the states turn "confirmed". On the server there are exactly those Observations,
the NEWS2 totals ``derivedFrom`` their readings, each with a Provenance naming the device.

Every screen is checked by axe-core and photographed at 390 and 1280 px into docs/img/.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from bedside.clinical.news2 import Consciousness, News2Inputs, SpO2Scale
from bedside.clinical.news2_fhir import build_observations
from bedside.device import Node
from tests.browser._app import AppProcess, axe_check, every_width
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, enroll_phone, restart
from tests.integration.test_device_cli import PIN

POLICY = Path(__file__).resolve().parents[2] / "src" / "bedside" / "policy" / "default.toml"
IDLE_SECONDS = 60  # the policy below: inactivity_minutes = 1
NEWS2_TOTAL = "1104051000000101"


@dataclass(frozen=True)
class Bed:
    name: str
    given: str
    family: str
    bed: str
    readings: dict[str, str]  # label -> value typed or chosen
    scores: dict[str, int]  # field key -> the RCP score of that reading
    total: int
    band: str


#: Three sets, scored by hand from the RCP 2017 chart (docs/news2.md).
BEDS = (
    Bed(
        "Aoife Brennan",
        "Aoife",
        "Brennan",
        "Bed 1",
        {"Respiration rate": "22", "SpO2": "95", "SpO2 scale": "1", "Air or oxygen": "air"}
        | {"Systolic blood pressure": "105", "Pulse": "95", "Consciousness": "alert"}
        | {"Temperature": "38.5"},
        {"respiration_rate": 2, "spo2": 1, "air_or_oxygen": 0, "systolic_bp": 1, "pulse": 1}
        | {"consciousness": 0, "temperature": 1},
        6,
        "Medium risk: urgent response",
    ),
    Bed(
        "Bertie Okafor",
        "Bertie",
        "Okafor",
        "Bed 2",
        {"Respiration rate": "18", "SpO2": "97", "SpO2 scale": "1", "Air or oxygen": "air"}
        | {"Systolic blood pressure": "125", "Pulse": "80", "Consciousness": "new-confusion"}
        | {"Temperature": "37.0"},
        {"respiration_rate": 0, "spo2": 0, "air_or_oxygen": 0, "systolic_bp": 0, "pulse": 0}
        | {"consciousness": 3, "temperature": 0},
        3,
        "Low-medium risk: urgent ward response",
    ),
    Bed(
        "Cerys Vaughan",
        "Cerys",
        "Vaughan",
        "Bed 3",
        {"Respiration rate": "26", "SpO2": "97", "SpO2 scale": "2", "Air or oxygen": "oxygen"}
        | {"Systolic blood pressure": "90", "Pulse": "131", "Consciousness": "voice"}
        | {"Temperature": "39.1"},
        {"respiration_rate": 3, "spo2": 3, "air_or_oxygen": 2, "systolic_bp": 3, "pulse": 3}
        | {"consciousness": 3, "temperature": 2},
        19,
        "High risk: emergency response",
    ),
)
SELECTS = ("SpO2 scale", "Air or oxygen", "Consciousness")
ALERT = Consciousness.ALERT


@dataclass
class Ward:
    smart: Smart
    username: str
    patients: dict[str, str]  # name -> id
    history: set[str]  # the earlier Observations of the first patient, on the server


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    policy = tmp_path_factory.mktemp("policy") / "policy.toml"
    text = POLICY.read_text("utf-8")
    policy.write_text(text.replace("inactivity_minutes = 5", "inactivity_minutes = 1"))
    with smart_server(tmp_path_factory, "sqlite", "--policy", str(policy)) as s:
        shutil.copy(policy, s.server.data_dir / "policy.toml")  # and after a restart
        yield s


@pytest.fixture
def ward(smart: Smart) -> Ward:
    """A nurse on the care team of three patients on Ward 7, each in a bed."""
    practitioner = smart.create({"resourceType": "Practitioner", "name": [{"family": "Nurse"}]})
    username = f"nurse-{int(time.time() * 1000) % 10**8}"
    smart.add_user(username, "nurse", f"Practitioner/{practitioner}")
    patients = {}
    for n, bed in enumerate(BEDS):
        pid = smart.create(
            {
                "resourceType": "Patient",
                "identifier": [
                    {"use": "usual", "type": {"text": "MRN"}, "value": f"MRN70{n + 1:02d}"}
                ],
                "name": [{"use": "official", "family": bed.family, "given": [bed.given]}],
                "gender": ("female", "male", "female")[n],
                "birthDate": ("1941-05-17", "1958-09-02", "1973-12-24")[n],
            }
        )
        patients[bed.name] = pid
        smart.create(
            {
                "resourceType": "CareTeam",
                "status": "active",
                "subject": {"reference": f"Patient/{pid}"},
                "participant": [{"member": {"reference": f"Practitioner/{practitioner}"}}],
            }
        )
        smart.create(
            {
                "resourceType": "Encounter",
                "status": "in-progress",
                "class": {"code": "IMP", "display": "inpatient encounter"},
                "subject": {"reference": f"Patient/{pid}"},
                "period": {"start": "2026-11-20T09:00:00Z"},
                "location": [
                    {"location": {"display": "Ward 7"}, "status": "active"},
                    {"location": {"display": bed.bed}, "status": "active"},
                ],
            }
        )
    smart.create(
        {
            "resourceType": "AllergyIntolerance",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"text": "Penicillin"},
            "patient": {"reference": f"Patient/{patients[BEDS[0].name]}"},
        }
    )
    first = patients[BEDS[0].name]
    smart.create(
        {
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"code": "active"}]},
            "code": {"text": "Community-acquired pneumonia"},
            "subject": {"reference": f"Patient/{first}"},
            "onsetDateTime": "2026-11-19",
        }
    )
    smart.create(
        {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": {"text": "Clarithromycin 500 mg tablets"},
            "dosageInstruction": [{"text": "500 mg twice a day"}],
            "subject": {"reference": f"Patient/{first}"},
        }
    )
    earlier = [
        history(smart, first, hours, inputs)
        for hours, inputs in (
            (12, News2Inputs(18, 96, SpO2Scale.SCALE_1, False, 128, 84, ALERT, Decimal("37.2"))),
            (6, News2Inputs(21, 95, SpO2Scale.SCALE_1, False, 112, 92, ALERT, Decimal("37.9"))),
        )
    ]
    return Ward(smart, username, patients, set().union(*earlier))


def history(smart: Smart, pid: str, hours: float, inputs: News2Inputs) -> set[str]:
    """An earlier NEWS2 set on the server (a transaction: the total refers to its readings by
    their entries); the ids the server gave them."""
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - hours * 3600))
    made = build_observations(inputs, patient=pid, effective=when)
    entries = []
    for resource in made.all():
        body = {k: v for k, v in resource.items() if k != "id"}
        if "derivedFrom" in body:
            body["derivedFrom"] = [
                {"reference": "urn:uuid:" + r["reference"].split("/", 1)[1]}
                for r in body["derivedFrom"]
            ]
        entries.append(
            {
                "fullUrl": f"urn:uuid:{resource['id']}",
                "resource": body,
                "request": {"method": "POST", "url": "Observation"},
            }
        )
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    with smart.fhir_client(smart.operator_token) as c:
        answer = c.post("", json=bundle, headers={"Content-Type": "application/fhir+json"})
    assert answer.status_code == 200, answer.text
    locations = [e["response"]["location"] for e in answer.json()["entry"]]
    return {loc.split("Observation/", 1)[1].split("/", 1)[0] for loc in locations}


def fill(page: Page, readings: dict[str, str]) -> None:
    for label, value in readings.items():
        field = page.get_by_label(label, exact=True)
        if label in SELECTS:
            field.select_option(value)
        else:
            field.fill(value)


def open_patient(page: Page, base: str, name: str) -> None:
    page.goto(f"{base}/patients")
    page.get_by_role("link", name=name).click()
    expect(page.locator(".banner h1")).to_have_text(name)


def state_of_news2(page: Page) -> str:
    """The sync state shown next to the NEWS2 line of the chart's vital signs."""
    line = page.locator("#s-vitals ~ ul li", has_text="NEWS2").first
    return line.locator(".state").inner_text()


def test_a_ward_round_offline_then_synced_from_the_app(
    browser: Browser, ward: Ward, tmp_path: Path
) -> None:
    smart = ward.smart
    home = tmp_path / "home"
    first = ward.patients[BEDS[0].name]
    phone = enroll_phone(smart, ward.username, home, first)
    phone.sync_until(lambda: {p.id for p in phone.node.patients()} >= set(ward.patients.values()))
    phone.node.lock()  # the app process opens the home next
    OPENED.remove(phone.node)
    app = AppProcess.start(home, extra=("--sync-every", "60"))
    base = app.base
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    try:
        page.goto(app.url)
        expect(page.get_by_label("PIN")).to_be_visible()
        every_width(page, "unlock")
        page.get_by_label("PIN").fill(PIN)
        page.get_by_role("button", name="Unlock").click()
        page.wait_for_url(f"{base}/patients")
        for bed in BEDS:
            expect(page.get_by_role("link", name=bed.name)).to_be_visible()
        expect(page.locator(".group h2").first).to_contain_text("Ward 7")

        smart.server.process.kill()  # the server goes away for the whole round
        smart.server.process.wait(timeout=30)
        expect(page.locator('#strip [data-field="online"]')).to_have_text("Offline", timeout=45_000)

        for n, bed in enumerate(BEDS):
            open_patient(page, base, bed.name)
            if n == 0:
                expect(page.locator(".allergy")).to_have_text("!Allergies: Penicillin")
            page.get_by_role("link", name="Record observations").first.click()
            other = None
            if n == 0:  # a colleague's tab on another patient, in the same browser
                other = context.new_page()
                other.goto(f"{base}/patients/{ward.patients[BEDS[1].name]}")
                expect(page.locator("#other-patient")).to_be_visible()
            if n == 2:  # interrupted: half the set typed, then nothing for the idle time
                fill(page, dict(list(bed.readings.items())[:4]))
                expect(page.locator("#o-spo2")).to_have_text("Score 3")
                page.wait_for_url(re.compile(r"/unlock\?next="), timeout=(IDLE_SECONDS + 40) * 1000)
                assert bed.name not in page.inner_text("body")  # nothing of her left on screen
                axe_check(page, "unlock after the idle lock")
                page.get_by_label("PIN").fill(PIN)
                page.get_by_role("button", name="Unlock").click()
                expect(
                    page.get_by_text("Your unsaved readings were kept as a draft")
                ).to_be_visible()
                expect(page.get_by_label("Respiration rate", exact=True)).to_have_value("26")
                expect(page.get_by_label("SpO2 scale", exact=True)).to_have_value("2")
                expect(page.get_by_label("Air or oxygen", exact=True)).to_have_value("oxygen")
            fill(page, bed.readings)
            for key, score in bed.scores.items():
                expect(page.locator(f"#o-{key}")).to_have_text(f"Score {score}")
            expect(page.locator("#news2-headline")).to_have_text(f"NEWS2 {bed.total}")
            expect(page.locator("#news2-band")).to_have_text(bed.band)
            if n == 0:
                every_width(page, "observe")
            page.get_by_role("button", name="Save observations").click()
            if other is not None:  # she is asked, plainly, before the write
                expect(page.locator("#confirm-patient")).to_be_visible()
                page.get_by_role("button", name=f"Save for {bed.name}").click()
                other.close()
            expect(page.locator(".flash")).to_contain_text(
                f"Saved on device: NEWS2 {bed.total} ({bed.band})"
            )
            assert state_of_news2(page) == "saved on device"
            if n == 0:
                every_width(page, "chart")
            page.get_by_role("link", name="NEWS2 chart").click()
            newest = page.locator("table.sets tbody tr").first
            expect(newest).to_contain_text(f"{bed.total} {bed.band}")
            expect(newest.locator(".state")).to_have_text("saved on device")
            if n == 0:
                every_width(page, "news2-chart")

        every_width(page, "patients", f"{base}/patients")  # scores and "8 saved on device"
        expect(page.locator(".card", has_text=BEDS[2].name)).to_contain_text("8 saved on device")
        every_width(page, "section", f"{base}/patients/{first}/section/vitals")
        open_patient(page, base, BEDS[0].name)
        page.locator("#s-vitals ~ ul li a", has_text="NEWS2").first.click()
        expect(page.get_by_text("Recorded on this device")).to_be_visible()
        every_width(page, "item")
        page.goto(f"{base}/sync")
        expect(page.locator("#o-3")).to_have_text("Waiting to be sent (24)")
        every_width(page, "outbox")
        page.get_by_role("button", name="Sync now").click()
        expect(page.locator("#sync-message")).to_contain_text("Sync needs the network")
        open_patient(page, base, BEDS[1].name)  # the other online-only action says so too
        page.get_by_role("button", name="Pin to this device").click()
        expect(page.locator(".flash")).to_contain_text("Pinning needs the network")
        page.goto(f"{base}/sync")

        restart(smart)
        page.get_by_role("button", name="Sync now").click()
        expect(page.locator("#sync-message")).to_contain_text(
            "Sync finished: 24 sent, 24 confirmed", timeout=60_000
        )
        page.wait_for_load_state("load")
        expect(page.locator("#o-4")).to_have_text("Confirmed (24)", timeout=15_000)
        expect(page.locator("#o-3")).to_have_text("Waiting to be sent (0)")
        every_width(page, "synced")
        for bed in BEDS:
            open_patient(page, base, bed.name)
            assert state_of_news2(page) == "confirmed"
            page.get_by_role("link", name="NEWS2 chart").click()
            expect(page.locator("table.sets tbody tr").first.locator(".state")).to_have_text(
                "confirmed"
            )
    finally:
        context.close()
        app.stop()

    node = Node(home)
    node.unlock(PIN)
    try:
        events = node.outbox()
        device_id = node.info.device_id
    finally:
        node.lock()
    assert len(events) == 24 and {e.state for e in events} == {"confirmed"}
    for bed in BEDS:
        pid = ward.patients[bed.name]
        mine = {e.resource_id for e in events if e.patient == pid}
        found = smart.get("/Observation", smart.operator_token, patient=pid, _count="100").json()
        stored = [e["resource"] for e in found.get("entry", [])]
        assert {o["id"] for o in stored} - ward.history == mine and len(mine) == 8  # once
        stored = [o for o in stored if o["id"] not in ward.history]
        (total,) = [o for o in stored if o["code"]["coding"][0]["code"] == NEWS2_TOTAL]
        assert total["valueInteger"] == bed.total
        readings = {f"Observation/{o['id']}" for o in stored if o is not total}
        assert {r["reference"] for r in total["derivedFrom"]} == readings
        for observation in stored:
            prov = smart.get(
                "/Provenance", smart.operator_token, target=f"Observation/{observation['id']}"
            ).json()
            (entry,) = prov["entry"]
            agents = [a["who"] for a in entry["resource"]["agent"]]
            assert {"reference": f"Device/{device_id}"} in agents
            assert entry["resource"]["occurredDateTime"]


def test_the_app_syncs_by_itself_every_few_minutes_while_the_server_answers(
    browser: Browser, ward: Ward, tmp_path: Path
) -> None:
    smart = ward.smart
    home = tmp_path / "home"
    bed = BEDS[1]
    phone = enroll_phone(smart, ward.username, home, ward.patients[bed.name])
    phone.node.lock()
    OPENED.remove(phone.node)
    app = AppProcess.start(home, extra=("--sync-every", "0.05"))  # every 3 s, for the test
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(app.url)
        page.get_by_label("PIN").fill(PIN)
        page.get_by_role("button", name="Unlock").click()
        open_patient(page, app.base, bed.name)
        page.get_by_role("link", name="Record observations").first.click()
        fill(page, bed.readings)
        expect(page.locator("#news2-headline")).to_have_text(f"NEWS2 {bed.total}")
        page.get_by_role("button", name="Save observations").click()
        expect(page.locator(".flash")).to_contain_text("Saved on device")
        deadline = time.monotonic() + 60
        while state_of_news2(page) != "confirmed":  # nobody presses "Sync now"
            assert time.monotonic() < deadline, "the app did not sync by itself within 60 s"
            time.sleep(2)
            page.reload()
        page.goto(f"{app.base}/sync")
        expect(page.locator("#o-4")).to_have_text("Confirmed (8)")
        assert "Last sync: just now" in page.locator("#strip").inner_text()
        open_patient(page, app.base, bed.name)  # online, the one online-only action works
        page.get_by_role("button", name="Pin to this device").click()
        expect(page.locator(".flash")).to_have_text("Pinned: this patient stays on this device.")
        page.goto(f"{app.base}/patients")
        expect(page.locator(".group").first.locator("h2")).to_contain_text("Pinned")
        expect(page.locator(".group").first).to_contain_text(bed.name)
    finally:
        context.close()
        app.stop()
    found = smart.get(
        "/Observation", smart.operator_token, patient=ward.patients[bed.name], _count="100"
    ).json()
    assert len(found.get("entry", [])) == 8
