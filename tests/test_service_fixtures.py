"""The service fixtures skip with a reason, and fail under INFRAKIT_REQUIRE_SERVICES=1."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).parent / "conftest.py").read_text(encoding="utf-8")

TEST_FILE = """
def test_needs_database(database_url):
    assert database_url

def test_needs_redis(redis_url):
    assert redis_url
"""


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def unreachable(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    port = closed_port()
    monkeypatch.setenv("INFRAKIT_TEST_DATABASE_URL", f"postgresql://nobody@127.0.0.1:{port}/x")
    monkeypatch.setenv("INFRAKIT_TEST_REDIS_URL", f"redis://127.0.0.1:{port}/0")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(TEST_FILE)
    return pytester


def test_missing_servers_skip_with_the_reason(
    unreachable: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("INFRAKIT_REQUIRE_SERVICES", raising=False)
    result = unreachable.runpytest_subprocess("-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(
        [
            "*PostgreSQL is not available at $INFRAKIT_TEST_DATABASE_URL: cannot connect*",
            "*Redis is not available at $INFRAKIT_TEST_REDIS_URL: cannot connect*",
        ]
    )


def test_missing_servers_fail_when_required(
    unreachable: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INFRAKIT_REQUIRE_SERVICES", "1")
    result = unreachable.runpytest_subprocess()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(["*INFRAKIT_REQUIRE_SERVICES=1*"])
