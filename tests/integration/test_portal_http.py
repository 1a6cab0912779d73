"""The patient portal over real HTTP on each backend: sign-in through the first-party app,
headers, CSRF on every change, staff refused, another patient's shares out of reach, and a
withdrawn share reaching devices through the change feed (access_changes)."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bedside.store import open_store
from tests.conftest import BACKENDS
from tests.integration._smart import PASSWORD, Smart, smart_server
from tests.integration.test_patient_consent_writes import share_body


@dataclass
class World:
    smart: Smart
    carla: str
    erin: str
    doctor: str  # Practitioner id
    erin_consent: str
    carla_doc: str
    erin_doc: str


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with smart_server(tmp_path_factory, str(request.param)) as smart:
        carla, erin = smart.create_patient("Romero", "Carla"), smart.create_patient("Ito", "Erin")
        smart.create_observation(carla, "laboratory")
        doctor = smart.create(
            {"resourceType": "Practitioner", "name": [{"given": ["Ada"], "family": "Okafor"}]}
        )
        erin_consent = smart.create(share_body(erin, f"Practitioner/{doctor}", "Observation"))
        docs = [smart.create(letter(pid)) for pid in (carla, erin)]
        smart.add_user("carla", "patient", f"Patient/{carla}")
        smart.add_user("okafor", "doctor", f"Practitioner/{doctor}")
        yield World(smart, carla, erin, doctor, erin_consent, *docs)


def letter(patient: str) -> dict[str, object]:
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "description": "Discharge letter",
        "subject": {"reference": f"Patient/{patient}"},
        "date": "2026-11-02T10:00:00Z",
        "content": [
            {
                "attachment": {
                    "contentType": "text/html",
                    "title": "Discharge letter.html",
                    "data": base64.b64encode(b"<script>alert(1)</script>Home on day 3").decode(),
                }
            }
        ],
    }


def signed_in(world: World, username: str = "carla") -> tuple[httpx.Client, httpx.Response]:
    """A browser (cookies kept) walked from /portal/ through sign-in; where it ended."""
    b = httpx.Client(base_url=world.smart.root, follow_redirects=False, timeout=30)
    r = b.get("/portal/")
    while r.status_code in (302, 303, 307):
        location = r.headers["location"]
        if location.startswith("/auth/signin"):
            rid = parse_qs(urlsplit(location).query)["request"][0]
            r = b.post(
                "/auth/signin", data={"request": rid, "username": username, "password": PASSWORD}
            )
            continue
        r = b.get(location)
    return b, r


def csrf_of(page: httpx.Response) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


def test_a_page_without_a_session_goes_to_sign_in(world: World) -> None:
    r = httpx.get(f"{world.smart.root}/portal/results", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/portal/sign-in?next=%2Fportal%2Fresults"


def test_pages_are_not_stored_and_run_only_own_scripts(world: World) -> None:
    b, home = signed_in(world)
    with closing(b):
        assert home.status_code == 200 and "View results" in home.text
        for path in ("/portal/", "/portal/results", "/portal/seen", "/portal/share"):
            r = b.get(path)
            assert r.status_code == 200, path
            assert r.headers["cache-control"] == "no-store"
            assert r.headers["x-frame-options"] == "DENY"
            assert "script-src 'self'" in r.headers["content-security-policy"]
        cookie = next(c for c in b.cookies.jar if c.name == "bedside_portal")
        assert cookie.path == "/portal"
        assert cookie.has_nonstandard_attr("HttpOnly")


def test_a_change_without_the_csrf_token_is_refused_and_nothing_is_stored(world: World) -> None:
    b, _ = signed_in(world)
    with closing(b):
        form = {"who": f"Practitioner/{world.doctor}", "what": "results", "days": "30"}
        r = b.post("/portal/share/confirm", data=form)
        assert r.status_code == 403
        r = b.post("/portal/share/confirm", data={**form, "csrf": "forged"})
        assert r.status_code == 403
        shares = b.get("/portal/shares").text
        assert "Dr Ada Okafor" not in shares and "Ada Okafor" not in shares


def test_staff_are_refused_the_portal(world: World) -> None:
    b, r = signed_in(world, "okafor")
    with closing(b):
        assert r.status_code == 403
        assert "The portal is for patients." in r.text
        assert b.get("/portal/results").status_code == 303  # no session was opened


def test_a_patient_cannot_withdraw_another_patients_share(world: World) -> None:
    b, home = signed_in(world)
    with closing(b):
        token = csrf_of(home)
        r = b.post(f"/portal/shares/{world.erin_consent}/withdraw", data={"csrf": token})
        assert r.status_code == 404
        for hostile in ("%00", "x" * 200, "..%2F..%2Fsecret"):
            r = b.post(f"/portal/shares/{hostile}/withdraw", data={"csrf": token})
            assert 400 <= r.status_code < 500, hostile
            r = b.post(f"/portal/apps/{hostile}/disconnect", data={"csrf": token})
            assert 400 <= r.status_code < 500, hostile
    with world.smart.fhir_client(world.smart.operator_token) as op:
        assert op.get(f"/Consent/{world.erin_consent}").json()["status"] == "active"


def test_a_share_made_and_withdrawn_in_the_portal_reaches_the_change_feed(world: World) -> None:
    b, home = signed_in(world)
    with closing(b):
        token = csrf_of(home)
        form = {
            "csrf": token,
            "who": f"Practitioner/{world.doctor}",
            "what": ["results"],
            "days": "30",
            "purpose": "TREAT",
        }
        r = b.post("/portal/share/preview", data=form)
        assert r.status_code == 200 and "Check before you share" in r.text
        r = b.post("/portal/share/confirm", data=form)
        assert r.status_code == 200, r.text
        shares = b.get("/portal/shares")
        consent_id = re.search(r"/portal/shares/([^/]+)/withdraw", shares.text)
        assert consent_id, shares.text
        r = b.post(f"/portal/shares/{consent_id.group(1)}/withdraw", data={"csrf": token})
        assert r.status_code == 200 and "Share revoked" in r.text
    store = open_store(world.smart.database)
    try:
        with store.records() as db:
            rows = db.rows(
                "SELECT kind, patient, actors, source FROM access_changes WHERE source = ?",
                [f"Consent/{consent_id.group(1)}"],
            )
    finally:
        store.close()
    assert [(k, p) for k, p, _, _ in rows] == [("consent-revoked", world.carla)]
    assert f"Practitioner/{world.doctor}" in rows[0][2]


def test_a_document_downloads_and_another_patients_does_not(world: World) -> None:
    b, _ = signed_in(world)
    with closing(b):
        listed = b.get("/portal/record/documents")
        assert f'href="/portal/documents/{world.carla_doc}"' in listed.text
        r = b.get(f"/portal/documents/{world.carla_doc}")
        assert r.status_code == 200
        assert r.content == b"<script>alert(1)</script>Home on day 3"
        assert r.headers["content-disposition"] == 'attachment; filename="Discharge letter.html"'
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["content-security-policy"].startswith("sandbox")
        assert r.headers["x-content-type-options"] == "nosniff"
        assert b.get(f"/portal/documents/{world.erin_doc}").status_code == 404
        assert b.get("/portal/documents/%00").status_code == 404


_FUZZ_BROWSER: dict[str, tuple[httpx.Client, httpx.Response]] = {}


@pytest.fixture(scope="module", autouse=True)
def _close_fuzz_browsers() -> Iterator[None]:
    yield
    for browser, _ in _FUZZ_BROWSER.values():
        browser.close()
    _FUZZ_BROWSER.clear()


_FIELD = st.text(max_size=30) | st.sampled_from(
    ["link", "results", "30", "0", "-1", "a\x00b", "\u00b9"]  # "¹": isdigit() but not int()
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    who=_FIELD,
    what=st.lists(_FIELD, max_size=3),
    days=_FIELD,
    label=st.text(max_size=120) | st.just("a\x00b"),
    passcode=_FIELD,
    result=st.none() | _FIELD,
    step=st.sampled_from(["preview", "confirm"]),
)
def test_hostile_share_forms_never_reach_a_5xx(
    world: World,
    who: str,
    what: list[str],
    days: str,
    label: str,
    passcode: str,
    result: str | None,
    step: str,
) -> None:
    key = world.smart.root  # one signed-in browser per server
    b, home = _FUZZ_BROWSER.get(key) or signed_in(world)
    _FUZZ_BROWSER[key] = (b, home)
    form: dict[str, object] = {
        "csrf": csrf_of(home),
        "who": who,
        "what": what,
        "days": days,
        "label": label,
        "passcode": passcode,
    }
    if result is not None:
        form["result"] = result
    r = b.post(f"/portal/share/{step}", data=form)
    assert r.status_code < 500, (form, r.text[:300])


def test_a_patient_cannot_share_another_patients_result_from_the_portal(world: World) -> None:
    theirs = world.smart.create_observation(world.erin, "laboratory")
    b, home = signed_in(world)
    with closing(b):
        form = {
            "csrf": csrf_of(home),
            "who": f"Practitioner/{world.doctor}",
            "days": "30",
            "purpose": "TREAT",
            "result": theirs,
        }
        for step in ("preview", "confirm"):
            r = b.post(f"/portal/share/{step}", data=form)
            assert r.status_code == 404, (step, r.text[:300])
            assert "no such result in your record" in r.text
            assert theirs not in r.text
    with world.smart.fhir_client(world.smart.operator_token) as op:
        found = op.get("/Consent", params={"patient": world.carla}).json()
    named = [
        d["reference"]["reference"]
        for e in found.get("entry", [])
        for d in e["resource"].get("provision", {}).get("data", [])
    ]
    assert f"Observation/{theirs}" not in named


def test_a_days_field_of_non_ascii_digits_is_a_plain_refusal(world: World) -> None:
    b, home = signed_in(world)
    with closing(b):
        form = {"csrf": csrf_of(home), "who": "link", "what": ["results"], "days": "\u00b9"}
        r = b.post("/portal/share/preview", data=form)
        assert r.status_code == 200  # the form again, with the sentence
        assert "How long must be a number of days from 1 to 365." in r.text
