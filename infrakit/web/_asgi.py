"""The request context for ASGI apps: an id per request, in the logs, the header and problems."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from infrakit.errors import REQUEST_ID_KEY
from infrakit.log import Logger, log_context
from infrakit.web._exchange import Exchange, access_logger, request_id_for, with_header

__all__ = ["RequestContextMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class RequestContextMiddleware:
    """Give every HTTP request an id, bind it into `log_context`, log one access line.

    The id is the incoming `X-Request-ID` when it is valid (1-128 characters of
    `A-Z a-z 0-9 . _ : + / = -`), else a new uuid4 hex. It is stored in the scope under
    `infrakit.errors.REQUEST_ID_KEY` (where `ProblemDetailsMiddleware` finds it, in either
    order of wrapping), sent back in the response header, and added to every record
    logged while the request runs. `websocket` and `lifespan` scopes pass through.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        logger: Logger | None = None,
        request_id_header: str = "X-Request-ID",
        access_log: bool = True,
        on_complete: Callable[[str, int, float], object] | None = None,
    ) -> None:
        """Wrap `app`.

        Args:
            app: the ASGI application.
            logger: where the access-log lines go; defaults to `infrakit.web.access`.
            request_id_header: the header read for the incoming id and sent back.
            access_log: write one INFO line per request (method, path without the query
                string, status, duration in ms).
            on_complete: called once per request, after the access line, with the method,
                the status the client got and the seconds it took: request metrics
                without another middleware (and its `send` wrapper) around the app.
        """
        self.app = app
        self.logger = access_logger(logger)
        self.request_id_header = request_id_header
        self.access_log = access_log
        self.on_complete = on_complete
        self._header_key = request_id_header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_for(scope, self._incoming(scope))
        scope[REQUEST_ID_KEY] = request_id
        exchange = Exchange(str(scope.get("method", "-")), str(scope.get("path", "/")))
        header = (self._header_key, request_id.encode("latin-1"))

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = int(message["status"])
                message = {**message, "headers": _with_id(message.get("headers", ()), header)}
            await send(message)

        with log_context(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except BaseException as error:
                exchange.failed(error)
                raise
            finally:
                if self.access_log:
                    exchange.log(self.logger)
                if self.on_complete is not None:
                    self.on_complete(exchange.method, *exchange.finish())

    def _incoming(self, scope: Scope) -> str | None:
        key = self._header_key
        for name, value in scope.get("headers", ()):
            # ASGI servers lower-case header names; `lower()` only for one that did not
            # (or is not `bytes`), not for every header of every request
            if name == key or (
                (type(name) is not bytes or not name.islower()) and bytes(name).lower() == key
            ):
                return bytes(value).decode("latin-1")
        return None


def _with_id(headers: Iterable[tuple[bytes, bytes]], header: tuple[bytes, bytes]) -> list[Any]:
    """`with_header` for the usual response, which has no id header of its own: the
    headers are copied as they are, not rebuilt pair by pair."""
    kept = list(headers)
    name = header[0]  # lower-cased already
    for key, _ in kept:
        if key.lower() == name:
            return with_header(kept, *header)
    kept.append(header)
    return kept
