"""The ASGI endpoint under a real uvicorn on loopback, with real websockets clients."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import httpx
import pytest
import uvicorn
from websockets.exceptions import ConnectionClosed

from infrakit.pubsub import BEARER_SUBPROTOCOL, PubSubService, User
from tests.pubsub.conftest import client


class Tokens:
    async def authenticate(self, token: str) -> User | None:
        return User("erin") if token == "erin-token" else None


@contextlib.asynccontextmanager
async def uvicorn_serving(hub: PubSubService) -> AsyncIterator[int]:
    config = uvicorn.Config(
        hub.asgi_app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 (uvicorn offers no event)
                await asyncio.sleep(0.01)
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait({task}, timeout=10)


async def test_the_same_protocol_over_uvicorn() -> None:
    hub = PubSubService(authenticator=Tokens())
    async with uvicorn_serving(hub) as port:
        url = f"ws://127.0.0.1:{port}/pubsub"
        async with client(url, subprotocols=[BEARER_SUBPROTOCOL, "erin-token"]) as ws:
            assert ws.connection.subprotocol == BEARER_SUBPROTOCOL
            await ws.subscribe("private")
            result = await hub.publish("private", "note", {"for": "erin"})
            message = await ws.recv_until("message")
            await ws.connection.send("not json")
            refused = await ws.recv()
        async with client(url) as anonymous:
            command_id = await anonymous.send(type="subscribe", channel="private")
            assert (await anonymous.recv_until_id(command_id))["code"] == "unauthorized"
        async with httpx.AsyncClient() as http:
            response = await http.get(f"http://127.0.0.1:{port}/")
    assert result.delivered == 1
    assert message["data"] == {"for": "erin"}
    assert refused["code"] == "invalid_json"
    assert response.status_code == 404
    assert hub.closed  # the lifespan shutdown closed it


async def test_oversized_frames_close_with_1009_over_asgi() -> None:
    hub = PubSubService(max_message_size=1000)
    async with uvicorn_serving(hub) as port, client(f"ws://127.0.0.1:{port}/") as ws:
        await ws.connection.send("y" * 2000)
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009
