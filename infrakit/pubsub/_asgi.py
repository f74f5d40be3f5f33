"""The ASGI endpoint: the same hub on an HTTP server's port (`service.asgi_app`).

Only `websocket` scopes are served (HTTP requests get 404); a `lifespan` scope starts
and closes the hub. Every message goes through the client's queue (ASGI has no
synchronous write), frames above `max_message_size` close with 1009, and the
keepalive is the server's own (uvicorn's `ws_ping_interval`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

from infrakit.pubsub._server import BEARER_SUBPROTOCOL, token_from

if TYPE_CHECKING:
    from infrakit.pubsub._hub import PubSubService

__all__ = ["AsgiEndpoint"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


class _AsgiTransport:
    __slots__ = ("_closed", "_send")

    def __init__(self, send: Send) -> None:
        self._send, self._closed = send, False

    def writable_socket(self, high_water: int) -> Any:
        return None

    async def send(self, text: str) -> None:
        await self._send({"type": "websocket.send", "text": text})

    def abort(self) -> None:
        self._closed = True  # ASGI offers no abort; the server's own timeouts end it

    async def close(self, code: int, reason: str) -> None:
        if not self._closed:
            self._closed = True
            await self._send({"type": "websocket.close", "code": code, "reason": reason})


class AsgiEndpoint:
    """An ASGI 3 application bound to one hub."""

    def __init__(self, hub: PubSubService) -> None:
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await self._websocket(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        else:
            await send({"type": "http.response.start", "status": 404, "headers": []})
            await send({"type": "http.response.body", "body": b"websocket only"})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await self.hub.start()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.hub.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _websocket(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        await self.hub.start()
        offered = list(scope.get("subprotocols") or [])
        headers = {
            name.decode("latin-1").lower(): value for name, value in scope.get("headers", [])
        }
        raw = headers.get("authorization")
        token = token_from(raw.decode("latin-1") if raw else None, offered)
        accept: dict[str, Any] = {"type": "websocket.accept"}
        if BEARER_SUBPROTOCOL in offered:
            accept["subprotocol"] = BEARER_SUBPROTOCOL
        await send(accept)
        transport = _AsgiTransport(send)
        client = self.hub.connected(transport)
        try:
            if token is not None and not await self.hub.authenticate_token(client, token):
                await transport.close(1008, "authentication failed")
                return
            await self._read(client, transport, receive)
        finally:
            await self.hub.disconnected(client)

    async def _read(self, client: Any, transport: _AsgiTransport, receive: Receive) -> None:
        limit = self.hub.max_message_size
        while True:
            message = await receive()
            if message["type"] != "websocket.receive":
                return
            frame = message.get("text")
            if frame is None:
                frame = message.get("bytes") or b""
            if len(frame) > limit:
                await transport.close(1009, "message too big")
                return
            await self.hub.handle_frame(client, frame)
