"""Starlette and FastAPI: one call installs the request context and problem+json errors.

```python
from fastapi import FastAPI
import infrakit.web.starlette

app = FastAPI()
infrakit.web.starlette.install(app)
```

Importing this module without Starlette raises `MissingDependencyError` naming
`pip install 'infrakit[starlette]'`.
"""

from __future__ import annotations

import sys
from typing import Any

from infrakit.errors import MissingDependencyError as _MissingDependencyError
from infrakit.errors import ProblemDetailsMiddleware as _ProblemDetailsMiddleware
from infrakit.errors import ValidationError as _ValidationError
from infrakit.log import Logger as _Logger
from infrakit.web._answer import Answerer as _Answerer
from infrakit.web._asgi import RequestContextMiddleware as _RequestContextMiddleware
from infrakit.web._http_error import HTTPError as _HTTPError

try:
    from starlette.applications import Starlette as _Starlette
    from starlette.exceptions import HTTPException as _HTTPException
    from starlette.requests import Request as _Request
    from starlette.responses import Response as _Response
except ImportError as _error:  # pragma: no cover - exercised in a test with starlette hidden
    raise _MissingDependencyError("starlette", "starlette") from _error

__all__ = ["install"]


def install(
    app: _Starlette,
    *,
    debug: bool = False,
    logger: _Logger | None = None,
    access_logger: _Logger | None = None,
    access_log: bool = True,
    request_id_header: str = "X-Request-ID",
) -> None:
    """Add the request context, the problem middleware and the framework error handlers.

    Call it after your own `add_middleware` calls, so the request context (outermost
    of the user middleware) covers them too. What it adds:

    - `RequestContextMiddleware`: the request id, its header, `log_context`, access log;
    - `ProblemDetailsMiddleware` inside it: any exception becomes a problem;
    - a handler for Starlette's (and FastAPI's) `HTTPException`, which the router
      raises for 404 and 405: its status, detail and headers (`Allow`) as a problem;
    - on a FastAPI app, a handler for `RequestValidationError`: a 422 problem whose
      `errors` point at each field (`#/body/email`), never echoing the input.

    Args:
        app: a `Starlette` or `FastAPI` application that has not started yet.
        debug: add exception details to problem bodies (development only).
        logger: where error records go; defaults to `infrakit.log`'s `infrakit.errors`.
        access_logger: where access lines go; defaults to `infrakit.web.access`.
        access_log: write one access line per request.
        request_id_header: the header carrying the request id, in and out.
    """
    answerer = _Answerer(debug=debug, logger=logger, request_id_header=request_id_header)
    handlers = _Handlers(answerer)
    app.add_exception_handler(_HTTPException, handlers.http_exception)
    validation_error = _request_validation_error()
    if validation_error is not None:
        app.add_exception_handler(validation_error, handlers.request_validation)
    app.add_middleware(
        _ProblemDetailsMiddleware,
        debug=debug,
        logger=answerer.logger,
        request_id_header=request_id_header,
    )
    app.add_middleware(
        _RequestContextMiddleware,
        logger=access_logger,
        access_log=access_log,
        request_id_header=request_id_header,
    )


def _request_validation_error() -> type[Exception] | None:
    """FastAPI's `RequestValidationError` when FastAPI is in use (already imported)."""
    module = sys.modules.get("fastapi.exceptions")
    found = getattr(module, "RequestValidationError", None)
    return found if isinstance(found, type) and issubclass(found, Exception) else None


class _Handlers:
    """Starlette exception handlers that answer with problems."""

    def __init__(self, answerer: _Answerer) -> None:
        self._answerer = answerer

    async def http_exception(self, request: _Request, exc: Exception) -> _Response:
        assert isinstance(exc, _HTTPException)
        if not 400 <= exc.status_code <= 599:  # not an error: answer as Starlette does
            return _Response(status_code=exc.status_code, headers=exc.headers)
        return self._respond(request, _http_error(exc))

    async def request_validation(self, request: _Request, exc: Exception) -> _Response:
        return self._respond(request, _ValidationError.from_pydantic(exc))

    def _respond(self, request: _Request, error: Exception) -> _Response:
        status, headers, body = self._answerer.answer(
            error,
            request.scope,
            incoming_id=request.headers.get(self._answerer.request_id_header),
            method=request.method,
            path=request.url.path,
        )
        return _Response(body, status_code=status, headers=dict(headers))


def _http_error(exc: _HTTPException) -> _HTTPError:
    detail: Any = exc.detail
    if isinstance(detail, str):
        return _HTTPError(exc.status_code, detail, headers=exc.headers)
    # FastAPI lets `detail` be any JSON value: it travels in `details`, made JSON-safe.
    return _HTTPError(exc.status_code, headers=exc.headers, details={"detail": detail})
