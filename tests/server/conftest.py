"""Run a ServerManager on loopback inside the test's event loop."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from infrakit.server import ServerManager

STARTUP_LIMIT = 10.0


@asynccontextmanager
async def running(manager: ServerManager) -> AsyncIterator[str]:
    """Serve until the block ends, then stop gracefully; yields the base URL."""
    serving = asyncio.create_task(manager.serve_forever(status_stream=io.StringIO()))
    async with asyncio.timeout(STARTUP_LIMIT):
        while not manager.readiness.started:
            if serving.done():
                await serving  # raises the start-up failure
            await asyncio.sleep(0.01)
    try:
        yield manager.urls[0]
    finally:
        if not manager.readiness.draining:
            manager.request_shutdown()
        async with asyncio.timeout(STARTUP_LIMIT):
            assert await serving == 0
