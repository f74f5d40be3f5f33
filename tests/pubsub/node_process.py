"""A hub node in a process of its own, for the crash test (killed with SIGKILL).

Usage: python -m tests.pubsub.node_process KIND URL NAMESPACE
KIND is redis or postgres. Prints the ws:// URL of its server, then serves for ever.
Tokens are user ids (a test authenticator).
"""

from __future__ import annotations

import asyncio
import sys

from infrakit.pubsub import PubSubService, User


class TokenIsUser:
    async def authenticate(self, token: str) -> User | None:
        return User(token)


async def main(kind: str, url: str, namespace: str) -> None:
    if kind == "redis":
        from infrakit.pubsub import RedisBackplane

        backplane = RedisBackplane(url, prefix=namespace)
    else:
        from infrakit.db import Database
        from infrakit.pubsub import PostgresBackplane

        database = Database(url, min_size=1, max_size=2)
        await database.open()
        backplane = PostgresBackplane(database, table=namespace)
    hub = PubSubService(backplane=backplane, authenticator=TokenIsUser(), presence_ttl=2.0)
    async with hub:
        server = await hub.serve("127.0.0.1", 0)
        print(f"ws://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
