"""The gallery demo in a real browser: an upload through the page shows its thumbnail live.

The demo (examples/gallery/app.py) runs in a subprocess on embedded defaults; Chromium opens
its page, uploads a generated JPEG through the form and waits for the thumbnail that the
pub/sub message adds, without a reload. The screenshot lands in test-artifacts/gallery.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from PIL import Image

from tests.examples.gallery_process import GALLERY_APP, ROOT, RunningGallery, gallery_environment

if TYPE_CHECKING:
    from playwright.sync_api import Page

SCREENSHOT = ROOT / "test-artifacts" / "gallery.png"
LIVE_MS = 30_000
THUMBNAIL_MS = 60_000
ERROR_MS = 15_000

LOADED_THUMBNAIL = """name => [...document.querySelectorAll("#gallery li.item img.thumbnail")]
    .some(img => img.alt === name && img.complete && img.naturalWidth > 0)"""
STATUS_LIVE = "document.getElementById('status').textContent === 'live'"
UPLOAD_ERROR = "document.getElementById('upload-error').textContent.trim()"


@pytest.fixture
def gallery(tmp_path: Path) -> Iterator[RunningGallery]:
    assert GALLERY_APP.exists(), f"the gallery demo is missing: {GALLERY_APP}"
    running = RunningGallery(gallery_environment(tmp_path / "data"), tmp_path / "gallery.log")
    try:
        yield running
    finally:
        running.kill()


@contextmanager
def explained(page: Page, console_errors: list[str], gallery: RunningGallery) -> Iterator[None]:
    """On failure: a screenshot, and the page's console errors and the server's output in
    the message (a browser timeout alone says nothing about why)."""
    try:
        yield
    except Exception as error:
        page.screenshot(path=SCREENSHOT)
        console = "\n".join(console_errors) or "(none)"
        message = (
            f"{error}\n--- page console errors ---\n{console}\n{gallery.output()}"
            f"\n(screenshot: {SCREENSHOT})"
        )
        raise pytest.fail.Exception(message, pytrace=False) from None


def a_picture(path: Path) -> Path:
    picture = Image.linear_gradient("L").resize((320, 240)).convert("RGB")
    picture.save(path, "JPEG")
    return path


def upload(page: Page, file: Path) -> None:
    page.set_input_files("#file-input", file)
    page.click("#upload-button")


@pytest.mark.slow
def test_an_upload_shows_its_thumbnail_without_reloading(
    page: Page, console_errors: list[str], gallery: RunningGallery, tmp_path: Path
) -> None:
    SCREENSHOT.parent.mkdir(exist_ok=True)
    url = gallery.wait_serving()
    picture = a_picture(tmp_path / "gradient.jpg")
    with explained(page, console_errors, gallery):
        page.goto(url)
        page.wait_for_function(STATUS_LIVE, timeout=LIVE_MS)
        page.evaluate("window.notReloaded = true")
        upload(page, picture)
        page.wait_for_function(LOADED_THUMBNAIL, arg=picture.name, timeout=THUMBNAIL_MS)
        assert page.evaluate("window.notReloaded === true"), "the page was reloaded"
        assert page.url == url
        page.screenshot(path=SCREENSHOT)
        assert page.evaluate(UPLOAD_ERROR) == "", "an error is shown after a good upload"

        notes = tmp_path / "notes.txt"
        notes.write_text("not a picture\n", encoding="utf-8")
        upload(page, notes)
        page.wait_for_function(f"{UPLOAD_ERROR} !== ''", timeout=ERROR_MS)
        assert page.locator("#gallery li.item").count() == 1, "the text file is listed"
        assert page.evaluate("window.notReloaded === true"), "the page was reloaded"
    assert gallery.stop() == 0, gallery.output()
