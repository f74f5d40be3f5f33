"""Small ASGI apps the server tests host."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from infrakit.errors import NotFoundError

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    """`/hello` answers, `/slow?s` sleeps s seconds first, `/missing` raises NotFoundError."""
    if scope["type"] != "http":
        return
    path = scope["path"]
    if path == "/missing":
        raise NotFoundError("no such picture")
    if path == "/slow":
        await asyncio.sleep(float(scope.get("query_string", b"1").decode() or "1"))
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain")],
        }
    )
    await send({"type": "http.response.body", "body": b"hello"})


async def failing_startup(scope: Scope, receive: Receive, send: Send) -> None:
    """Refuses its lifespan start-up, as an app whose database is unreachable does."""
    if scope["type"] == "lifespan":
        await receive()
        await send({"type": "lifespan.startup.failed", "message": "no database"})
