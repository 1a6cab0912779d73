"""Break-glass in the clinician app, as a clinician does it (for this module's test and for
the end-to-end story test of issue 19).

:func:`break_glass` starts on "My patients", follows "A patient who is not on your list?",
enters the patient's id or full name, meets the refusal ("… is not among your patients"),
types the reason and the PIN again, opens the glass, and checks the chart says break-glass is
open. :func:`shoot_glass` saves docs/img/app-<name>-<width>.png; :func:`glass_widths` axe-checks
and photographs a screen at 390 and 1280 px.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser._app import IMG, WIDTHS, axe_check

__all__ = ["break_glass", "glass_widths", "refusal", "shoot_glass"]

FIND_LINK = "A patient who is not on your list?"
FIND_LABEL = "Patient's Bedside id, or their full name"
REASON_LABEL = "Why do you need this record now?"
PIN_LABEL = "Your PIN, again"
OPEN_BUTTON = "Open with break-glass"


def refusal(page: Page, base: str, patient_id_or_name: str) -> None:
    """Ask for the patient from "My patients"; the page must refuse them in plain words."""
    page.goto(f"{base}/patients")
    page.get_by_role("link", name=FIND_LINK).click()
    page.get_by_label(FIND_LABEL).fill(patient_id_or_name)
    page.get_by_role("button", name="Continue").click()
    expect(page.locator("h1")).to_contain_text("is not among your patients")
    expect(page.locator("p.error").first).to_contain_text("will not open their record")


def break_glass(page: Page, base: str, patient_id_or_name: str, pin: str, reason: str) -> None:
    """Refused, then opened with break-glass (the reason, then the PIN again); ends on the
    patient's chart with its break-glass note showing."""
    refusal(page, base, patient_id_or_name)
    page.get_by_label(REASON_LABEL).fill(reason)
    page.get_by_label(PIN_LABEL).fill(pin)
    page.get_by_role("button", name=OPEN_BUTTON).click()
    expect(page.locator("#glass-note")).to_contain_text("Break-glass access until")
    expect(page.locator(".flash")).to_contain_text("Break-glass is open")


def shoot_glass(page: Page, name: str) -> Path:
    IMG.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    path = IMG / f"app-{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def glass_widths(page: Page, name: str) -> None:
    """The screen as it is now at 390 and 1280 px, axe-checked and photographed; back to 390."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        axe_check(page, f"{name} at {width} px")
        shoot_glass(page, name)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})
