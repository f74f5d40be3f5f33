"""Two hub nodes on one backplane: a message published on A reaches a client on B.

Uses Redis when PUBSUB_REDIS_URL is set (two backplane connections, as two processes
would have), else the in-process backplane shared by both hubs. A `Publisher`, as a
job worker would use, publishes without a socket server.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid

from websockets.asyncio.client import connect

from infrakit.pubsub import Backplane, MemoryBackplane, Publisher, PubSubService


def backplanes() -> tuple[Backplane, Backplane, Backplane, str | None]:
    url = os.environ.get("PUBSUB_REDIS_URL")
    if not url:
        shared = MemoryBackplane()
        return shared, shared, shared, None
    from infrakit.pubsub import RedisBackplane

    prefix = f"example:{uuid.uuid4().hex[:8]}:"  # a cluster of its own
    return (
        RedisBackplane(url, prefix=prefix),
        RedisBackplane(url, prefix=prefix),
        RedisBackplane(url, prefix=prefix),
        prefix,
    )


async def main() -> None:
    for_a, for_b, for_worker, prefix = backplanes()
    node_a, node_b = PubSubService(backplane=for_a), PubSubService(backplane=for_b)
    async with node_a, node_b:
        server_b = await node_b.serve("127.0.0.1", 0)
        url_b = f"ws://127.0.0.1:{server_b.sockets[0].getsockname()[1]}"
        async with connect(url_b) as on_b:
            await on_b.send(json.dumps({"type": "subscribe", "id": 1, "channel": "orders"}))
            json.loads(await on_b.recv())  # the subscribe reply
            result = await node_a.publish("orders", "created", {"order": 1})
            print(f"published on A: {result!r}")
            print("client on B got:", json.loads(await on_b.recv())["data"])
            worker = Publisher(for_worker)
            await worker.publish("orders", "shipped", {"order": 1})
            print("client on B got:", json.loads(await on_b.recv())["data"])
            if for_worker is not for_a:
                await worker.close()
    if prefix is not None:
        await forget(prefix)


async def forget(prefix: str) -> None:
    """Delete this example's own keys (and nothing else)."""
    from redis.asyncio import Redis

    client = Redis.from_url(os.environ["PUBSUB_REDIS_URL"])
    names = [name async for name in client.scan_iter(match=f"{prefix}*")]
    if names:
        await client.delete(*names)
    await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
