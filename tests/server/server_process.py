"""A real server process for the shutdown tests: prints `PORT <n>` once bound, then serves.

The app's own SIGTERM handler, installed before the server starts, writes a line to
stderr, so the test can see that the server kept it.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import tempfile
from types import FrameType

from infrakit import Infra
from infrakit.config import load_config
from infrakit.server import ServerConfig, ServerManager
from tests.server.apps import app


def _app_handler(signum: int, frame: FrameType | None) -> None:
    print(f"app handler saw signal {signum}", file=sys.stderr, flush=True)


async def main() -> int:
    directory = tempfile.mkdtemp()
    infra = (
        Infra.builder()
        .with_config(load_config("test", directory=directory, environ={}))
        .with_cache()
        .with_pubsub()
        .build()
    )
    config = ServerConfig(port=0, drain_delay=1.0, shutdown_timeout=10.0, access_log=False)
    manager = ServerManager(app, infra=infra, config=config)
    await manager.initialize()
    print(f"PORT {manager.port}", flush=True)
    return await manager.serve_forever()


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _app_handler)
    sys.exit(asyncio.run(main()))
