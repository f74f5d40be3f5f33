"""Backplanes for the conformance suite, and real websockets clients over loopback.

Redis runs under a key prefix of its own (its keys deleted afterwards, nothing else);
PostgreSQL in tables of their own (dropped afterwards). Two backplanes made by one
factory share that namespace, so two hubs on them are two nodes of one cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from infrakit.pubsub import Backplane, MemoryBackplane, PubSubService

BACKPLANES = ["memory", "redis", "postgres"]

BackplaneFactory = Callable[..., Backplane]


@contextlib.asynccontextmanager
async def open_database(url: str) -> AsyncIterator[Any]:
    from infrakit.db import Database

    database = Database(url, min_size=1, max_size=6, application_name="infrakit-pubsub-tests")
    await database.open()
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture(params=BACKPLANES)
async def make_backplane(request: pytest.FixtureRequest) -> AsyncIterator[BackplaneFactory]:
    """`make_backplane()` gives a new backplane on one shared namespace (a 'cluster')."""
    kind = request.param
    token = uuid.uuid4().hex[:10]
    stack = contextlib.AsyncExitStack()
    shared: dict[str, Any] = {}
    if kind == "memory":
        shared["memory"] = MemoryBackplane()
    elif kind == "redis":
        url = request.getfixturevalue("redis_url")
        shared["url"] = url
    else:
        url = request.getfixturevalue("database_url")
        shared["database"] = await stack.enter_async_context(open_database(url))

    def factory(**options: Any) -> Backplane:
        if kind == "memory":
            return shared["memory"] if not options else MemoryBackplane(**options)
        if kind == "redis":
            from infrakit.pubsub import RedisBackplane

            return RedisBackplane(shared["url"], prefix=f"pubsub_test:{token}:", **options)
        from infrakit.pubsub import PostgresBackplane

        return PostgresBackplane(shared["database"], table=f"pubsub_test_{token}", **options)

    factory.kind = kind  # type: ignore[attr-defined]
    try:
        yield factory
    finally:
        if kind == "redis":
            await _delete_redis_prefix(shared["url"], f"pubsub_test:{token}:")
        elif kind == "postgres":
            database = shared["database"]
            for table in ("messages", "channels"):
                await database.execute(f"DROP TABLE IF EXISTS pubsub_test_{token}_{table}")
        await stack.aclose()


async def _delete_redis_prefix(url: str, prefix: str) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(url)
    try:
        names = [name async for name in client.scan_iter(match=f"{prefix}*")]
        if names:
            await client.delete(*names)
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def running(hub: PubSubService) -> AsyncIterator[str]:
    """Start the hub's websockets server on a free loopback port; yields its ws:// URL."""
    async with hub:
        server = await hub.serve("127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        yield f"ws://127.0.0.1:{port}"


class WireClient:
    """A real websockets client speaking the envelope protocol."""

    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self._ids = iter(range(1, 1_000_000))

    async def send(self, **envelope: Any) -> Any:
        envelope.setdefault("id", next(self._ids))
        await self.connection.send(json.dumps(envelope))
        return envelope["id"]

    async def recv(self, seconds: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(seconds):
            return json.loads(await self.connection.recv())  # type: ignore[no-any-return]

    async def recv_until(self, kind: str, seconds: float = 5.0) -> dict[str, Any]:
        """The next envelope of `kind` (presence and other envelopes in between skipped)."""
        async with asyncio.timeout(seconds):
            while True:
                envelope = await self.recv(seconds)
                if envelope["type"] == kind:
                    return envelope

    async def subscribe(self, channel: str, **extra: Any) -> dict[str, Any]:
        command_id = await self.send(type="subscribe", channel=channel, **extra)
        reply = await self.recv_until_id(command_id)
        assert reply["type"] == "subscribe", reply
        return reply

    async def recv_until_id(self, command_id: Any, seconds: float = 5.0) -> dict[str, Any]:
        async with asyncio.timeout(seconds):
            while True:
                envelope = await self.recv(seconds)
                if envelope.get("id") == command_id and envelope["type"] != "message":
                    return envelope


@contextlib.asynccontextmanager
async def client(url: str, **options: Any) -> AsyncIterator[WireClient]:
    async with connect(url, **options) as connection:
        yield WireClient(connection)


async def wait_for(condition: Callable[[], bool | Awaitable[bool]], seconds: float = 10.0) -> None:
    """Poll `condition` until true (bounded); fail with a clear message otherwise."""
    deadline = time.monotonic() + seconds
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)
