"""SIGTERM on a real server process with slow requests and a WebSocket client connected."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from tests.pubsub.conftest import client, wait_for

ROOT = Path(__file__).resolve().parents[2]
IN_FLIGHT = 200
SLOW_SECONDS = 3.0  # longer than the server's drain_delay (1 s), shorter than its deadline
LIMIT = 30.0

pytestmark = pytest.mark.slow


@asynccontextmanager
async def server_process() -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.server.server_process",
        cwd=ROOT,
        env={**os.environ, "NO_COLOR": "1"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert process.stdout is not None
        async with asyncio.timeout(LIMIT):
            line = (await process.stdout.readline()).decode()
        assert line.startswith("PORT "), line
        yield process, f"127.0.0.1:{line.split()[1]}"
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _in_flight(http: httpx.AsyncClient, base: str) -> float:
    text = (await http.get(f"{base}/metrics")).text
    line = next(x for x in text.splitlines() if x.startswith("infrakit_http_requests_in_flight "))
    return float(line.split()[1])


async def test_sigterm_drains_requests_closes_websockets_and_exits_0() -> None:
    limits = httpx.Limits(max_connections=IN_FLIGHT + 10)
    async with (
        server_process() as (process, address),
        httpx.AsyncClient(limits=limits, timeout=LIMIT) as http,
    ):
        base = f"http://{address}"
        async with client(f"ws://{address}/ws") as ws:
            await ws.subscribe("news")
            slow = [
                asyncio.create_task(http.get(f"{base}/slow?{SLOW_SECONDS}"))
                for _ in range(IN_FLIGHT)
            ]

            async def all_in_flight() -> bool:
                return await _in_flight(http, base) >= IN_FLIGHT

            await wait_for(all_in_flight, LIMIT)
            process.send_signal(signal.SIGTERM)

            async def draining() -> bool:
                return (await http.get(f"{base}/readyz")).status_code == 503

            await wait_for(draining, LIMIT)
            assert not all(task.done() for task in slow)  # readiness failed first
            responses = await asyncio.gather(*slow)
            async with asyncio.timeout(LIMIT):
                await ws.connection.wait_closed()
        async with asyncio.timeout(LIMIT):
            code = await process.wait()
        assert process.stderr is not None
        log = (await process.stderr.read()).decode()
    assert [response.status_code for response in responses] == [200] * IN_FLIGHT
    assert ws.connection.close_code == 1001
    assert code == 0, log
    assert "app handler saw signal 15" in log  # the app's own handler was kept
    assert "components=['pubsub', 'cache']" in log  # the Infra closed in reverse


async def test_a_second_signal_forces_exit_1() -> None:
    async with server_process() as (process, address), httpx.AsyncClient(timeout=LIMIT) as http:
        base = f"http://{address}"
        stuck = asyncio.create_task(http.get(f"{base}/slow?60"))
        await wait_for(lambda: _at_least_one(http, base), LIMIT)
        process.send_signal(signal.SIGTERM)

        async def draining() -> bool:
            return (await http.get(f"{base}/readyz")).status_code == 503

        await wait_for(draining, LIMIT)
        process.send_signal(signal.SIGINT)
        async with asyncio.timeout(LIMIT):
            code = await process.wait()
        stuck.cancel()
    assert code == 1


async def _at_least_one(http: httpx.AsyncClient, base: str) -> bool:
    return await _in_flight(http, base) >= 1
