"""The websockets transport: `PubSubService.serve()` runs the hub on its own port.

The token is read from `Authorization: Bearer <token>` or from the subprotocols a
browser offers (`["infrakit.bearer", "<token>"]`, the only way a browser can send
one at connect); query strings are never read, so a token never lands in an access log.
Frames above `max_message_size` close with 1009 (websockets' own limit); the
keepalive is websockets' ping/pong.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from infrakit.errors import import_optional

if TYPE_CHECKING:
    from websockets.asyncio.server import Server, ServerConnection

    from infrakit.pubsub._hub import PubSubService

__all__ = ["BEARER_SUBPROTOCOL", "WebsocketsTransport", "serve", "token_from"]

BEARER_SUBPROTOCOL = "infrakit.bearer"


class WebsocketsTransport:
    """A websockets connection as the hub sees it."""

    __slots__ = ("connection",)

    def __init__(self, connection: ServerConnection) -> None:
        self.connection = connection

    def writable_socket(self, high_water: int) -> Any:
        connection = self.connection
        transport = connection.transport
        if transport.is_closing() or transport.get_write_buffer_size() >= high_water:
            return None
        return connection

    async def send(self, text: str) -> None:
        await self.connection.send(text)

    async def close(self, code: int, reason: str) -> None:
        await self.connection.close(code, reason)

    def abort(self) -> None:
        self.connection.transport.abort()


def token_from(authorization: str | None, subprotocols: Sequence[str]) -> str | None:
    """The bearer token of a connect request, from the header or the subprotocols."""
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    if BEARER_SUBPROTOCOL in subprotocols:
        position = list(subprotocols).index(BEARER_SUBPROTOCOL)
        if position + 1 < len(subprotocols):
            return subprotocols[position + 1]
    return None


def _offered(connection: ServerConnection) -> list[str]:
    request = connection.request
    if request is None:
        return []
    values = request.headers.get_all("Sec-WebSocket-Protocol")
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _select(connection: ServerConnection, subprotocols: Sequence[str]) -> str | None:
    return BEARER_SUBPROTOCOL if BEARER_SUBPROTOCOL in subprotocols else None


async def serve(hub: PubSubService, host: str, port: int) -> Server:
    websockets_server = import_optional("websockets.asyncio.server", extra="pubsub")
    exceptions = import_optional("websockets.exceptions", extra="pubsub")

    async def handler(connection: ServerConnection) -> None:
        client = hub.connected(WebsocketsTransport(connection))
        try:
            request = connection.request
            authorization = request.headers.get("Authorization") if request else None
            token = token_from(authorization, _offered(connection))
            if token is not None and not await hub.authenticate_token(client, token):
                await connection.close(1008, "authentication failed")
                return
            async for frame in connection:
                await hub.handle_frame(client, frame)
        except exceptions.ConnectionClosed:
            pass
        finally:
            await hub.disconnected(client)

    server: Server = await websockets_server.serve(
        handler,
        host,
        port,
        max_size=hub.max_message_size,
        ping_interval=hub.ping_interval,
        ping_timeout=hub.ping_timeout,
        select_subprotocol=_select,
        close_timeout=2.0,
        compression=hub.compression,
    )
    return server
