"""Shared fixtures: real services found through environment variables.

A test that needs PostgreSQL or Redis asks for `database_url` / `redis_url`. When the
server is not reachable the test is skipped with the reason, or fails instead when
`INFRAKIT_REQUIRE_SERVICES=1` (CI sets it), so a missing server never passes silently.
"""

from __future__ import annotations

import os
import socket
from typing import NoReturn
from urllib.parse import urlsplit

import pytest

from tests.recording import RecordingLogger

DEFAULT_DATABASE_URL = "postgresql://postgres@127.0.0.1:5432/test"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def services_required() -> bool:
    return os.environ.get("INFRAKIT_REQUIRE_SERVICES", "") in {"1", "true", "yes"}


def _reachable(url: str, default_port: int) -> str | None:
    """Return None when a TCP connection to the URL's host works, else the reason."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        with socket.create_connection((host, port), timeout=2):
            return None
    except OSError as error:
        return f"cannot connect to {host}:{port} ({error})"


def skip_or_fail(message: str) -> NoReturn:
    """Skip with the reason, or fail when the services are required (CI)."""
    if services_required():
        pytest.fail(f"{message} and INFRAKIT_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


def require_service(name: str, variable: str, url: str, default_port: int) -> str:
    reason = _reachable(url, default_port)
    if reason is None:
        return url
    skip_or_fail(f"{name} is not available at ${variable}: {reason}")


@pytest.fixture(scope="session")
def database_url() -> str:
    """The PostgreSQL test database (INFRAKIT_TEST_DATABASE_URL)."""
    url = os.environ.get("INFRAKIT_TEST_DATABASE_URL", DEFAULT_DATABASE_URL)
    return require_service("PostgreSQL", "INFRAKIT_TEST_DATABASE_URL", url, 5432)


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis test server (INFRAKIT_TEST_REDIS_URL)."""
    url = os.environ.get("INFRAKIT_TEST_REDIS_URL", DEFAULT_REDIS_URL)
    return require_service("Redis", "INFRAKIT_TEST_REDIS_URL", url, 6379)


@pytest.fixture
def recording_logger() -> RecordingLogger:
    """A fresh `RecordingLogger` (tests/recording.py) for asserting on what was logged."""
    return RecordingLogger()
