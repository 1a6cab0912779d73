"""SMART Health Links over real HTTP on each backend: the patient's API, the public manifest
(CORS, plain JSON errors, hostile input answered 4xx), and the viewer page's headers."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bedside.healthlinks import files, payload
from tests.conftest import BACKENDS
from tests.integration._smart import Smart, smart_server

SHARE_SCOPE = "launch/patient openid fhirUser patient/*.rs patient/Consent.cru"


@dataclass
class World:
    smart: Smart
    carla: str
    erin: str
    carla_obs: str
    erin_obs: str
    token: str  # carla's app, allowed to share
    read_only: str  # carla's app, read only
    doctor: str


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with smart_server(tmp_path_factory, str(request.param)) as smart:
        carla, erin = smart.create_patient("Romero", "Carla"), smart.create_patient("Ito", "Erin")
        carla_obs = smart.create_observation(carla, "laboratory")
        erin_obs = smart.create_observation(erin, "laboratory")
        doc = smart.create({"resourceType": "Practitioner", "name": [{"family": "Doc"}]})
        smart.add_user("carla", "patient", f"Patient/{carla}")
        smart.add_user("doc", "doctor", f"Practitioner/{doc}")
        smart.add_app("app")
        yield World(
            smart,
            carla,
            erin,
            carla_obs,
            erin_obs,
            smart.login("app", "carla", SHARE_SCOPE)["access_token"],
            smart.login("app", "carla", "launch/patient patient/*.rs")["access_token"],
            smart.login("app", "doc", "openid fhirUser user/*.rs")["access_token"],
        )


def _api(world: World, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=world.smart.root, headers=headers, timeout=30)


def _make(world: World, **body: object) -> httpx.Response:
    with _api(world, world.token) as c:
        return c.post("/patient/health-links", json={"what": ["results"], **body})


def test_a_patient_makes_a_link_and_a_recipient_opens_it(world: World) -> None:
    r = _make(world, label="For the clinic", passcode="2468", days=30)
    assert r.status_code == 201, r.text
    assert r.headers["cache-control"] == "no-store"
    made = r.json()
    link = payload.parse(made["link"])
    assert link.flag == "P" and link.label == "For the clinic"
    assert link.url.startswith(f"{world.smart.root}/shl/m/")
    assert made["viewer_url"] == f"{world.smart.root}/shl/view#{made['link']}"

    with httpx.Client(timeout=30) as recipient:
        r = recipient.post(link.url, json={"recipient": "Clinic", "passcode": "1111"})
        assert r.status_code == 401 and r.json()["remainingAttempts"] == 4
        r = recipient.post(link.url, json={"recipient": "Clinic", "passcode": "2468"})
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    (file,) = r.json()["files"]
    _, plain = files.decrypt(file["embedded"], link.key)
    refs = {e["fullUrl"].rsplit("/", 2)[-1] for e in orjson.loads(plain)["entry"]}
    assert world.carla_obs in refs and world.erin_obs not in refs

    with _api(world, world.token) as c:
        listed = c.get("/patient/health-links").json()["links"]
        mine = next(x for x in listed if x["id"] == made["id"])
        assert mine["state"] == "active" and mine["attempts_left"] == 4
        assert "file" not in mine and "passcode_hash" not in mine
        assert c.delete(f"/patient/health-links/{made['id']}").status_code == 204
        assert c.delete(f"/patient/health-links/{made['id']}").status_code == 404
    r = httpx.post(link.url, json={"recipient": "Clinic", "passcode": "2468"})
    assert r.status_code == 404 and "error" in r.json()


def test_a_location_file_is_served_as_jose(world: World) -> None:
    link = payload.parse(_make(world).json()["link"])
    r = httpx.post(link.url, json={"recipient": "Clinic", "embeddedLengthMax": 0})
    location = r.json()["files"][0]["location"]
    got = httpx.get(location, headers={"Origin": "https://viewer.example"})
    assert got.status_code == 200
    assert got.headers["content-type"] == "application/jose"
    assert got.headers["cache-control"] == "no-store"
    assert got.headers["access-control-allow-origin"] in ("*", "https://viewer.example")
    _, plain = files.decrypt(got.text, link.key)
    assert orjson.loads(plain)["type"] == "collection"
    assert httpx.get(f"{world.smart.root}/shl/f/%00").status_code == 404


def test_the_manifest_answers_any_origin_without_cookies(world: World) -> None:
    link = payload.parse(_make(world).json()["link"])
    r = httpx.options(
        link.url,
        headers={
            "Origin": "https://viewer.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Content-Type",
        },
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] in ("*", "https://viewer.example")
    assert "access-control-allow-credentials" not in r.headers


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"passcode": "x"}', b'{"recipient": ""}', b'{"recipient": 5}'],
)
def test_a_manifest_request_without_a_recipient_is_a_400(world: World, body: bytes) -> None:
    link = payload.parse(_make(world).json()["link"])
    r = httpx.post(link.url, content=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert isinstance(r.json()["error"], str)


def test_unknown_and_hostile_link_ids_are_404(world: World) -> None:
    root = world.smart.root
    for link_id in ("nope", "x" * 5000, "%00", "' OR 1=1 --"):
        r = httpx.post(f"{root}/shl/m/{link_id}", json={"recipient": "Clinic"})
        assert r.status_code == 404, (link_id, r.status_code)


def test_only_a_patient_whose_app_may_record_consent_makes_links(world: World) -> None:
    for token in (world.doctor, world.read_only):
        with _api(world, token) as c:
            r = c.post("/patient/health-links", json={"what": ["results"]})
            assert r.status_code == 403
            assert r.json()["resourceType"] == "OperationOutcome"
    with _api(world, None) as c:
        assert c.post("/patient/health-links", json={"what": ["results"]}).status_code == 401
    assert _make(world, what=["everything"]).status_code == 400
    assert _make(world, days=0).status_code == 400
    assert _make(world, label="x" * 81).status_code == 400


def test_the_viewer_page_runs_only_its_own_script(world: World) -> None:
    r = httpx.get(f"{world.smart.root}/shl/view")
    assert r.status_code == 200
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp.split("style-src")[0]
    assert r.headers["cache-control"].startswith("no-store")
    assert '<script src="/shl/viewer.js"></script>' in r.text
    js = httpx.get(f"{world.smart.root}/shl/viewer.js")
    assert js.status_code == 200 and "crypto.subtle.decrypt" in js.text


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
_BODIES = _JSON | st.fixed_dictionaries(
    {"recipient": st.text(max_size=300)}, optional={"passcode": _JSON, "embeddedLengthMax": _JSON}
)


@settings(max_examples=40, deadline=None)
@given(link_id=st.text(max_size=60), body=_BODIES)
def test_hostile_manifest_requests_never_reach_a_5xx(
    world: World, link_id: str, body: object
) -> None:
    from urllib.parse import quote

    root = world.smart.root
    r = httpx.post(f"{root}/shl/m/{quote(link_id, safe='') or 'x'}", json=body, timeout=30)
    assert r.status_code < 500, (link_id, body, r.text)


@settings(max_examples=30, deadline=None)
@given(
    body=_JSON
    | st.fixed_dictionaries(
        {},
        optional={"what": _JSON, "days": _JSON, "label": _JSON, "passcode": _JSON, "result": _JSON},
    )
)
def test_hostile_link_requests_never_reach_a_5xx(world: World, body: object) -> None:
    with _api(world, world.token) as c:
        r = c.post("/patient/health-links", json=body)
    assert r.status_code < 500, (body, r.text)
    if r.status_code >= 400:
        assert r.json()["resourceType"] == "OperationOutcome"
