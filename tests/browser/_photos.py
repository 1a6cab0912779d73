"""Browser steps for wound photos and home-visit consent, for this module's test and the
end-to-end story test: each drives the clinician app as a user does (links, labels, buttons)
and leaves the page on the patient's chart with the app's flash sentence checked.

* :func:`attach_photo` opens the patient from "My patients", follows "Add a wound photo",
  sets the file input to ``png_path`` (Playwright ``set_input_files``: what taking or picking
  a photo gives the page), types ``text`` and saves; the chart then lists the photo.
* :func:`record_consent` opens the patient, follows "Record a consent decision", picks
  agrees / does not agree, whom (a care team's name, or None for everyone caring for them) and
  the sensitive parts, and saves.
* :func:`write_png` makes a small valid PNG; :func:`shoot` saves docs/img/app-<name>-<width>.png.
"""

from __future__ import annotations

import zlib
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser._app import IMG, WIDTHS, axe_check

__all__ = ["attach_photo", "every_width", "open_patient", "record_consent", "shoot", "write_png"]


def write_png(path: Path, width: int = 64) -> Path:
    """A ``width`` x ``width`` PNG (a reddish square, like a dressing's edge) at ``path``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return len(data).to_bytes(4, "big") + body + zlib.crc32(body).to_bytes(4, "big")

    header = width.to_bytes(4, "big") * 2 + b"\x08\x02\x00\x00\x00"  # 8-bit RGB
    rows = b"".join(
        b"\x00" + b"".join(bytes((200, 90 + (x + y) % 60, 80)) for x in range(width))
        for y in range(width)
    )
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    return path


def shoot(page: Page, name: str) -> Path:
    """docs/img/app-<name>-<width>.png, the whole page."""
    IMG.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    path = IMG / f"app-{name}-{width}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def every_width(page: Page, name: str) -> None:
    """The page as it is at 390 and 1280 px: axe-checked and photographed; back to 390."""
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        axe_check(page, f"{name} at {width} px")
        shoot(page, name)
    page.set_viewport_size({"width": WIDTHS[0], "height": 900})


def open_patient(page: Page, base: str, patient_name: str) -> None:
    page.goto(f"{base}/patients")
    page.get_by_role("link", name=patient_name).first.click()
    expect(page.locator(".banner h1")).to_have_text(patient_name)


def attach_photo(page: Page, base: str, patient_name: str, png_path: Path, text: str) -> None:
    """Add a wound photo to ``patient_name``'s chart; on the chart afterwards."""
    open_patient(page, base, patient_name)
    page.get_by_role("link", name="Add a wound photo").click()
    page.get_by_label("Photo", exact=True).set_input_files(str(png_path))
    page.get_by_label("Description", exact=True).fill(text)
    page.get_by_role("button", name="Save photo on device").click()
    expect(page.locator(".flash")).to_contain_text("Saved on device: wound photo")
    expect(page.locator(".thumb", has_text=text).first).to_be_visible()


def record_consent(
    page: Page,
    base: str,
    patient_name: str,
    *,
    agrees: bool = True,
    who: str | None = None,
    sensitive: bool = False,
) -> None:
    """Record a consent decision for ``patient_name``; on the chart afterwards."""
    open_patient(page, base, patient_name)
    page.get_by_role("link", name="Record a consent decision").click()
    page.get_by_label("Agrees to share" if agrees else "Does not agree to share").check()
    page.get_by_label("With whom").select_option(label=who or "Everyone caring for them")
    if sensitive:
        page.get_by_label("Include the sensitive parts", exact=False).check()
    page.get_by_role("button", name="Save decision on device").click()
    expect(page.locator(".flash")).to_contain_text("Saved on device: consent decision")
