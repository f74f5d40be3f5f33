"""The WSGI twin of the request context, for Flask, Django or any WSGI app."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING

from infrakit.errors import REQUEST_ID_KEY
from infrakit.log import Logger, log_context
from infrakit.web._exchange import Exchange, access_logger, request_id_for, with_header

if TYPE_CHECKING:
    from wsgiref.types import StartResponse, WSGIApplication, WSGIEnvironment

    from _typeshed import OptExcInfo

__all__ = ["WSGIRequestContextMiddleware"]


class WSGIRequestContextMiddleware:
    """`RequestContextMiddleware` for WSGI: the same id, header, log context and access line.

    The log context covers the app call and every step of the body iteration; the access
    line is written when the server closes the body (PEP 3333), so its duration includes
    sending. The id is stored in the environ under `infrakit.errors.REQUEST_ID_KEY`.
    """

    def __init__(
        self,
        app: WSGIApplication,
        *,
        logger: Logger | None = None,
        request_id_header: str = "X-Request-ID",
        access_log: bool = True,
    ) -> None:
        """Wrap `app`; the arguments mean what they mean for `RequestContextMiddleware`."""
        self.app = app
        self.logger = access_logger(logger)
        self.request_id_header = request_id_header
        self.access_log = access_log
        self._environ_key = "HTTP_" + request_id_header.upper().replace("-", "_")

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request_id = request_id_for(environ, environ.get(self._environ_key))
        environ[REQUEST_ID_KEY] = request_id
        exchange = Exchange(str(environ.get("REQUEST_METHOD", "-")), _path(environ))

        def start_with_id(
            status: str, headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None, /
        ) -> Callable[[bytes], object]:
            exchange.status = _status_code(status)
            headers = with_header(headers, self.request_id_header, request_id)
            return start_response(status, headers, exc_info)

        with log_context(request_id=request_id):
            try:
                result = self.app(environ, start_with_id)
            except BaseException as error:
                exchange.failed(error)
                self._finish(exchange)
                raise
            if isinstance(result, list | tuple):  # nothing left to run: keep it sizable
                self._finish(exchange)
                return result
        return _Body(result, request_id, exchange, self._finish)

    def _finish(self, exchange: Exchange) -> None:
        if self.access_log:
            exchange.log(self.logger)


class _Body:
    """The app's body, iterated and closed inside the request's log context."""

    def __init__(
        self,
        result: Iterable[bytes],
        request_id: str,
        exchange: Exchange,
        finish: Callable[[Exchange], None],
    ) -> None:
        self._result = result
        self._request_id = request_id
        self._exchange = exchange
        self._finish = finish

    def __iter__(self) -> Iterator[bytes]:
        # One context per step, never held across a yield: the server may iterate and
        # close in another context (or thread) than the one that called the app.
        with log_context(request_id=self._request_id):
            iterator = iter(self._result)
        while True:
            with log_context(request_id=self._request_id):
                try:
                    chunk = next(iterator)
                except StopIteration:
                    return
                except BaseException as error:
                    self._exchange.failed(error)
                    raise
            yield chunk

    def close(self) -> None:
        try:
            close = getattr(self._result, "close", None)
            if close is not None:
                with log_context(request_id=self._request_id):
                    close()
        finally:
            with log_context(request_id=self._request_id):
                self._finish(self._exchange)


def _status_code(status: str) -> int | None:
    try:
        return int(status.split(" ", 1)[0])
    except ValueError:
        return None


def _path(environ: WSGIEnvironment) -> str:
    # PEP 3333 strings are the raw bytes decoded as latin-1: re-decode them as UTF-8.
    raw = str(environ.get("SCRIPT_NAME", "")) + str(environ.get("PATH_INFO", ""))
    return raw.encode("latin-1", "replace").decode("utf-8", "replace")
