"""The governance console in Debian's Chromium against a real `bedside serve` (docs/console.md).

A clinician breaks the glass on a patient outside her care and reads the record over the real
FHIR API; a security officer signs in to ``/console``, sees the grant with the patient by
identifier only, clicks "Show patient" (audited), closes the review; sees a device's outbox
depth as the device reported it, waits for "drained", flags it to wipe; searches the audit
trail by patient. A clinician signing in to ``/console`` is refused. Every screen is axe-checked
and photographed at 390 and 1280 px into docs/img/console-*.png.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser._app import IMG, WIDTHS, axe_check
from tests.integration._smart import PASSWORD, Smart, smart_server
from tests.integration._sync_world import SCOPE, enrol, new_ward, push, read, results, sql

IDENT = "https://hospital.example/mrn"


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, "sqlite") as s:
        yield s


def shoot(page: Page, name: str) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        axe_check(page, f"console {name} at {width} px")
        IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(IMG / f"console-{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def sign_in(page: Page, smart: Smart, username: str) -> None:
    page.goto(f"{smart.root}/console/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def report(smart: Smart, access: str, pending: int) -> None:
    body = {
        "protocol": 1,
        "outbox": {"pending": pending, "confirmed": 4},
        "oldest_pending_age_s": 1800 if pending else None,
        "app_version": "1.0.0",
    }
    r = httpx.post(
        f"{smart.root}/device/telemetry",
        json=body,
        headers={"Authorization": f"Bearer {access}"},
        timeout=30,
    )
    assert r.status_code == 204, r.text


def audit_codes(smart: Smart) -> list[dict[str, Any]]:
    rows = sql(smart, "SELECT content FROM audit_log ORDER BY n")
    return [json.loads(bytes(c)) for (c,) in rows]


def test_a_security_officer_reviews_break_glass_and_wipes_a_drained_device(
    smart: Smart, browser: Browser
) -> None:
    patient = smart.create(
        {
            "resourceType": "Patient",
            "identifier": [{"system": IDENT, "value": "MRN-204117"}],
            "name": [{"family": "Marlow", "given": ["Edith"]}],
            "birthDate": "1941-05-02",
        }
    )
    practitioner = smart.create({"resourceType": "Practitioner", "name": [{"family": "Doctor"}]})
    doctor = f"doctor-{secrets.token_hex(3)}"
    doctor_id = smart.add_user(doctor, "doctor", f"Practitioner/{practitioner}")
    officer = f"security-{secrets.token_hex(3)}"
    smart.add_user(officer, "security")
    # the clinician breaks the glass and reads the record under it
    signed = smart.login("bedside-device", doctor, SCOPE)
    token = signed["access_token"]
    reason = {
        "resourceType": "Parameters",
        "parameter": [{"name": "reason", "valueString": "Unconscious in A&E, no team yet"}],
    }
    with smart.fhir_client(token) as c:
        glass = c.post(f"/Patient/{patient}/$break-glass", json=reason)
        assert glass.status_code == 200, glass.text
        assert c.get(f"/Patient/{patient}").status_code == 200
    # her device, with two events not yet received
    device = enrol(smart, (doctor, doctor_id, practitioner))
    report(smart, device.access, 2)

    page = browser.new_page(viewport={"width": WIDTHS[0], "height": 900})
    sign_in(page, smart, officer)
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.get_by_text("Events on devices not yet received")).to_be_visible()
    expect(page.get_by_text("Break-glass grants: 1")).to_be_visible()  # the 14 days' chart
    shoot(page, "overview")

    # break-glass review: the identifier, not the name, until "Show patient"
    page.get_by_role("link", name="Break-glass review").click()
    item = page.get_by_role("region", name=re.compile("Break-glass by"))
    expect(item).to_contain_text("mrn: MRN-204117")
    expect(item).to_contain_text("Unconscious in A&E")
    expect(item).to_contain_text("read Patient")
    assert "Marlow" not in page.content()
    shoot(page, "break-glass")
    page.get_by_role("button", name="Show patient").click()
    expect(page.get_by_text("Edith Marlow")).to_be_visible()
    revealed = [e for e in audit_codes(smart) if e["subtype"][0]["code"] == "console-reveal"]
    assert len(revealed) == 1
    assert [x["what"]["reference"] for x in revealed[0]["entity"]] == [f"Patient/{patient}"]
    shoot(page, "break-glass-shown")
    page.get_by_label("Outcome").select_option("justified")
    page.get_by_label("Note").fill("Admitted via A&E; care team formed the next morning.")
    page.get_by_role("button", name="Close the review").click()
    expect(page.get_by_text("justified by")).to_be_visible()
    closed = sql(smart, "SELECT review_status, review_outcome FROM break_glass")
    assert closed == [("closed", "justified")]

    # devices: the outbox depth as reported; wipe only after "drained"
    page.get_by_role("link", name="Devices").click()
    row = page.get_by_role("row", name=re.compile(device.device_id))
    expect(row).to_contain_text("2")
    expect(row).to_contain_text("compliant")
    shoot(page, "devices")
    page.get_by_role("link", name=device.device_id).click()
    expect(page.locator("#drain")).to_have_text(re.compile("^2 events not yet received"))
    expect(page.get_by_text("Offline writes allowed until")).to_be_visible()
    shoot(page, "device")
    report(smart, device.access, 0)
    page.reload()
    expect(page.locator("#drain")).to_have_text(re.compile("^Drained"))
    wipe = page.locator("form", has=page.get_by_role("button", name="Flag the device to wipe"))
    wipe.get_by_label("I have read what the device still holds").check()
    wipe.get_by_role("button", name="Flag the device to wipe").click()
    expect(page.get_by_role("status")).to_have_text("Done: the device is flagged to wipe.")
    assert sql(smart, "SELECT status FROM devices WHERE device_id = ?", device.device_id) == [
        ("wipe",)
    ]

    # the audit trail by patient: the break-glass, the reads, the reveal
    page.get_by_role("link", name="Audit trail").click()
    page.get_by_label("Patient (id)").fill(patient)
    page.get_by_role("button", name="Search").click()
    results = page.get_by_role("table")
    expect(results).to_contain_text("Break-glass access started")
    expect(results).to_contain_text("Governance console showed a patient's name")
    expect(results).to_contain_text(doctor)  # who, by username
    page.get_by_label("Patient (id)").fill("")
    page.get_by_label("User (username, or Practitioner/…)").fill(doctor)
    page.get_by_label("Outcome").select_option("0")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("table")).to_contain_text("Break-glass access started")
    shoot(page, "audit")
    assert patient not in page.url
    page.get_by_role("link", name="Check the audit chain").click()
    expect(page.get_by_text(re.compile("The audit chain is intact"))).to_be_visible()
    views = [e for e in audit_codes(smart) if e["subtype"][0]["code"] == "console-view"]
    assert len(views) >= 7  # every page view
    page.close()


def test_a_clinical_safety_officer_sees_a_two_device_conflict_side_by_side(
    smart: Smart, browser: Browser
) -> None:
    ward, users = new_ward(smart, "doctor", "doctor")
    a, b = (enrol(smart, u) for u in users)
    seen = {k: v for k, v in read(smart, f"/Patient/{ward.patient}").items() if k != "meta"}
    first = {**seen, "telecom": [{"system": "phone", "value": "0113 496 0100"}]}
    second = {**seen, "telecom": [{"system": "phone", "value": "0113 496 0199"}]}
    assert results(push(smart, a, [a.event("update", first, base="1")]))[0]["state"] == "confirmed"
    (clash,) = results(push(smart, b, [b.event("update", second, base="1")]))
    assert clash["state"] == "needs-review"
    officer = f"safety-{secrets.token_hex(3)}"
    smart.add_user(officer, "clinical-safety")

    page = browser.new_page(viewport={"width": WIDTHS[0], "height": 900})
    sign_in(page, smart, officer)
    expect(page.get_by_role("link", name="Break-glass review")).to_have_count(0)  # not theirs
    page.get_by_role("link", name="Conflict review queue").click()
    expect(page.get_by_role("table")).to_contain_text("telecom")
    shoot(page, "conflicts")
    page.locator(f'a[href="/console/conflicts/{clash["review"]}"]').click()
    expect(
        page.get_by_role("heading", name=re.compile("changed the patient's telecom"))
    ).to_be_visible()
    row = page.get_by_role("row", name=re.compile("telecom"))
    expect(row.locator("mark").first).to_contain_text("0113 496 0199")  # the device's
    expect(row.locator("mark").last).to_contain_text("0113 496 0100")  # the server's
    expect(row).to_contain_text("none")  # the base had no telecom
    shoot(page, "conflict")
    viewed = [e for e in audit_codes(smart) if e["subtype"][0]["code"] == "console-view"]
    assert any(
        f"conflict {clash['review']}" in e.get("outcomeDesc", "")
        and [x["what"]["reference"] for x in e.get("entity", [])] == [f"Patient/{ward.patient}"]
        for e in viewed
    )
    page.goto(f"{smart.root}/console/devices")  # a security page: refused in a sentence
    expect(page.get_by_text("Your role cannot open this page of the console.")).to_be_visible()
    page.close()


def test_a_clinician_is_refused_the_console(smart: Smart, browser: Browser) -> None:
    practitioner = smart.create({"resourceType": "Practitioner", "name": [{"family": "Nurse"}]})
    nurse = f"nurse-{secrets.token_hex(3)}"
    smart.add_user(nurse, "nurse", f"Practitioner/{practitioner}")
    page = browser.new_page(viewport={"width": WIDTHS[0], "height": 900})
    sign_in(page, smart, nurse)
    expect(page.get_by_role("heading", name="Not for you")).to_be_visible()
    expect(page.get_by_text("for governance, security and clinical-safety staff")).to_be_visible()
    axe_check(page, "console refused")
    page.goto(f"{smart.root}/console/devices")  # no session was opened: back to sign-in
    expect(page.get_by_label("Username")).to_be_visible()
    page.close()


def pull_reviews(smart: Smart, device: Any) -> list[dict[str, Any]]:
    """Every review outcome the device's next pull carries (all pages)."""
    found: list[dict[str, Any]] = []
    since: str | None = None
    with httpx.Client(
        base_url=smart.root, headers={"Authorization": f"Bearer {device.access}"}, timeout=60
    ) as c:
        for _ in range(50):
            r = c.get("/sync/pull", params={"protocol": "1", **({"since": since} if since else {})})
            assert r.status_code == 200, r.text
            page = r.json()
            found.extend(page["reviews"])
            since = page["next"]
            if not page["more"]:
                return found
    raise AssertionError("the pull never finished")


