"""A chat room over infrakit.pubsub: tokens, a private room, presence, recovery.

Run it as it is to see two Python clients chat and exit (the test suite does);
`python pubsub_chat.py --serve` keeps the hub on ws://127.0.0.1:8765 for the browser
page `pubsub_chat.html` (which uses `pubsub_client.js`).
"""

from __future__ import annotations

import asyncio
import json
import sys

from websockets.asyncio.client import connect

from infrakit.pubsub import BEARER_SUBPROTOCOL, PubSubService, User

TOKENS = {"alice-token": "alice", "bob-token": "bob"}


class DemoTokens:
    """An Authenticator: in a real service, verify a signed token here."""

    async def authenticate(self, token: str) -> User | None:
        user_id = TOKENS.get(token)
        return User(user_id, {"name": user_id.title()}) if user_id else None


class MembersOnly:
    """An Authorizer: `room:chat` is for signed-in users; `public:*` for anyone."""

    async def can_subscribe(self, user: User | None, channel: str) -> bool:
        return channel.startswith("public:") or user is not None

    async def can_publish(self, user: User | None, channel: str) -> bool:
        return user is not None


async def next_of(connection, kind: str) -> dict:  # type: ignore[no-untyped-def]
    while True:
        envelope = json.loads(await connection.recv())
        if envelope["type"] == kind:
            return envelope


async def demo(url: str) -> None:
    alice = await connect(url, subprotocols=[BEARER_SUBPROTOCOL, "alice-token"])
    bob = await connect(url, additional_headers={"Authorization": "Bearer bob-token"})
    for connection in (alice, bob):
        await connection.send(json.dumps({"type": "subscribe", "id": 1, "channel": "room:chat"}))
        await next_of(connection, "subscribe")
    await alice.send(
        json.dumps(
            {
                "type": "publish",
                "id": 2,
                "channel": "room:chat",
                "event": "said",
                "data": {"text": "hello Bob"},
            }
        )
    )
    said = await next_of(bob, "message")
    print(f"bob got seq {said['seq']}: {said['data']['text']}")
    await bob.close()
    await alice.send(
        json.dumps(
            {
                "type": "publish",
                "id": 3,
                "channel": "room:chat",
                "event": "said",
                "data": {"text": "are you there?"},
            }
        )
    )
    await next_of(alice, "publish")
    async with connect(url, additional_headers={"Authorization": "Bearer bob-token"}) as again:
        await again.send(
            json.dumps({"type": "subscribe", "id": 4, "channel": "room:chat", "since": said["seq"]})
        )
        missed = await next_of(again, "message")
        print(f"bob, back, caught up with seq {missed['seq']}: {missed['data']['text']}")
    await alice.close()


async def main() -> None:
    hub = PubSubService(authenticator=DemoTokens(), authorizer=MembersOnly())
    async with hub:
        serving = "--serve" in sys.argv
        server = await hub.serve("127.0.0.1", 8765 if serving else 0)
        port = server.sockets[0].getsockname()[1]
        if serving:
            print(f"serving on ws://127.0.0.1:{port}; open pubsub_chat.html")
            await asyncio.Event().wait()
        await demo(f"ws://127.0.0.1:{port}")
        print(hub.get_stats())


if __name__ == "__main__":
    asyncio.run(main())
