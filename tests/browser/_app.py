"""The clinician app as a user meets it: `bedside device app` in its own process, Chromium.

:class:`AppProcess` starts ``bedside device app --home DIR --no-browser`` and reads the launch
URL from the last line of its standard output (as a script would). :func:`axe_check` runs
axe-core inside the page (injected over the DevTools protocol, so the app's CSP stays as it is)
and fails on any serious or critical violation. :func:`shoot` saves a screenshot into docs/img/
at the page's current width.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "tests" / "browser" / "js" / "node_modules" / "axe-core" / "axe.min.js"
IMG = ROOT / "docs" / "img"
WIDTHS = (390, 1280)


@dataclass
class AppProcess:
    home: Path
    process: subprocess.Popen[str]
    url: str
    stderr: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, home: Path, *, port: int = 0, extra: tuple[str, ...] = ()) -> AppProcess:
        env = {**os.environ, "BEDSIDE_DEVICE_KEYSTORE": "file", "NO_COLOR": "1"}
        args = [sys.executable, "-m", "bedside", "device", "app", "--home", str(home)]
        args += ["--no-browser", *(["--port", str(port)] if port else []), *extra]
        process = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        assert process.stdout is not None
        url = process.stdout.readline().strip()  # the launch URL is the last line it prints
        if not url.startswith("http://127.0.0.1:"):
            process.kill()
            raise AssertionError(f"no launch URL: {url!r} {process.communicate(timeout=10)}")
        return cls(home, process, url)

    @property
    def base(self) -> str:
        return self.url.split("/launch", 1)[0]

    @property
    def port(self) -> int:
        return int(self.base.rsplit(":", 1)[1])

    def stop(self) -> str:
        """Ctrl+C (the app locks the device on its way out); what it wrote to stderr."""
        self.process.terminate()
        try:
            _, err = self.process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            _, err = self.process.communicate(timeout=10)
        return err


def axe_check(page: Page, screen: str) -> None:
    """No serious or critical axe-core violation on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text("utf-8"))
    found: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    bad = [v for v in found["violations"] if v.get("impact") in ("serious", "critical")]
    details = [
        f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
        for v in bad
    ]
    assert not bad, f"axe-core on {screen}:\n  " + "\n  ".join(details)


def shoot(page: Page, name: str) -> Path:
    """docs/img/clinician-app-<name>-<width>.png, the whole page."""
    IMG.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    path = IMG / f"clinician-app-{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def every_width(page: Page, name: str, url: str | None = None) -> None:
    """The screen at 390 and 1280 px: axe-checked and photographed at each; back to 390."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        if url is not None:
            page.goto(url)
        axe_check(page, f"{name} at {width} px")
        shoot(page, name)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})
