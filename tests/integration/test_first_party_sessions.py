"""Bedside's own browser apps sign in through its authorization server (web/first_party.py).

A small app of the kind the portal and the console are, mounted at ``/demo`` beside the real
OAuth routes, served by uvicorn on loopback, and walked with a cookie-keeping httpx client the
way a browser goes: redirects to /auth/authorize, the real sign-in form, the callback, pages,
CSRF-protected changes, sign-out. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bedside.audit.entry import AuditEntry
from bedside.auth.browser_sessions import BrowserSession, BrowserSessions
from bedside.auth.keys import KeyRing
from bedside.auth.server import AuthConfig, AuthServer
from bedside.consent.evaluate import shares_for
from bedside.errors import CsrfRefused
from bedside.policy.decide import Policy
from bedside.store import Store, open_store
from bedside.web.errors import handlers
from bedside.web.first_party import AppSpec, FirstPartyApp
from bedside.web.oauth import OAuthRoutes
from tests.conftest import free_port

PASSWORD = "correct horse battery staple"
SPEC = AppSpec(
    client_id="bedside-demo",
    name="Bedside demo app",
    mount="/demo",
    scope="openid fhirUser online_access user/*.rs",
    roles=frozenset({"nurse", "doctor"}),
    refused="This app is for ward staff.",
    idle_timeout=600,
)


class Recorder:
    """The auditor the refusal and sign-out report to (the audit log itself is tested apart)."""

    enabled = True

    def __init__(self) -> None:
        self.entries: list[AuditEntry] = []

    def append(self, records: object, entries: list[AuditEntry]) -> None:
        self.entries.extend(entries)

    def submit(self, entries: list[AuditEntry]) -> None:
        self.entries.extend(entries)


class Clock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset


@dataclass
class World:
    base: str
    auth: AuthServer
    store: Store
    clock: Clock
    audit: Recorder

    def browser(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, follow_redirects=False, timeout=10)

    def sign_in(
        self, browser: httpx.Client, username: str, start: str = "/demo/"
    ) -> httpx.Response:
        """Walk from ``start`` through sign-in to where the app finally sends the browser."""
        r = browser.get(start)
        while r.status_code in (302, 303, 307):
            location = r.headers["location"]
            if location.startswith("/auth/signin"):
                rid = parse_qs(urlsplit(location).query)["request"][0]
                r = browser.post(
                    "/auth/signin",
                    data={"request": rid, "username": username, "password": PASSWORD},
                )
                continue
            r = browser.get(location)
        return r


def _demo_routes(app: FirstPartyApp) -> list[Route]:
    async def home(request: Request) -> Response:
        session = await app.session(request)
        if session is None:
            return app.sign_in_redirect(request)
        return app.page(f"<p id=who>{session.caller.subject}</p><p id=csrf>{session.csrf}</p>")

    async def change(request: Request) -> Response:
        session = await app.session(request)
        if session is None:
            return app.sign_in_redirect(request)
        try:
            app.check_csrf(request, session, await app.form(request))
        except CsrfRefused as exc:
            return app.message("Not changed", str(exc), status=403, alert=True)
        return app.page("<p>changed</p>")

    return [
        Route("/demo/", home, methods=["GET"]),
        Route("/demo/change", change, methods=["POST"]),
    ]


@pytest.fixture
def world(db_url: str, tmp_path: Path) -> Iterator[World]:
    port = free_port()
    root = f"http://127.0.0.1:{port}"
    store = open_store(db_url)
    clock = Clock()
    recorder = Recorder()
    auth = AuthServer(
        store,
        KeyRing(tmp_path / "keys"),
        AuthConfig(f"{root}/fhir", root),
        auditor=recorder,
        clock=clock,
    )
    demo = FirstPartyApp(SPEC, auth, store)
    oauth = OAuthRoutes(auth, Policy(clock=clock, consents=shares_for))
    app = Starlette(
        routes=[*oauth.routes(), *demo.routes(), *_demo_routes(demo)],
        exception_handlers=dict(handlers()),
    )
    for name, role, fhir_user in (
        ("nurse1", "nurse", "Practitioner/n1"),
        ("pat1", "patient", "Patient/p1"),
    ):
        auth.users.add(name, role, PASSWORD, fhir_user)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        yield World(root, auth, store, clock, recorder)
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()


def _csrf(page: httpx.Response) -> str:
    found = re.search(r"<p id=csrf>([^<]+)</p>", page.text)
    assert found, page.text
    return found.group(1)


def test_a_page_without_a_session_sends_the_browser_to_sign_in(world: World) -> None:
    with world.browser() as browser:
        r = browser.get("/demo/?tab=1")
    assert r.status_code == 303
    assert r.headers["location"] == "/demo/sign-in?next=%2Fdemo%2F%3Ftab%3D1"


def test_sign_in_is_the_authorization_code_flow_and_opens_a_strict_session(world: World) -> None:
    with world.browser() as browser:
        start = browser.get("/demo/sign-in?next=/demo/")
        assert start.status_code == 303
        query = parse_qs(urlsplit(start.headers["location"]).query)
        assert query["client_id"] == ["bedside-demo"]
        assert query["code_challenge_method"] == ["S256"]
        assert query["redirect_uri"] == [f"{world.base}/demo/callback"]
        state_cookie = start.headers["set-cookie"]
        assert "HttpOnly" in state_cookie and "Path=/demo" in state_cookie
        page = world.sign_in(browser, "nurse1")
        assert page.status_code == 200
        nurse = world.auth.users.by_username("nurse1")
        assert nurse is not None
        assert f"<p id=who>{nurse.id}</p>" in page.text  # no "Allow this app?" on the way
        assert page.headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
        # no-referrer would make Chromium send "Origin: null" on the app's own forms
        assert page.headers["referrer-policy"] == "same-origin"
        cookie = next(c for c in browser.cookies.jar if c.name == "bedside_demo")
        assert cookie.path == "/demo"
        assert cookie.has_nonstandard_attr("HttpOnly")
        assert cookie.get_nonstandard_attr("SameSite", "").lower() == "lax"


def test_a_change_needs_the_sessions_csrf_token_and_our_origin(world: World) -> None:
    with world.browser() as browser:
        token = _csrf(world.sign_in(browser, "nurse1"))
        assert browser.post("/demo/change", data={}).status_code == 403
        assert browser.post("/demo/change", data={"csrf": token + "x"}).status_code == 403
        foreign = browser.post(
            "/demo/change", data={"csrf": token}, headers={"Origin": "https://evil.example"}
        )
        assert foreign.status_code == 403
        assert "another site" in foreign.text
        assert browser.post("/demo/change", data={"csrf": token}).status_code == 200


def test_sign_out_revokes_the_grant_and_ends_the_session(world: World) -> None:
    with world.browser() as browser:
        token = _csrf(world.sign_in(browser, "nurse1"))
        secret = browser.cookies.get("bedside_demo", path="/demo")
        session = world.auth.grants  # the grant behind the session
        found = world_session(world, secret)
        assert found is not None and session.is_active(found.grant_id)
        refused = browser.post("/demo/sign-out", data={"csrf": "wrong"})
        assert refused.status_code == 403 and session.is_active(found.grant_id)
        out = browser.post("/demo/sign-out", data={"csrf": token})
        assert out.status_code == 200 and "signed out" in out.text
        assert not session.is_active(found.grant_id)
        assert [e.subtype for e in world.audit.entries].count("logout") == 1
        browser.cookies.set("bedside_demo", secret, path="/demo")  # a copied cookie is dead too
        assert browser.get("/demo/").status_code == 303


def world_session(world: World, secret: str | None) -> BrowserSession | None:
    return BrowserSessions(world.store, clock=world.clock).find("bedside-demo", secret or "", 600)


def test_revoking_the_grant_anywhere_or_idling_ends_the_session(world: World) -> None:
    with world.browser() as browser:
        world.sign_in(browser, "nurse1")
        secret = browser.cookies.get("bedside_demo", path="/demo")
        found = world_session(world, secret)
        assert found is not None
        world.auth.grants.revoke(found.grant_id, "disconnected")
        assert browser.get("/demo/").status_code == 303
    with world.browser() as browser:
        world.sign_in(browser, "nurse1")
        assert browser.get("/demo/").status_code == 200
        world.clock.offset = SPEC.idle_timeout + 5
        assert browser.get("/demo/").status_code == 303


def test_a_user_of_another_role_is_refused_in_words_and_audited(world: World) -> None:
    with world.browser() as browser:
        page = world.sign_in(browser, "pat1")
        assert page.status_code == 403
        assert "This app is for ward staff." in page.text
        assert "bedside_demo" not in {c.name for c in browser.cookies.jar}
    patient = world.auth.users.by_username("pat1")
    assert patient is not None
    assert world.auth.grants.for_user(patient.id) == []  # the grant just made is revoked
    refusals = [e for e in world.audit.entries if e.subtype == "app-refused"]
    assert len(refusals) == 1
    assert refusals[0].outcome == "4" and refusals[0].subject == patient.id


def test_a_callback_from_another_browser_or_a_foreign_next_goes_nowhere(world: World) -> None:
    with world.browser() as victim, world.browser() as attacker:
        start = attacker.get("/demo/sign-in")
        state = parse_qs(urlsplit(start.headers["location"]).query)["state"][0]
        r = victim.get(f"/demo/callback?code=x&state={state}")
        assert r.status_code == 400 and "another window" in r.text
    with world.browser() as browser:
        page = world.sign_in(browser, "nurse1", start="/demo/sign-in?next=https://evil.example/")
        assert page.status_code == 200 and str(page.url).endswith("/demo/")
