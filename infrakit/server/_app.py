"""The ASGI app the server runs: probes and metrics first, `/ws` to the hub, the rest to the app.

The probes and `/metrics` are answered before the middleware stack, so a probe every
few seconds writes no access-log line and is not counted as app traffic. Everything
else goes through `RequestContextMiddleware` (request id, log context, access line),
`ProblemDetailsMiddleware` (exceptions as RFC 9457 problems) and the request metrics.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from infrakit.server._health import Readiness
from infrakit.server._metrics import Metrics

__all__ = ["Router", "not_found_app"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_JSON = (b"content-type", b"application/json")
_NO_STORE = (b"cache-control", b"no-store")


async def not_found_app(scope: Scope, receive: Receive, send: Send) -> None:
    """The app when none is given: every path outside the server's own is 404."""
    if scope["type"] == "lifespan":
        await _lifespan_noop(receive, send)
        return
    if scope["type"] == "http":
        await _send(send, 404, b'{"detail": "not found"}', _JSON)


class Router:
    """Dispatch by path; lifespan scopes go to the app only."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        readiness: Readiness,
        metrics: Metrics | None,
        websocket_path: str,
        websocket_app: ASGIApp | None,
    ) -> None:
        self.app, self.readiness, self.metrics = app, readiness, metrics
        self.websocket_path, self.websocket_app = websocket_path, websocket_app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind, path = scope["type"], scope.get("path", "")
        if kind == "http" and path in ("/livez", "/readyz"):
            probe = self.readiness.live if path == "/livez" else self.readiness.ready
            status, body = await probe()
            await _send(send, status, json.dumps(body).encode(), _JSON, _NO_STORE)
        elif kind == "http" and path == "/metrics" and self.metrics is not None:
            payload, content_type = await self.metrics.render()
            await _send(send, 200, payload, (b"content-type", content_type.encode()), _NO_STORE)
        elif kind == "websocket" and path == self.websocket_path and self.websocket_app is not None:
            await self.websocket_app(scope, receive, send)
        elif kind == "http" and self.metrics is not None:
            self.metrics.in_flight += 1
            try:
                await self.app(scope, receive, send)
            finally:
                self.metrics.in_flight -= 1
        else:
            await self.app(scope, receive, send)


async def _send(send: Send, status: int, body: bytes, *headers: tuple[bytes, bytes]) -> None:
    await send({"type": "http.response.start", "status": status, "headers": list(headers)})
    await send({"type": "http.response.body", "body": body})


async def _lifespan_noop(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
