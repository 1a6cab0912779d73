"""The clinician app's front door (issue 16, "A local web server that is safe on a shared
device"), in-process over a real device home: the launch token, the session cookie, the Host
check, CSRF on every state change, and the headers of every answer. The same, against the
real `bedside device app` process and Chromium, is tests/browser/test_clinician_app_security.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bedside.auth.keys import SigningKeys, load_or_create
from bedside.device.app.guard import CSP
from bedside.device.secret import ENV_KEYSTORE
from tests.integration._app_world import BASE, COMPLETE, PORT, AppWorld, app_world

#: Every page and endpoint the app has (the item ids are the test home's).
GETS = (
    "/",
    "/unlock",
    "/patients",
    "/patients/p1",
    "/patients/p1/section/problems",
    "/patients/p1/item/Condition/c1-p1",
    "/patients/p1/observe",
    "/patients/p1/news2",
    "/sync",
    "/sync/progress",
    "/status.json",
    "/static/app.css",
    "/static/app.js",
    "/static/icon.svg",
)
#: Every state change: (path, form or JSON body)
POSTS = (
    ("/unlock", {"pin": "000000", "next": "/patients"}),
    ("/lock", {}),
    ("/patients/search", {"q": "Alba"}),
    ("/patients/p1/observe", {**COMPLETE, "patient": "p1", "draft": ""}),
    ("/patients/p1/observe/score", {"patient": "p1", "fields": COMPLETE}),
    ("/patients/p1/observe/draft", {"patient": "p1", "fields": COMPLETE}),
    ("/sync", {}),
    ("/patients/p1/pin", {"patient": "p1", "action": "pin"}),
)
NAMES = ("Alba", "Quennell", "Brin", "Ottaway", "Cai", "Pemberton", "1950-02-03")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SigningKeys:
    return load_or_create(tmp_path_factory.mktemp("server"))


@pytest.fixture
def fresh(tmp_path: Path, keys: SigningKeys, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppWorld]:
    monkeypatch.setenv(ENV_KEYSTORE, "file")
    world = app_world(tmp_path / "home", keys, launched=False)
    yield world
    world.node.lock()


def assert_guarded(answer: httpx.Response) -> None:
    """The headers every answer carries, whatever it is."""
    where = f"{answer.request.method} {answer.request.url.path} -> {answer.status_code}"
    assert answer.headers.get("cache-control") == "no-store", where
    assert answer.headers.get("content-security-policy") == CSP, where
    assert answer.headers.get("x-frame-options") == "DENY", where
    assert answer.headers.get("x-content-type-options") == "nosniff", where
    assert not [h for h in answer.headers if h.lower().startswith("access-control-")], where


def is_json(path: str) -> bool:
    return path.endswith(("/score", "/draft"))


def send(world: AppWorld, path: str, body: dict, **headers: str) -> httpx.Response:
    if is_json(path):
        return world.client.post(path, json=body, headers=headers, follow_redirects=False)
    return world.client.post(path, data=body, headers=headers, follow_redirects=False)


def test_nothing_answers_without_the_session_of_the_launch_url(fresh: AppWorld) -> None:
    for path in GETS:
        answer = fresh.get(path)
        assert answer.status_code == 403, path
        assert "only in the browser window that Bedside started" in answer.text
        assert_guarded(answer)
    for path, body in POSTS:
        answer = send(fresh, path, body)
        assert answer.status_code == 403, path
        assert_guarded(answer)
    forged = fresh.client.get("/patients", cookies={fresh.gate.cookie: "guessed"})
    assert forged.status_code == 403


def test_the_launch_token_is_single_use_and_a_wrong_one_spends_nothing(fresh: AppWorld) -> None:
    url = fresh.gate.launch_url().removeprefix(BASE)
    wrong = fresh.get("/launch?token=not-the-token")
    assert wrong.status_code == 403 and "set-cookie" not in wrong.headers
    first = fresh.get(url)
    assert first.status_code == 303 and first.headers["location"] == "/unlock"
    cookie = first.headers["set-cookie"]
    assert cookie.startswith(f"bedside_app_{PORT}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert_guarded(first)
    assert fresh.get("/unlock").status_code == 200
    fresh.client.cookies.clear()
    again = fresh.get(url)  # the URL seen in a screenshot, a history, a shoulder
    assert again.status_code == 403 and "set-cookie" not in again.headers
    assert fresh.get("/unlock").status_code == 403
    assert fresh.gate.launch_url() == ""


def test_only_the_apps_own_loopback_host_is_answered(fresh: AppWorld) -> None:
    fresh.launch()
    assert fresh.get("/unlock", headers={"host": f"localhost:{PORT}"}).status_code == 200
    for host in ("rebind.example", f"rebind.example:{PORT}", f"127.0.0.1:{PORT + 1}", "127.0.0.1"):
        answer = fresh.get("/unlock", headers={"host": host})
        assert answer.status_code == 403, host
        assert "answers only at its own loopback address" in answer.text
        assert_guarded(answer)


def test_every_state_change_needs_the_csrf_token_from_the_same_origin(fresh: AppWorld) -> None:
    fresh.launch()
    assert fresh.unlock().status_code == 303
    token = fresh.csrf
    for path, body in POSTS:
        form = dict(body)
        for label, headers in (
            ("no token", {}),
            ("wrong token", {"X-CSRF-Token": "x" * len(token)}),
            ("other origin", {"X-CSRF-Token": token, "Origin": "http://rebind.example"}),
            ("cross-site", {"X-CSRF-Token": token, "Sec-Fetch-Site": "cross-site"}),
        ):
            answer = send(fresh, path, form, **headers)
            assert answer.status_code == 403, (path, label)
            assert "This form is out of date" in answer.text
            assert_guarded(answer)
    assert fresh.node.outbox() == [] and fresh.node.drafts() == []
    assert fresh.node.unlocked  # the refused /lock did not lock
    done = fresh.post("/patients/p1/observe", {**COMPLETE, "patient": "p1", "draft": ""})
    assert done.status_code == 303 and len(fresh.node.outbox()) == 8


def test_every_answer_is_no_store_with_the_csp_and_there_is_no_cors(fresh: AppWorld) -> None:
    fresh.launch()
    fresh.unlock()
    cross = {"Origin": "http://rebind.example"}
    for path in GETS:
        answer = fresh.get(path, headers=cross)
        assert answer.status_code in (200, 303), (path, answer.status_code)
        assert_guarded(answer)
    for path in ("/nowhere", "/patients/p1/section/nothing", "/patients/stranger"):
        assert_guarded(fresh.get(path))
    preflight = fresh.client.options(
        "/patients/p1/observe/score",
        headers={**cross, "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 405
    assert_guarded(preflight)
    for path, body in POSTS[2:]:
        headers = {"X-CSRF-Token": fresh.csrf}
        assert_guarded(send(fresh, path, body, **headers))
    assert "script-src 'self'" in CSP and "style-src 'self'" in CSP and "unsafe" not in CSP


def test_no_page_puts_a_name_or_birth_date_in_a_url(fresh: AppWorld) -> None:
    fresh.launch()
    fresh.unlock()
    fresh.post("/patients/p1/observe", {**COMPLETE, "patient": "p1", "draft": ""})
    seen: set[str] = set()
    pending = ["/patients"]
    while pending:
        path = pending.pop()
        if path in seen or not path.startswith("/") or path.startswith("/static"):
            continue
        seen.add(path)
        answer = fresh.get(path)
        if answer.status_code != 200 or "text/html" not in answer.headers["content-type"]:
            continue
        links = re.findall(r'(?:href|action)="([^"]+)"', answer.text)
        for link in links:
            assert not any(n.lower() in link.lower() for n in NAMES), (path, link)
        pending.extend(links)
    assert len(seen) > 15  # the crawl reached the charts, items, forms and outbox
    assert "/patients/p1/news2" in seen and any("/item/Observation/" in p for p in seen)
