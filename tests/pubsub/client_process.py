"""A load-test client process: N real websockets clients that each count their messages.

Usage: python -m tests.pubsub.client_process URL CLIENTS MESSAGES CHANNEL
Prints `ready` once every client is subscribed, then one JSON line: per client, the
seqs it received, checked to be contiguous.
"""

from __future__ import annotations

import asyncio
import json
import sys

from websockets.asyncio.client import connect


async def one_client(url: str, channel: str, messages: int, ready: asyncio.Event) -> list[int]:
    async with connect(url, open_timeout=30, max_queue=None) as connection:
        await connection.send(json.dumps({"type": "subscribe", "id": 1, "channel": channel}))
        while json.loads(await connection.recv())["type"] != "subscribe":
            pass
        ready.set()
        seqs: list[int] = []
        async with asyncio.timeout(60):
            while len(seqs) < messages:
                envelope = json.loads(await connection.recv())
                if envelope["type"] == "message":
                    seqs.append(envelope["seq"])
        return seqs


async def main(url: str, clients: int, messages: int, channel: str) -> None:
    events = [asyncio.Event() for _ in range(clients)]
    tasks = [asyncio.create_task(one_client(url, channel, messages, e)) for e in events]
    async with asyncio.timeout(60):
        await asyncio.gather(*(event.wait() for event in events))
    print("ready", flush=True)
    results = await asyncio.gather(*tasks)
    contiguous = all(seqs == list(range(seqs[0], seqs[0] + messages)) for seqs in results)
    print(
        json.dumps(
            {
                "clients": len(results),
                "counts": sorted({len(s) for s in results}),
                "contiguous": contiguous,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]))
