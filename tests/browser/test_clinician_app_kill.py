"""Kill the app (SIGKILL, no chance to clean up) and nothing is lost or doubled (issue 19).

1. **While a note is typed.** `bedside device app` runs on a nurse's real device home; in
   Chromium she types into a note, the page keeps it (one autosave tick: "Draft kept on this
   device"), she types more and the app process is killed at once. Started again and unlocked,
   the note holds at least what was typed before the tick. The bound is documented in
   docs/clinician-app.md: at most the last :data:`~bedside.device.app.notes.TICK_SECONDS`
   seconds of typing.
2. **While a sync is in flight.** The app reaches the server through a loopback HTTP proxy
   (``HTTP_PROXY``, which the device's HTTP client honours) that forwards the push, lets the
   server commit it, and holds the answer back; the app is killed while it waits. Started again
   (no proxy) and synced, the server holds every event exactly once and the device's outbox has
   each event once, confirmed.

And the gentler interruptions the autosave's page events cover: leaving the note for another
page, or closing the window, before a tick has come keeps what was typed (``pagehide``).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from bedside.device import Node
from tests.browser._app import AppProcess
from tests.browser._notes import KEPT, open_chart
from tests.integration._smart import Smart, smart_server
from tests.integration._sync_e2e import OPENED, Phone, enroll_phone, observation, settled, versions
from tests.integration.test_device_cli import PIN

NAME = "Ewan Fairley"
HOP = frozenset({"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te"})


@pytest.fixture(scope="module")
def smart(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Smart]:
    with smart_server(tmp_path_factory, "sqlite") as s:
        yield s


@pytest.fixture
def phone(smart: Smart, tmp_path: Path) -> Iterator[Phone]:
    stamp = int(time.time() * 1000) % 10**8
    practitioner = smart.create({"resourceType": "Practitioner", "name": [{"family": "Nurse"}]})
    username = f"nurse-{stamp}"
    smart.add_user(username, "nurse", f"Practitioner/{practitioner}")
    pid = smart.create(
        {
            "resourceType": "Patient",
            "name": [{"use": "official", "family": "Fairley", "given": ["Ewan"]}],
            "birthDate": "1961-07-30",
        }
    )
    smart.create(
        {
            "resourceType": "CareTeam",
            "status": "active",
            "subject": {"reference": f"Patient/{pid}"},
            "participant": [{"member": {"reference": f"Practitioner/{practitioner}"}}],
        }
    )
    found = enroll_phone(smart, username, tmp_path / "home", pid)
    yield found
    while OPENED:
        OPENED.pop().lock()


def hand_over(phone: Phone) -> None:
    """Lock the test's node: the app process opens the home next."""
    phone.node.lock()
    OPENED.remove(phone.node)


def unlock(page: Page, app: AppProcess) -> None:
    page.goto(app.url)
    page.get_by_label("PIN").fill(PIN)
    page.get_by_role("button", name="Unlock").click()
    page.wait_for_url(f"{app.base}/patients")


def kill(app: AppProcess) -> None:
    app.process.kill()  # SIGKILL: no lock, no cleanup, no last write
    app.process.wait(timeout=30)


def test_a_note_typed_when_the_app_is_killed_keeps_everything_before_the_last_tick(
    browser: Browser, phone: Phone
) -> None:
    home = phone.node.home
    hand_over(phone)
    app = AppProcess.start(home, extra=("--sync-every", "600"))
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    try:
        unlock(page, app)
        open_chart(page, app.base, NAME)
        page.get_by_role("link", name="Write a note").click()
        box = page.get_by_label(f"Progress note for {NAME}")
        box.press_sequentially("Wound dressing changed at 10:00.", delay=5)
        expect(page.locator("#n-kept")).to_contain_text(KEPT, timeout=15_000)  # one tick
        box.press_sequentially(" Exudate moderate", delay=5)
        kill(app)  # mid-sentence, before the next tick
    finally:
        context.close()
        if app.process.poll() is None:
            kill(app)

    again = AppProcess.start(home, extra=("--sync-every", "600"))
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    try:
        unlock(page, again)
        open_chart(page, again.base, NAME)
        expect(page.locator("#note-drafts")).to_contain_text("Wound dressing changed at 10:00.")
        page.get_by_role("link", name="Write a note").click()
        expect(page.get_by_text("Your unfinished note was kept as a draft")).to_be_visible()
        kept = page.get_by_label(f"Progress note for {NAME}").input_value()
        assert kept.startswith("Wound dressing changed at 10:00.")  # nothing before the tick lost
        assert "Wound dressing changed at 10:00. Exudate moderate".startswith(kept)
    finally:
        context.close()
        again.stop()


class HoldingProxy(ThreadingHTTPServer):
    """A forward HTTP proxy on loopback that holds back the answer to ``/sync/push``: the
    server has committed the push, the device has not heard (``pushed`` is set meanwhile)."""

    daemon_threads = True

    def __init__(self, hold: float) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.hold = hold
        self.pushed = threading.Event()
        self.upstream = httpx.Client(trust_env=False, timeout=60)


