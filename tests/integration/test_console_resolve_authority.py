"""The limits of a console reviewer's authority to settle sync conflicts (ADR 0014), over real
HTTP on both backends: a console role reaches no record through the FHIR API, resolves only the
queues the policy names for it (``[sync.review] console``), writes only the item's record and
only the device's version or a merge of the differing fields, never an item its own device
made; and a record that changed after the reviewer looked is answered 409 in one sentence with
the fresh server version, nothing written."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_world import (
    enrol,
    new_ward,
    push,
    read,
    results,
    sql,
    sql_write,
)
from tests.integration.test_console_phi_canary import console
from tests.integration.test_sync_review_exact import clean, flag, put

PHONE_A = [{"system": "phone", "value": "0113 496 0100"}]
PHONE_B = [{"system": "phone", "value": "0113 496 0199"}]


@pytest.fixture(scope="module", params=BACKENDS)
def smart(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, str(request.param)) as s:
        yield s


def patient_clash(smart: Smart) -> tuple[str, Any, str]:
    """Two doctors' devices change a patient's phone at once: (patient, device B, review id)
    of the doctors' queue."""
    ward, users = new_ward(smart, "doctor", "doctor")
    a, b = (enrol(smart, u) for u in users)
    seen = clean(read(smart, f"/Patient/{ward.patient}"))
    ra = results(push(smart, a, [a.event("update", {**seen, "telecom": PHONE_A}, base="1")]))
    assert ra[0]["state"] == "confirmed"
    (rb,) = results(push(smart, b, [b.event("update", {**seen, "telecom": PHONE_B}, base="1")]))
    assert rb["state"] == "needs-review"
    return ward.patient, b, str(rb["review"])


def flag_clash(smart: Smart) -> tuple[str, str]:
    """Two nurses' devices change a Flag's code at once: (flag id, review id) of the nurses'
    queue."""
    ward, users = new_ward(smart, "nurse", "nurse")
    a, b = (enrol(smart, u) for u in users)
    made = flag(ward.patient, "Falls risk")
    assert results(push(smart, a, [a.event("create", made, patient=ward.patient)]))
    mine = {**made, "code": {"text": "High falls risk"}}
    results(push(smart, a, [a.event("update", mine, base="1", patient=ward.patient)]))
    theirs = {**made, "code": {"text": "Low falls risk"}}
    (rb,) = results(push(smart, b, [b.event("update", theirs, base="1", patient=ward.patient)]))
    assert rb["state"] == "needs-review", rb
    return str(made["id"]), str(rb["review"])


def officer(smart: Smart, role: str = "clinical-safety") -> tuple[httpx.Client, str, str]:
    username = f"{role}-{secrets.token_hex(3)}"
    user_id = smart.add_user(username, role)
    c, csrf = console(smart, username)
    return c, csrf, user_id


def resolve(c: httpx.Client, csrf: str, item: str, **form: str) -> httpx.Response:
    return c.post(f"/console/conflicts/{item}/resolve", data={"csrf": csrf, **form})


def versions(smart: Smart, rtype: str, rid: str) -> int:
    return int(read(smart, f"/{rtype}/{rid}")["meta"]["versionId"])


def state(smart: Smart, item: str) -> str:
    ((found,),) = sql(smart, "SELECT state FROM sync_reviews WHERE id = ?", item)
    return str(found)


def refused_resolutions(smart: Smart) -> int:
    rows = sql(
        smart,
        "SELECT COUNT(*) FROM audit_log WHERE subtype = ? AND outcome = ?",
        "review-resolve",
        "4",
    )
    return int(rows[0][0])