def two_device_clash(
    smart: Smart, fields: dict[str, tuple[Any, Any]], only_b: dict[str, Any] | None = None
) -> tuple[Any, Any, Any]:
    """A patient two doctors' devices change at once: A first (confirmed), then B on the same
    base with other values for the same fields, and ``only_b`` (needs review). (ward, device B,
    B's result)."""
    ward, users = new_ward(smart, "doctor", "doctor")
    a, b = (enrol(smart, u) for u in users)
    seen = {k: v for k, v in read(smart, f"/Patient/{ward.patient}").items() if k != "meta"}
    first = {**seen, **{k: v[0] for k, v in fields.items()}}
    second = {**seen, **{k: v[1] for k, v in fields.items()}, **(only_b or {})}
    assert results(push(smart, a, [a.event("update", first, base="1")]))[0]["state"] == "confirmed"
    (clash,) = results(push(smart, b, [b.event("update", second, base="1")]))
    assert clash["state"] == "needs-review", clash
    return ward, b, clash


def test_a_clinical_safety_officer_merges_one_conflict_and_defers_another(
    smart: Smart, browser: Browser
) -> None:
    phone_a = [{"system": "phone", "value": "0113 496 0100"}]
    phone_b = [{"system": "phone", "value": "0113 496 0199"}]
    ward, b, clash = two_device_clash(
        smart,
        {"telecom": (phone_a, phone_b), "birthDate": ("1950-02-03", "1950-03-02")},
        {"gender": "unknown"},  # only B changed it: the merge keeps it, as push would
    )
    other, _, later = two_device_clash(smart, {"telecom": (phone_a, phone_b)})
    officer = f"safety-{secrets.token_hex(3)}"
    smart.add_user(officer, "clinical-safety")

    page = browser.new_page(viewport={"width": WIDTHS[0], "height": 900})
    sign_in(page, smart, officer)
    page.get_by_role("link", name="Conflict review queue").click()
    page.locator(f'a[href="/console/conflicts/{clash["review"]}"]').click()
    expect(page.get_by_role("button", name="Keep the device's version")).to_be_visible()
    expect(page.get_by_role("button", name="Keep the server's version")).to_be_visible()
    merge = page.get_by_role("form", name="Edit a merge")
    merge.get_by_role("group", name="telecom").get_by_label(re.compile("The device's")).check()
    merge.get_by_role("group", name="birthDate").get_by_label(re.compile("The server's")).check()
    shoot(page, "conflict-resolve")
    merge.get_by_role("button", name="Save the merge").click()
    expect(page.get_by_role("status")).to_contain_text("Resolved: the merge was written")
    expect(page.get_by_text(re.compile("resolved: kept merged"))).to_be_visible()
    shoot(page, "conflict-resolved")

    # the FHIR API holds the merge: B's phone, A's birth date; its Provenance names the
    # reviewer's console, B's device and B's user
    now = read(smart, f"/Patient/{ward.patient}")
    assert now["telecom"] == phone_b and now["birthDate"] == "1950-02-03"
    assert now["gender"] == "unknown"
    version = now["meta"]["versionId"]
    target = f"Patient/{ward.patient}/_history/{version}"
    found = read(smart, f"/Provenance?target={target}").get("entry", [])
    (prov,) = [e["resource"] for e in found if {"reference": target} in e["resource"]["target"]]
    agents = [a["who"] for a in prov["agent"]]
    assert {"reference": f"Device/{b.device_id}"} in agents
    assert {"reference": f"Practitioner/{b.practitioner}"} in agents  # the device's user
    # B's next pull: the event is confirmed with the merged version
    outcome = next(o for o in pull_reviews(smart, b) if o["review"] == clash["review"])
    assert outcome["state"] == "confirmed" and outcome["version"] == version
    resolved = [e for e in audit_codes(smart) if e["subtype"][0]["code"] == "review-resolve"]
    assert any(clash["review"] in e.get("outcomeDesc", "") for e in resolved)

    # the other item: deferred with a note, still waiting, the note shown, audited
    page.goto(f"{smart.root}/console/conflicts/{later['review']}")
    page.get_by_label("Note (why it waits, for the next reviewer)").fill("Ask the ward first")
    page.get_by_role("button", name="Defer").click()
    expect(page.get_by_role("status")).to_contain_text("Deferred")
    expect(page.get_by_text(re.compile(f"by {officer}: .Ask the ward first"))).to_be_visible()
    expect(page.get_by_text("waiting", exact=True)).to_be_visible()
    shoot(page, "conflict-deferred")
    deferred = [e for e in audit_codes(smart) if e["subtype"][0]["code"] == "review-defer"]
    assert [x["what"]["reference"] for x in deferred[-1].get("entity", [])] == [
        f"Patient/{other.patient}"
    ]
    assert "Ask the ward" not in json.dumps(deferred)  # the note is not in the audit trail
    assert read(smart, f"/Patient/{other.patient}")["telecom"] == phone_a  # nothing written
    page.get_by_role("link", name="Back to the queue").click()
    row = page.get_by_role("row").filter(has=page.locator(f'a[href$="{later["review"]}"]'))
    expect(row).to_contain_text("waiting (deferred with a note)")
    page.close()
