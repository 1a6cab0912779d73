"""Fixtures for the clinician app's browser tests: Debian's Chromium (never a downloaded one,
`make chromium`) driving the real `bedside device app` process, with axe-core from the npm lock
in tests/browser/js (`make browser-js`) injected into every screen.

Without Chromium or axe-core these tests skip with the remedy, except under CI=true, where
they fail: CI must run them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.browser._app import AXE
from tests.interop._chromium import CHROMIUM, launch

IN_CI = os.environ.get("CI", "").lower() == "true"


def require(problem: str | None, remedy: str) -> None:
    if problem is None:
        return
    if IN_CI:
        pytest.fail(f"{problem}; CI must run the clinician app's browser tests: {remedy}.")
    pytest.skip(f"{problem}; {remedy} to run the clinician app's browser tests.")


@pytest.fixture(scope="module")  # not session: Playwright's loop must not outlive these modules
def browser() -> Iterator[Browser]:
    require(None if CHROMIUM.exists() else f"{CHROMIUM} is missing", "run `make chromium`")
    require(None if AXE.exists() else f"{AXE} is missing", "run `make browser-js`")
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(autouse=True)
def _file_keystore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BEDSIDE_DEVICE_KEYSTORE", "file")  # no OS key store in CI
