"""Flask: one call installs the request context and problem+json errors.

```python
from flask import Flask
import infrakit.web.flask

app = Flask(__name__)
infrakit.web.flask.install(app)
```

Importing this module without Flask raises `MissingDependencyError` naming
`pip install 'infrakit[flask]'`.
"""

from __future__ import annotations

from typing import Any

from infrakit.errors import MissingDependencyError as _MissingDependencyError
from infrakit.errors import WSGIProblemDetailsMiddleware as _WSGIProblemDetailsMiddleware
from infrakit.log import Logger as _Logger
from infrakit.web._answer import Answerer as _Answerer
from infrakit.web._http_error import HTTPError as _HTTPError
from infrakit.web._wsgi import WSGIRequestContextMiddleware as _WSGIRequestContextMiddleware

try:
    import flask as _flask
    from werkzeug.exceptions import HTTPException as _HTTPException
except ImportError as _error:  # pragma: no cover - exercised in a test with flask hidden
    raise _MissingDependencyError("flask", "flask") from _error

__all__ = ["install"]


def install(
    app: _flask.Flask,
    *,
    debug: bool = False,
    logger: _Logger | None = None,
    access_logger: _Logger | None = None,
    access_log: bool = True,
    request_id_header: str = "X-Request-ID",
) -> None:
    """Wrap `app.wsgi_app` in the request context and the problem middleware, and answer
    werkzeug's `HTTPException` (404, 405, `abort(...)`) with problems.

    It sets `PROPAGATE_EXCEPTIONS = True`, so an unhandled exception leaves Flask (which
    would otherwise answer with its HTML 500 page) and becomes a hidden 500 problem with
    the traceback in the log. Your own `@app.errorhandler`s still answer first.

    Args:
        app: the Flask application.
        debug: add exception details to problem bodies (development only).
        logger: where error records go; defaults to `infrakit.log`'s `infrakit.errors`.
        access_logger: where access lines go; defaults to `infrakit.web.access`.
        access_log: write one access line per request.
        request_id_header: the header carrying the request id, in and out.
    """
    answerer = _Answerer(debug=debug, logger=logger, request_id_header=request_id_header)
    app.config["PROPAGATE_EXCEPTIONS"] = True
    app.register_error_handler(_HTTPException, _http_exception_handler(answerer))
    app.wsgi_app = _WSGIRequestContextMiddleware(  # type: ignore[method-assign]
        _WSGIProblemDetailsMiddleware(
            app.wsgi_app, debug=debug, logger=answerer.logger, request_id_header=request_id_header
        ),
        logger=access_logger,
        access_log=access_log,
        request_id_header=request_id_header,
    )


def _http_exception_handler(answerer: _Answerer) -> Any:
    def handle(exc: _HTTPException) -> Any:
        status = exc.code
        if status is None or not 400 <= status <= 599:
            return exc  # a redirect (RequestRedirect) is a response of its own
        error = _HTTPError(status, exc.description, headers=dict(exc.get_headers()))
        request = _flask.request
        body_status, headers, body = answerer.answer(
            error,
            request.environ,
            incoming_id=request.headers.get(answerer.request_id_header),
            method=request.method,
            path=request.path,
        )
        return _flask.Response(body, status=body_status, headers=list(headers))

    return handle
