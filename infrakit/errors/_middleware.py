"""Problem-details middleware for any ASGI or WSGI application, with no framework needed."""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable, Iterable, Iterator, MutableMapping
from typing import TYPE_CHECKING, Any

from infrakit.errors._problem import (
    REQUEST_ID_KEY,
    ensure_request_id,
    problem_response,
    report_exception,
    request_path,
    status_line,
)

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from _typeshed import OptExcInfo

    from infrakit.log import Logger

__all__ = ["ProblemDetailsMiddleware", "WSGIProblemDetailsMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_BROKEN_RESPONSE = " after the response started; the response is cut short"


class ProblemDetailsMiddleware:
    """Turn exceptions of an ASGI app into `application/problem+json` responses.

    Only `http` scopes are handled; `websocket` and `lifespan` pass through untouched.
    An exception raised after `http.response.start` was sent cannot become a problem
    any more: it is logged and re-raised so the server aborts the connection and the
    client sees a truncated response rather than a complete-looking wrong one. One
    raised after the body was complete is logged and swallowed.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        debug: bool = False,
        logger: Logger | logging.Logger | logging.LoggerAdapter[Any] | None = None,
        request_id_header: str = "X-Request-ID",
    ) -> None:
        """Wrap `app`.

        Args:
            app: the ASGI application (outermost is best: it then covers routing).
            debug: add the exception type, message and traceback to every problem
                body and show internal messages; development only.
            logger: an `infrakit.log.Logger` or stdlib logger; defaults to the stdlib
                logger `infrakit.errors`.
            request_id_header: the header read for the correlation id and sent back.
        """
        self.app = app
        self.debug = debug
        self.logger = logger
        self.request_id_header = request_id_header
        self._header_key = request_id_header.lower().encode("latin-1")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        progress = _ASGIProgress(send)
        try:
            await self.app(scope, receive, progress.send)
        except Exception as error:
            if progress.started and not progress.completed:
                self._report(error, scope, _BROKEN_RESPONSE)
                raise
            await self._answer(error, scope, progress)

    async def _answer(self, error: Exception, scope: Scope, progress: _ASGIProgress) -> None:
        if progress.completed:
            self._report(error, scope, " after the response was complete")
            return
        request_id = self._report(error, scope, "")
        status, headers, body = problem_response(
            error,
            instance=request_path(scope.get("path", "/")),
            debug=self.debug,
            request_id=request_id,
            request_id_header=self.request_id_header,
        )
        encoded = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        await progress.send({"type": "http.response.start", "status": status, "headers": encoded})
        await progress.send({"type": "http.response.body", "body": body})

    def _report(self, error: Exception, scope: Scope, note: str) -> str:
        request_id = shared_request_id(scope) or ensure_request_id(self._incoming_request_id(scope))
        scope[REQUEST_ID_KEY] = request_id
        report_exception(
            error,
            request_id=request_id,
            logger=self.logger,
            method=str(scope.get("method", "-")),
            path=request_path(scope.get("path", "/")),
            note=note,
        )
        return request_id

    def _incoming_request_id(self, scope: Scope) -> str | None:
        for name, value in scope.get("headers", ()):
            if name.lower() == self._header_key:
                return bytes(value).decode("latin-1")
        return None


class _ASGIProgress:
    """Watches the messages the app sends, so an error knows what the client has seen."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False
        self.completed = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        elif message["type"] == "http.response.body" and not message.get("more_body", False):
            self.completed = True
        await self._send(message)


class WSGIProblemDetailsMiddleware:
    """The WSGI twin of `ProblemDetailsMiddleware`, for Flask, Django or any WSGI app.

    Errors raised by the app call or while the server iterates the body both become
    problems as long as no body byte was sent; after that they are logged and
    re-raised, so the server aborts the response (PEP 3333's rule).
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        debug: bool = False,
        logger: Logger | logging.Logger | logging.LoggerAdapter[Any] | None = None,
        request_id_header: str = "X-Request-ID",
    ) -> None:
        """Wrap `app`; the arguments mean what they mean for `ProblemDetailsMiddleware`."""
        self.app = app
        self.debug = debug
        self.logger = logger
        self.request_id_header = request_id_header
        self._environ_key = "HTTP_" + request_id_header.upper().replace("-", "_")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        progress = _WSGIProgress(start_response)
        try:
            result = self.app(environ, progress.start_response)
        except Exception as error:
            return self._answer(error, environ, progress)
        if isinstance(result, list | tuple):
            # Iterating it cannot fail, and the server may use its length (wsgiref sends
            # Content-Length for a one-item list), so it is returned as it is.
            return result
        return self._guard(result, environ, progress)

    def _guard(
        self, result: Iterable[bytes], environ: WSGIEnvironment, progress: _WSGIProgress
    ) -> Iterator[bytes]:
        try:
            for chunk in result:
                if chunk:  # some servers send headers on an empty write; PEP 3333 says wait
                    progress.body_sent = True
                    yield chunk
        except Exception as error:
            yield from self._answer(error, environ, progress)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()

    def _answer(
        self, error: Exception, environ: WSGIEnvironment, progress: _WSGIProgress
    ) -> list[bytes]:
        path = _wsgi_path(environ)
        method = str(environ.get("REQUEST_METHOD", "-"))
        request_id = shared_request_id(environ) or ensure_request_id(environ.get(self._environ_key))
        environ[REQUEST_ID_KEY] = request_id
        note = _BROKEN_RESPONSE if progress.body_sent else ""
        report_exception(
            error, request_id=request_id, logger=self.logger, method=method, path=path, note=note
        )
        if progress.body_sent:
            raise error
        status, headers, body = problem_response(
            error,
            instance=path,
            debug=self.debug,
            request_id=request_id,
            request_id_header=self.request_id_header,
        )
        # exc_info lets a server replace headers the app already started (PEP 3333); it is
        # passed only then, since some callers (werkzeug's test client) re-raise on it.
        exc_info = sys.exc_info() if progress.started else None
        progress.original(status_line(status), list(headers), exc_info)
        return [body]


class _WSGIProgress:
    """Wraps `start_response` so the middleware knows whether bytes reached the client."""

    def __init__(self, start_response: StartResponse) -> None:
        self.original = start_response
        self.started = False
        self.body_sent = False

    def start_response(
        self, status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None, /
    ) -> Callable[[bytes], object]:
        write = self.original(status, headers, exc_info)
        self.started = True

        def tracked_write(data: bytes) -> object:
            self.body_sent = self.body_sent or bool(data)
            return write(data)

        return tracked_write


def shared_request_id(scope: MutableMapping[str, Any]) -> str | None:
    """The id a request-context middleware already gave this request, if any."""
    value = scope.get(REQUEST_ID_KEY)
    return value if isinstance(value, str) and value else None


def _wsgi_path(environ: WSGIEnvironment) -> str:
    # PEP 3333 strings are the raw bytes decoded as latin-1: re-encode before quoting.
    raw = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    return request_path(raw.encode("latin-1", "replace").decode("utf-8", "replace"))
