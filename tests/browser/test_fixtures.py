"""The browser fixtures: a working Chromium, and a skip or failure naming what is missing."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).parent / "conftest.py").read_text(encoding="utf-8")

TEST_FILE = """
import sys

def test_without_chromium(request, monkeypatch):
    monkeypatch.setenv("INFRAKIT_CHROMIUM", "/nonexistent/chromium")
    request.getfixturevalue("browser")

def test_without_playwright(request, monkeypatch):
    monkeypatch.setenv("INFRAKIT_CHROMIUM", sys.executable)
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    request.getfixturevalue("browser")
"""

TRIVIAL_PAGE = b"""<!doctype html>
<title>trivial</title>
<p id="status">loading</p>
<button id="go" onclick="document.getElementById('status').textContent = 'clicked'">go</button>
<script>
  document.getElementById("status").textContent = "ready";
  console.error("a logged error");
</script>
"""


@pytest.fixture
def missing(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(TEST_FILE)
    return pytester


def test_missing_browser_skips_with_the_reason(
    missing: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INFRAKIT_REQUIRE_SERVICES", raising=False)
    result = missing.runpytest_subprocess("-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines_random(
        [
            "*Chromium is not available at $INFRAKIT_CHROMIUM: /nonexistent/chromium is not*",
            "*the playwright package is not installed*",
        ]
    )


def test_missing_browser_fails_when_required(
    missing: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFRAKIT_REQUIRE_SERVICES", "1")
    result = missing.runpytest_subprocess()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["*INFRAKIT_REQUIRE_SERVICES=1*"])


class TrivialPage(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(TRIVIAL_PAGE)))
        self.end_headers()
        self.wfile.write(TRIVIAL_PAGE)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the page, not the access log."""


@pytest.fixture
def trivial_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), TrivialPage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


@pytest.mark.slow
def test_the_browser_runs_a_page(trivial_url: str, page: Page, console_errors: list[str]) -> None:
    page.goto(trivial_url)
    page.wait_for_function("document.getElementById('status').textContent === 'ready'")
    page.click("#go")
    assert page.text_content("#status") == "clicked"
    assert console_errors == ["console.error: a logged error"]
