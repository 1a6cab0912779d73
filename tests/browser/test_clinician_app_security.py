"""The real `bedside device app` process behind its front door, seen from Chromium and from
the network (issue 16, "Done when": the second test). It listens on 127.0.0.1 only; the launch
URL is the last line it prints, works once, and gives an HttpOnly, SameSite=Strict cookie
that page scripts cannot read; another browser with the same URL gets nothing; every answer the
browser received, pages, fragments, JSON and files, says ``no-store``; the CSP stops an
injected inline script; a foreign Host and a POST without the CSRF token are refused; nothing
about a patient reaches its logs.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Response, expect

from bedside.auth.keys import load_or_create
from tests.browser._app import AppProcess, axe_check
from tests.integration._app_world import COMPLETE, app_world

NAMES = ("Alba", "Quennell", "Brin", "Ottaway", "Pemberton", "MRN1001")


@pytest.fixture
def running(tmp_path: Path) -> Iterator[tuple[AppProcess, str]]:
    world = app_world(
        tmp_path / "home", load_or_create(tmp_path / "keys"), launched=False, now=time.time()
    )
    world.node.lock()
    app = AppProcess.start(world.home)
    yield app, world.pin
    app.stop()


def listening_addresses(port: int) -> list[str]:
    """Local addresses of the sockets listening on ``port`` (Linux /proc/net/tcp{,6})."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.append(address)
    return found


def tab_to(page: Page, name: str, presses: int = 60) -> None:
    """Press Tab until the focused control is named ``name`` (its text or its label)."""
    for _ in range(presses):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            """() => { const e = document.activeElement;
                const named = e.labels && e.labels.length ? e.labels[0] : e;
                return named.innerText || ''; }"""
        )
        if focused.strip().split("\n")[0].strip() == name:
            return
    raise AssertionError(f"{name!r} cannot be reached with the Tab key")


def test_the_app_is_reachable_once_by_one_browser_on_loopback_only(
    browser: Browser, running: tuple[AppProcess, str]
) -> None:
    app, pin = running
    if Path("/proc/net/tcp").exists():
        assert listening_addresses(app.port) == ["0100007F"]  # 127.0.0.1, and nothing else

    context = browser.new_context(viewport={"width": 390, "height": 900})
    seen: list[Response] = []
    context.on("response", lambda r: seen.append(r))
    page = context.new_page()
    page.goto(app.url)
    assert page.url == f"{app.base}/unlock"
    (cookie,) = context.cookies()
    assert cookie["name"] == f"bedside_app_{app.port}" and cookie["domain"] == "127.0.0.1"
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert page.evaluate("() => document.cookie") == ""

    stranger = browser.new_context()
    other = stranger.new_page()
    again = other.goto(app.url)
    assert again is not None and again.status == 403
    assert "used already" in other.inner_text("body")
    assert other.goto(f"{app.base}/patients").status == 403  # type: ignore[union-attr]
    stranger.close()

    page.keyboard.type(pin)  # by keyboard only: the PIN field has the focus
    page.keyboard.press("Enter")
    page.wait_for_url("**/patients")
    tab_to(page, "Alba Quennell")
    page.keyboard.press("Enter")
    expect(page.locator(".banner h1")).to_have_text("Alba Quennell")
    tab_to(page, "Record observations")
    page.keyboard.press("Enter")
    page.wait_for_url("**/observe")
    tab_to(page, "Respiration rate")
    page.keyboard.type(COMPLETE["respiration_rate"])
    expect(page.locator("#o-respiration_rate")).to_have_text("Score 2")  # fetched JSON

    page.evaluate("() => window.dispatchEvent(new Event('blur'))")  # the window goes behind
    expect(page.locator("main")).to_be_hidden()
    expect(page.locator(".banner")).to_be_hidden()
    expect(page.locator(".veil")).to_be_visible()
    page.evaluate("() => window.dispatchEvent(new Event('focus'))")
    expect(page.locator(".banner")).to_be_visible()
    page.goto(f"{app.base}/patients/p1/news2")
    page.goto(f"{app.base}/sync")
    axe_check(page, "sync")

    violations = page.evaluate(
        """() => new Promise((done) => {
            const seen = [];
            document.addEventListener(
                'securitypolicyviolation', (e) => seen.push(e.violatedDirective));
            const s = document.createElement('script');
            s.textContent = 'window.injected = true';
            document.head.appendChild(s);
            setTimeout(() => done({seen, injected: window.injected === true}), 200);
        })"""
    )
    assert violations["injected"] is False
    assert any(d.startswith("script-src") for d in violations["seen"])

    kinds = {r.request.resource_type for r in seen}
    assert {"document", "stylesheet", "script", "fetch"} <= kinds
    for response in seen:
        headers = response.headers
        where = f"{response.request.method} {response.url} -> {response.status}"
        assert headers.get("cache-control") == "no-store", where
        assert "script-src 'self'" in headers.get("content-security-policy", ""), where
        assert not [h for h in headers if h.startswith("access-control-")], where
        assert not any(n in response.url for n in NAMES), where

    session = {cookie["name"]: cookie["value"]}
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token
    rebound = httpx.get(
        f"{app.base}/patients", headers={"Host": f"rebind.example:{app.port}"}, cookies=session
    )
    assert rebound.status_code == 403 and rebound.headers["cache-control"] == "no-store"
    form = {**COMPLETE, "patient": "p1", "draft": ""}
    forged = httpx.post(f"{app.base}/patients/p1/observe", data=form, cookies=session)
    assert forged.status_code == 403 and "out of date" in forged.text
    honest = httpx.post(
        f"{app.base}/patients/p1/observe", data={**form, "csrf": token}, cookies=session
    )
    assert honest.status_code == 303
    context.close()

    err = app.stop()
    assert not any(n in err for n in NAMES), err
    assert not re.search(r"/patients/\w+", err), err  # no access log of paths either
