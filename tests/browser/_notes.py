"""Notes and sign-off as a clinician does them in the app, for browser tests (issue 19).

Each helper starts from the patient list, so a story test can call it on any screen:

* :func:`draft_note` opens the patient's chart, "Write a note", types ``text`` (after any draft
  already there) and waits until the page says the draft is kept on the device (one autosave
  tick): the note is then a draft in the encrypted store, nothing recorded.
* :func:`finish_note` opens the patient's note (the draft comes back), optionally sets the
  title or adds ``more`` text, presses "Finish note" and waits for "Saved on device".
* :func:`sign_off` opens the patient's chart, follows "Sign off: <title>", checks the page says
  the sign-off will be checked at sync, presses "Sign off" and waits for the confirmation.
* :func:`app_shot` saves docs/img/app-<name>-<width>.png (the names this issue's docs use).
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser._app import IMG, WIDTHS, axe_check

__all__ = ["app_shot", "draft_note", "finish_note", "open_chart", "shots", "sign_off"]

KEPT = "Draft kept on this device"
CHECKED = "This sign-off will be checked when the device syncs"


def open_chart(page: Page, base: str, patient_name: str) -> None:
    page.goto(f"{base}/patients")
    page.get_by_role("link", name=patient_name).first.click()
    expect(page.locator(".banner h1")).to_have_text(patient_name)


def draft_note(page: Page, base: str, patient_name: str, text: str) -> None:
    """Type ``text`` into the patient's note and wait for one autosave tick."""
    open_chart(page, base, patient_name)
    page.get_by_role("link", name="Write a note").click()
    box = page.get_by_label(f"Progress note for {patient_name}")
    box.press("Control+End")  # the end of the text, not of a wrapped line
    box.press_sequentially(text, delay=5)
    expect(page.locator("#n-kept")).to_contain_text(KEPT, timeout=15_000)


def finish_note(
    page: Page, base: str, patient_name: str, *, title: str | None = None, more: str = ""
) -> None:
    """Open the patient's note (its draft comes back), add ``more``, and finish it."""
    open_chart(page, base, patient_name)
    page.get_by_role("link", name="Write a note").click()
    if title is not None:
        page.get_by_label("Title (optional)").fill(title)
    if more:
        box = page.get_by_label(f"Progress note for {patient_name}")
        box.press("Control+End")  # the end of the text, not of a wrapped line
        box.press_sequentially(more, delay=5)
    page.get_by_role("button", name="Finish note").click()
    expect(page.locator(".flash").first).to_contain_text("Saved on device")


def sign_off(page: Page, base: str, patient_name: str, title: str) -> None:
    """Sign off the patient's document called ``title`` (a doctor's device)."""
    open_chart(page, base, patient_name)
    page.get_by_role("link", name=f"Sign off: {title}").first.click()
    expect(page.locator("#checked-at-sync")).to_contain_text(CHECKED)
    page.get_by_role("button", name="Sign off", exact=True).click()
    expect(page.locator(".flash").first).to_contain_text(f"Signed off on this device: {title}")


def app_shot(page: Page, name: str) -> Path:
    """docs/img/app-<name>-<width>.png, the whole page."""
    IMG.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    path = IMG / f"app-{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def shots(page: Page, name: str) -> None:
    """The screen as it is, axe-checked and photographed at 390 and 1280 px; back to 390."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        axe_check(page, f"{name} at {width} px")
        app_shot(page, name)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})