def test_a_console_role_reaches_no_record_and_resolves_only_its_queues(smart: Smart) -> None:
    patient, _, item = patient_clash(smart)
    flag_id, nurses_item = flag_clash(smart)
    c, csrf, _ = officer(smart)
    before = refused_resolutions(smart)

    # the nurses' queue is not the clinical-safety officer's: refused, nothing written
    page = c.get(f"/console/conflicts/{nurses_item}")
    assert "Settle it" not in page.text and "Only the nurse queue" in page.text
    r = resolve(c, csrf, nurses_item, keep="device", version="2")
    assert r.status_code == 403 and "Only the nurse queue can resolve this item." in r.text
    assert versions(smart, "Flag", flag_id) == 2 and state(smart, nurses_item) == "open"
    r = c.post(f"/console/conflicts/{nurses_item}/defer", data={"csrf": csrf, "note": "later"})
    assert r.status_code == 403

    # governance sees the queue but resolves nothing
    g, gcsrf, _ = officer(smart, "governance")
    assert "Settle it" not in g.get(f"/console/conflicts/{item}").text
    assert resolve(g, gcsrf, item, keep="device", version="2").status_code == 403
    assert versions(smart, "Patient", patient) == 2 and state(smart, item) == "open"
    assert refused_resolutions(smart) == before + 2  # every refusal audited

    # a merge may only choose a side for the differing fields: nothing else, nothing written
    r = resolve(
        c,
        csrf,
        item,
        keep="merged",
        version="2",
        **{"field:telecom": "device", "field:name": "device"},
    )
    assert r.status_code == 400
    r = resolve(c, csrf, item, keep="merged", version="2", **{"field:telecom": "base"})
    assert r.status_code == 400
    assert versions(smart, "Patient", patient) == 2

    # the console session is no FHIR client: its cookie reads and writes nothing
    other = smart.create_patient("Elsewhere")
    assert c.get(f"/fhir/Patient/{other}").status_code == 401
    body = {"resourceType": "Patient", "id": other, "telecom": PHONE_B}
    assert c.put(f"/fhir/Patient/{other}", json=body).status_code == 401

    # an item whose kept version names another record (a tampered queue) writes nothing
    sql_write(
        smart,
        "UPDATE sync_reviews SET device_value = ? WHERE id = ?",
        f'{{"resourceType": "Patient", "id": "{other}", "telecom": []}}'.encode(),
        item,
    )
    r = resolve(c, csrf, item, keep="device", version="2")
    assert r.status_code == 400 and "must be the Patient with id" in r.text
    assert versions(smart, "Patient", other) == 1 and versions(smart, "Patient", patient) == 2
    assert state(smart, item) == "open"


def test_nobody_resolves_a_change_their_own_device_made(smart: Smart) -> None:
    patient, b, item = patient_clash(smart)
    c, csrf, user_id = officer(smart)
    sql_write(smart, "UPDATE devices SET user_id = ? WHERE device_id = ?", user_id, b.device_id)
    assert "made on your own device" in c.get(f"/console/conflicts/{item}").text
    r = resolve(c, csrf, item, keep="device", version="2")
    assert r.status_code == 403 and "made on your own device" in r.text
    assert versions(smart, "Patient", patient) == 2 and state(smart, item) == "open"


def test_a_record_changed_meanwhile_is_409_with_the_fresh_version(smart: Smart) -> None:
    patient, _, item = patient_clash(smart)
    c, csrf, _ = officer(smart)
    page = c.get(f"/console/conflicts/{item}").text
    assert 'name="version" value="2"' in page  # what the reviewer saw
    moved = {
        **clean(read(smart, f"/Patient/{patient}")),
        "telecom": [{"system": "phone", "value": "0113 496 0177"}],
    }
    assert put(smart, moved)["meta"]["versionId"] == "3"

    r = resolve(c, csrf, item, keep="device", version="2")
    assert r.status_code == 409
    alert = re.search(r'<p class="alert" role="alert">([^<]+)</p>', r.text)
    assert alert is not None
    assert alert.group(1) == (
        "The record changed on the server since version 2: it is now at version 3. Nothing was"
        " written. Look at it again, then resolve with that version."
    )
    assert "0113 496 0177" in r.text and 'name="version" value="3"' in r.text  # fresh version
    assert versions(smart, "Patient", patient) == 3 and state(smart, item) == "open"

    r = resolve(c, csrf, item, keep="device", version="3")
    assert r.status_code == 200 and "the device&#39;s version was written" in r.text
    assert read(smart, f"/Patient/{patient}")["telecom"] == PHONE_B
    assert state(smart, item) == "resolved"
