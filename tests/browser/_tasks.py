"""Browser helpers for the clinician app's Tasks and review screens, for story tests.

* :func:`edit_task` opens a patient from "My patients", goes to their tasks from the chart
  ("Update tasks"), opens the task by its text, and saves a status move (by FHIR status code:
  only the moves the state machine allows are on the page), a reason for a stopping move, and
  a note, as a clinician would; it returns once the app says "Saved on device".
* :func:`open_review_item` opens the outbox ("Sync and outbox") and the first needs-review
  (or rejected) item whose line holds ``text``; it returns the item's outbox seq.
* :func:`sync_until` presses "Sync now" until the outbox shows what ``done`` looks for.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from playwright.sync_api import Page, expect

__all__ = ["edit_task", "open_review_item", "sync_until"]


def edit_task(
    page: Page,
    base: str,
    patient_name: str,
    task_text: str,
    status: str | None = None,
    note: str | None = None,
    *,
    reason: str | None = None,
    description: str | None = None,
) -> None:
    """Change one task of ``patient_name`` through the app's screens (see the module doc)."""
    page.goto(f"{base}/patients")
    page.get_by_role("link", name=patient_name).first.click()
    expect(page.locator(".banner h1")).to_have_text(patient_name)
    page.get_by_role("link", name="Update tasks").click()
    page.get_by_role("link", name=re.compile(re.escape(task_text))).first.click()
    expect(page.locator("#task-form")).to_be_visible()
    if status is not None:
        page.locator(f'#task-form input[name="status"][value="{status}"]').check()
    if reason is not None:
        page.get_by_label(re.compile(r"^Why")).fill(reason)
    if description is not None:
        page.get_by_label("Description", exact=True).fill(description)
    if note is not None:
        page.get_by_label("Note", exact=True).fill(note)
    page.get_by_role("button", name="Save on device").click()
    expect(page.locator(".flash").first).to_contain_text("Saved on device")


def open_review_item(page: Page, base: str, text: str = "", *, state: str = "Needs review") -> int:
    """Open the first ``state`` ("Needs review" or "Rejected") item listing ``text``; its seq."""
    page.goto(f"{base}/sync")
    heading = page.get_by_role("heading", name=re.compile(state))
    section = page.locator("section.outbox", has=heading)
    section.locator("a", has_text=text).first.click()
    page.wait_for_url(re.compile(r"/sync/item/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def sync_until(page: Page, base: str, done: Callable[[str], bool], timeout: float = 60) -> None:
    """Press "Sync now" (again, if need be) until ``done(the outbox page's text)`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        page.goto(f"{base}/sync")
        if done(page.locator("main").inner_text()):
            return
        assert time.monotonic() < deadline, "the outbox never showed what was expected"
        page.get_by_role("button", name="Sync now").click()
        expect(page.locator("#sync-message")).not_to_have_text("Starting sync.", timeout=30_000)
        time.sleep(1)
