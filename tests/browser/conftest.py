"""A headless Chromium driven by Playwright's sync API, on the system's browser.

The browser is Debian's `chromium` at $INFRAKIT_CHROMIUM (default /usr/bin/chromium),
never a `playwright install` download. When the binary or the `playwright` package is
missing the test is skipped with the reason, or fails under INFRAKIT_REQUIRE_SERVICES=1
like the PostgreSQL and Redis fixtures, so CI never passes without a browser.

The sync API suits plain (non-async) tests: it runs its own event loop, which must not
be nested in pytest-asyncio's.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import pytest

from tests.conftest import skip_or_fail

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Error, Page

DEFAULT_CHROMIUM = "/usr/bin/chromium"


def chromium_executable() -> Path:
    path = Path(os.environ.get("INFRAKIT_CHROMIUM", DEFAULT_CHROMIUM))
    if not os.access(path, os.X_OK):
        skip_or_fail(
            f"Chromium is not available at $INFRAKIT_CHROMIUM: {path} is not an executable"
            " (apt-get install chromium chromium-driver)"
        )
    return path


def playwright_sync_api() -> ModuleType:
    try:
        return importlib.import_module("playwright.sync_api")
    except ImportError as error:
        skip_or_fail(f"the playwright package is not installed ({error}; pip install playwright)")


@pytest.fixture
def browser() -> Iterator[Browser]:
    """A headless Chromium without the sandbox (CI runs as root, where it cannot start)."""
    executable = chromium_executable()
    sync_api = playwright_sync_api()
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=executable, headless=True, chromium_sandbox=False
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def console_errors(page: Page) -> list[str]:
    """What the page logged with console.error or threw uncaught, for failure messages."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"console.error: {message.text}")

    def on_page_error(error: Error) -> None:
        errors.append(f"uncaught: {error.message}")

    page.on("console", on_console)
    page.on("pageerror", on_page_error)
    return errors
