"""Debian's Chromium driven by Playwright: a real browser, never a downloaded one.

A `Tab` keeps what the page logged (console messages, failed requests, CORS refusals) so that a
failing test can say what the browser saw, not only that a selector never appeared.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Page, Playwright, Request, Response
from playwright.sync_api import TimeoutError as PlaywrightTimeout

CHROMIUM = Path("/usr/bin/chromium")
STEP_TIMEOUT_MS = 20_000


def launch(playwright: Playwright) -> Browser:
    # Chromium's sandbox refuses to start as root (CI runs as root); nothing untrusted is loaded.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=args)


@dataclass
class Tab:
    page: Page
    log: list[str] = field(default_factory=list)
    navigations: list[str] = field(default_factory=list)

    @classmethod
    def open(cls, browser: Browser) -> Tab:
        page = browser.new_context().new_page()
        page.set_default_timeout(STEP_TIMEOUT_MS)
        tab = cls(page)
        page.on("console", lambda m: tab.log.append(f"console.{m.type}: {m.text}"))
        page.on("pageerror", lambda e: tab.log.append(f"page error: {e}"))
        page.on(
            "requestfailed",
            lambda r: tab.log.append(f"request failed: {r.method} {r.url} ({r.failure})"),
        )
        page.on("response", tab._log_refusal)
        page.on("request", tab._note_navigation)
        return tab

    def _note_navigation(self, request: Request) -> None:
        if request.is_navigation_request() and request.frame == self.page.main_frame:
            self.navigations.append(request.url)

    def _log_refusal(self, response: Response) -> None:
        if response.status >= 400:
            self.log.append(f"{response.request.method} {response.url} -> {response.status}")

    def close(self) -> None:
        self.page.context.close()

    def describe(self) -> str:
        """Where the browser is, what the page says, and what it logged."""
        try:
            text = self.page.inner_text("body", timeout=2_000)
        except Exception as exc:  # a page mid-navigation or crashed still gets described
            text = f"<no body text: {exc}>"
        lines = [f"URL: {self.page.url}", f"Page text: {' '.join(text.split())[:3000]}"]
        lines += self.log[-40:] or ["(nothing logged)"]
        return "\n  ".join(lines)


def sign_in_and_allow(tab: Tab, username: str, password: str) -> None:
    """Use Bedside's sign-in page, then press Allow on its consent page, as a person would."""
    page = tab.page
    try:
        page.wait_for_selector(
            "input[name=username][autocomplete=username], body[data-state=error]"
        )
    except PlaywrightTimeout:
        raise AssertionError(f"No sign-in form appeared.\n  {tab.describe()}") from None
    if page.locator("body[data-state=error]").count():
        raise AssertionError(f"The app failed before sign-in.\n  {tab.describe()}")
    page.fill("input[name=username][autocomplete=username]", username)
    page.fill("input[name=password][type=password]", password)
    page.get_by_role("button", name="Sign in").click()
    allow = page.get_by_role("button", name="Allow", exact=True)
    try:
        allow.wait_for()
    except PlaywrightTimeout:
        raise AssertionError(f"No consent page with an Allow button.\n  {tab.describe()}") from None
    ticked = page.locator("input[type=checkbox][name=type]")
    assert ticked.count() > 0, f"The consent page lists no access to tick.\n  {tab.describe()}"
    allow.click()
