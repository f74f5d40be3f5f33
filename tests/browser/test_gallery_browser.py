"""The gallery demo in a real browser: an upload through the page shows its thumbnail live.

The demo (examples/gallery/app.py) runs in a subprocess on embedded defaults; Chromium opens
its page, uploads a generated JPEG through the form and waits for the thumbnail that the
pub/sub message adds, without a reload. The screenshot lands in test-artifacts/gallery.png.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING

import pytest
from PIL import Image

if TYPE_CHECKING:
    from playwright.sync_api import Page

ROOT = Path(__file__).resolve().parents[2]
GALLERY_APP = ROOT / "examples" / "gallery" / "app.py"
SCREENSHOT = ROOT / "test-artifacts" / "gallery.png"
BANNER = re.compile(r"^gallery: open (http://\S+/)$")
# Variables that would switch the demo to its smoke run or to external servers.
FOREIGN_VARIABLES = {"APP_ENV", "CI", "DEMO_SMOKE", "DATABASE_URL", "CACHE_URL"}
START_SECONDS = 30
LIVE_MS = 30_000
THUMBNAIL_MS = 60_000
ERROR_MS = 15_000

LOADED_THUMBNAIL = """name => [...document.querySelectorAll("#gallery li.item img.thumbnail")]
    .some(img => img.alt === name && img.complete && img.naturalWidth > 0)"""
STATUS_LIVE = "document.getElementById('status').textContent === 'live'"
UPLOAD_ERROR = "document.getElementById('upload-error').textContent.trim()"


class Gallery:
    """The demo's process, its URL once it serves, and what it printed, for failure messages."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        environment = {k: v for k, v in os.environ.items() if k not in FOREIGN_VARIABLES}
        environment |= {"SERVER_PORT": "0", "GALLERY_DATA_DIR": str(data_dir)}
        self.log_path = log_path
        self.stdout: list[str] = []
        self.url = ""
        self._serving = threading.Event()
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, str(GALLERY_APP)],
                cwd=GALLERY_APP.parent,
                env=environment,
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
            )
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            self.stdout.append(line.rstrip("\n"))
            if (match := BANNER.match(self.stdout[-1])) and not self.url:
                self.url = match.group(1)
                self._serving.set()
        self._serving.set()

    def wait_serving(self) -> str:
        self._serving.wait(START_SECONDS)
        assert self.url, f"the gallery printed no 'gallery: open' line\n{self.output()}"
        return self.url

    def stop(self) -> int:
        """SIGTERM, as a process manager stops it; the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=START_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise

    def output(self) -> str:
        stderr = self.log_path.read_text(encoding="utf-8", errors="replace")
        stdout = "\n".join(self.stdout)
        return f"--- gallery stdout ---\n{stdout}\n--- gallery stderr (tail) ---\n{stderr[-4000:]}"


@pytest.fixture
def gallery(tmp_path: Path) -> Iterator[Gallery]:
    assert GALLERY_APP.exists(), f"the gallery demo is missing: {GALLERY_APP}"
    running = Gallery(tmp_path / "data", tmp_path / "gallery.log")
    try:
        yield running
    finally:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()
        if running.process.stdout is not None:
            running.process.stdout.close()


@contextmanager
def explained(page: Page, console_errors: list[str], gallery: Gallery) -> Iterator[None]:
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
    page: Page, console_errors: list[str], gallery: Gallery, tmp_path: Path
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