class _Forward(BaseHTTPRequestHandler):
    server: HoldingProxy

    def log_message(self, format: str, *args: object) -> None:  # quiet
        return

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        try:
            answer = self.server.upstream.request(
                self.command, self.path, headers=headers, content=body
            )
        except httpx.HTTPError:
            self.send_error(502)
            return
        if self.path.endswith("/sync/push"):
            self.server.pushed.set()
            time.sleep(self.server.hold)  # the device waits for an answer that comes too late
        self.send_response(answer.status_code)
        for key, value in answer.headers.items():
            if key.lower() not in HOP | {"content-length", "content-encoding"}:
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(answer.content)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = _forward
    do_POST = _forward


@contextmanager
def holding_proxy(hold: float) -> Iterator[HoldingProxy]:
    proxy = HoldingProxy(hold)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()
        proxy.upstream.close()


def test_killed_while_a_sync_is_in_flight_then_synced_again_nothing_is_lost_or_doubled(
    browser: Browser, phone: Phone, smart: Smart
) -> None:
    patient = phone.patient
    ids = [phone.record("create", observation(patient, 60 + n)) for n in range(3)]
    home = phone.node.home
    device_id = phone.device_id
    before = settled(smart, device_id)
    hand_over(phone)
    with holding_proxy(hold=60) as proxy:
        saved = {k: os.environ.get(k) for k in ("HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")}
        os.environ["HTTP_PROXY"] = f"http://127.0.0.1:{proxy.server_address[1]}"
        for key in ("http_proxy", "NO_PROXY", "no_proxy"):
            os.environ.pop(key, None)
        try:
            app = AppProcess.start(home, extra=("--sync-every", "600"))
        finally:
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        context = browser.new_context(viewport={"width": 390, "height": 900})
        page = context.new_page()
        try:
            unlock(page, app)
            page.goto(f"{app.base}/sync")
            page.get_by_role("button", name="Sync now").click()
            assert proxy.pushed.wait(60), "the push never reached the server"
            deadline = time.monotonic() + 30
            while settled(smart, device_id) < before + 3:  # the server committed the push
                assert time.monotonic() < deadline, "the server did not commit the push"
                time.sleep(0.2)
            kill(app)  # before the device heard the answer
        finally:
            context.close()
            if app.process.poll() is None:
                kill(app)

    node = Node(home)
    node.unlock(PIN)
    try:
        waiting = [e for e in node.outbox() if e.resource_id in ids]
        assert len(waiting) == 3 and all(e.state != "confirmed" for e in waiting)
    finally:
        node.lock()

    again = AppProcess.start(home, extra=("--sync-every", "600"))
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    try:
        unlock(page, again)
        page.goto(f"{again.base}/sync")
        page.get_by_role("button", name="Sync now").click()
        expect(page.locator("#sync-message")).to_contain_text("Sync finished", timeout=60_000)
    finally:
        context.close()
        again.stop()

    assert versions(smart, "Observation", ids) == 3  # each once on the server
    assert settled(smart, device_id) == before + 3  # and each settled once
    node = Node(home)
    node.unlock(PIN)
    try:
        events = [e for e in node.outbox() if e.resource_id in ids]
        assert len(events) == 3 and {e.state for e in events} == {"confirmed"}
        assert len({e.idempotency_key for e in events}) == 3
        assert sorted(i.id for i in node.chart(patient, "Observation") if i.id in ids) == sorted(
            ids
        )
    finally:
        node.lock()


def draft_shown(page: Page, base: str, words: str, timeout: float = 10.0) -> None:
    """The chart lists a note draft holding ``words`` (the last save may land a moment late)."""
    deadline = time.monotonic() + timeout
    while True:
        open_chart(page, base, NAME)
        drafts = page.locator("#note-drafts")
        if drafts.count() and words in drafts.inner_text():
            return
        assert time.monotonic() < deadline, f"no draft with {words!r} on the chart"
        time.sleep(0.5)


def test_leaving_or_closing_the_page_before_the_tick_keeps_the_note(
    browser: Browser, phone: Phone
) -> None:
    home = phone.node.home
    hand_over(phone)
    app = AppProcess.start(home, extra=("--sync-every", "600"))
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    try:
        unlock(page, app)
        open_chart(page, app.base, NAME)
        page.get_by_role("link", name="Write a note").click()
        page.get_by_label(f"Progress note for {NAME}").fill("Pain 2 out of 10.")
        page.get_by_role("link", name="My patients").click()  # at once: no tick yet
        page.wait_for_url(f"{app.base}/patients")
        draft_shown(page, app.base, "Pain 2 out of 10.")

        page.get_by_role("link", name="Write a note").click()
        box = page.get_by_label(f"Progress note for {NAME}")
        expect(box).to_have_value("Pain 2 out of 10.")
        box.press("End")
        box.press_sequentially(" Walked to the door.", delay=5)
        page.close()  # the window closed before the tick
        page = context.new_page()
        page.goto(f"{app.base}/patients")
        draft_shown(page, app.base, "Pain 2 out of 10. Walked to the door.")
    finally:
        context.close()
        app.stop()
