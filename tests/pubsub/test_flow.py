"""Flow control: a stalled client is handled by its policy and never delays the others."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest
from websockets.asyncio.client import connect

from infrakit.pubsub import PubSubService
from tests.pubsub.conftest import WireClient, client, running, wait_for

PAYLOAD = base64.b64encode(os.urandom(48 * 1024)).decode()  # incompressible: 64 KiB
MESSAGES = 150


class Reader:
    """Reads the fast client's messages and signals each one."""

    def __init__(self, ws: WireClient) -> None:
        self.ws, self.received, self.progress = ws, [], asyncio.Event()

    async def run(self) -> None:
        while len(self.received) < MESSAGES:
            self.received.append((await self.ws.recv_until("message", seconds=20.0))["data"]["n"])
            self.progress.set()


async def _publish_paced(hub: PubSubService, reader: Reader) -> None:
    """Publish one by one, each after the fast client got the previous one."""
    for n in range(MESSAGES):
        reader.progress.clear()
        await hub.publish("feed", "chunk", {"n": n, "pad": PAYLOAD})
        async with asyncio.timeout(20.0):
            while len(reader.received) <= n:
                await reader.progress.wait()
                reader.progress.clear()


def _small_buffer_socket(url: str) -> socket.socket:
    """A loopback socket with a 16 KiB receive buffer, so a stall shows at once."""
    parts = urlsplit(url)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 * 1024)
    sock.connect((parts.hostname, parts.port))
    sock.setblocking(False)
    return sock


@pytest.mark.slow
@pytest.mark.parametrize("policy", ["drop_oldest", "disconnect"])
async def test_a_stalled_client_does_not_delay_the_others(policy: Any) -> None:
    hub = PubSubService(max_queue=8, slow_consumer=policy)
    async with running(hub) as url, client(url) as fast:  # noqa: SIM117 (stalled needs url)
        async with connect(url, sock=_small_buffer_socket(url)) as stalled:
            await fast.subscribe("feed")
            await WireClient(stalled).subscribe("feed")
            stalled.transport.pause_reading()  # a real client that stops reading its socket
            reader = Reader(fast)
            reading = asyncio.create_task(reader.run())
            await _publish_paced(hub, reader)
            await reading
            if policy == "disconnect":
                await wait_for(lambda: hub.get_stats().connections == 1)
            stats = hub.get_stats()
            with contextlib.suppress(Exception):
                stalled.transport.abort()
    assert reader.received == list(range(MESSAGES))
    if policy == "drop_oldest":
        assert stats.dropped > 0
        assert stats.slow_disconnects == 0
    else:
        assert stats.slow_disconnects == 1
