"""`infrakit serve|db|jobs` and `python -m infrakit.server`."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from pathlib import Path

import httpx
import pytest

from infrakit.server._cli import main

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 30.0


def test_help_names_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    text = capsys.readouterr().out
    for command in ("serve", "db", "jobs"):
        assert re.search(rf"^\s+{command}\s", text, re.MULTILINE), command


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert "usage: infrakit" in capsys.readouterr().err


def test_db_delegates_to_the_db_tool(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "create", "add_users", str(tmp_path)]) == 0
    assert [path.name for path in tmp_path.iterdir()] == ["0001_add_users.sql"]
    assert "0001_add_users.sql" in capsys.readouterr().out


def test_jobs_delegates_to_the_jobs_tool(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["jobs", "--help"])
    assert exited.value.code == 0
    assert "worker" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("reference", "reason"),
    [
        ("no_such_module_here:app", "cannot import module 'no_such_module_here'"),
        ("tests.server.apps:nothing", "has no attribute 'nothing'"),
        ("tests.server.apps", "is not module:attribute"),
    ],
)
def test_a_bad_app_reference_is_explained(
    reference: str, reason: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", reference]) == 2
    error = capsys.readouterr().err
    assert reason in error
    assert "Traceback" not in error


def test_a_bad_option_names_the_field(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "tests.server.apps:app", "--port", "70000"]) == 2
    assert "port" in capsys.readouterr().err


async def test_python_m_infrakit_server_serves_and_stops_on_sigterm() -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "infrakit.server",
        "tests.server.apps:app",
        "--infra",
        "tests.server.infra_factory:make_infra",
        "--port",
        "0",
        "--drain-delay",
        "0",
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stderr is not None
        banner = await _banner(process.stderr)
        url = next(x.split()[-1] for x in banner if x.lstrip().startswith("listening on http"))
        assert "  cache: healthy" in banner
        async with httpx.AsyncClient() as http:
            assert (await http.get(f"{url}/hello")).text == "hello"
            assert (await http.get(f"{url}/readyz")).json()["status"] == "ready"
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(LIMIT):
            assert await process.wait() == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _banner(stderr: asyncio.StreamReader) -> list[str]:
    """The start-up banner's lines, up to its last one (services are sorted: pubsub last)."""
    lines: list[str] = []
    async with asyncio.timeout(LIMIT):
        while not lines or not lines[-1].startswith("  pubsub:"):
            line = (await stderr.readline()).decode()
            assert line, f"the server exited before its banner: {lines}"
            lines.append(line.rstrip("\n"))
    return lines
