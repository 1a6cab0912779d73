"""Giving a medication in the clinician app, as a nurse does it, for the browser tests.

:func:`give_medication` goes from the patient list to the patient's "Medicines", opens the
order's "Record a dose", fills the form, checks the five rights and saves; it fails if the app
warns of a duplicate dose unless ``confirm_duplicate`` is set (then it ticks "I have checked").
:func:`open_medicines` opens a patient's medicines screen. Selectors they rely on (stable):
the chart's link "Medicines", each order's link "Record a dose of <drug>", the radios "Given",
"Not given", "Held", the fields "Dose given", "Route", "Time", "Reason not given", "Comment",
the button "Check before saving", ``#five-rights``, ``#duplicate-warning``, the box "I have
checked: this dose is not a duplicate", ``#save`` and the ``.flash`` "Saved on device: <drug>".
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

__all__ = ["give_medication", "open_medicines"]


def open_medicines(page: Page, base: str, patient_name: str) -> None:
    """The patient's medicines screen, from the patient list."""
    page.goto(f"{base}/patients")
    page.get_by_role("link", name=patient_name).click()
    expect(page.locator(".banner h1")).to_have_text(patient_name)
    page.get_by_role("link", name="Medicines", exact=True).click()
    expect(page.get_by_role("heading", name="Active orders")).to_be_visible()


def give_medication(
    page: Page,
    base: str,
    patient_name: str,
    drug: str,
    *,
    outcome: str = "Given",
    dose: str | None = None,
    route: str | None = None,
    time: str | None = None,
    reason: str | None = None,
    comment: str | None = None,
    confirm_duplicate: bool = False,
    stop_at_confirm: bool = False,
) -> None:
    """Record a dose of ``drug`` for ``patient_name``; the form's defaults (the order's dose
    and route, now) unless given. ``outcome``: "Given", "Not given" or "Held"; ``reason``: a
    "Reason not given" label ("Patient refused", "Nil by mouth", ...). ``stop_at_confirm``:
    leave the page at the five-rights step without saving."""
    open_medicines(page, base, patient_name)
    page.get_by_role("link", name=f"Record a dose of {drug}").click()
    page.get_by_label(outcome, exact=True).check()
    for label, value in (("Dose given", dose), ("Route", route), ("Time", time)):
        if value is not None:
            page.get_by_label(label, exact=True).fill(value)
    if reason is not None:
        page.get_by_label("Reason not given").select_option(label=reason)
    if comment is not None:
        page.get_by_label("Comment", exact=True).fill(comment)
    page.get_by_role("button", name="Check before saving").click()
    expect(page.locator("#five-rights")).to_contain_text(drug)
    if stop_at_confirm:
        return
    if page.locator("#duplicate-warning").count():
        assert confirm_duplicate, page.locator("#duplicate-warning").inner_text()
        page.get_by_label("I have checked: this dose is not a duplicate").check()
    page.locator("#save").click()
    expect(page.locator(".flash")).to_contain_text(f"Saved on device: {drug}")
