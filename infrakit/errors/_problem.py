"""Exceptions as HTTP problem responses, and their log records: shared by every integration.

Framework-free: the ASGI and WSGI middlewares and any framework's own exception
handler build the same status, headers and body here, and log the same record.
"""

from __future__ import annotations

import http
import json
import logging
import re
import traceback
import uuid
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import quote

from infrakit.errors._core import AppError
from infrakit.errors._json import json_safe, safe_text

if TYPE_CHECKING:
    from infrakit.log import Logger

__all__ = [
    "REQUEST_ID_KEY",
    "ProblemResponse",
    "ensure_request_id",
    "log_exception",
    "problem_from_exception",
    "problem_response",
]

PROBLEM_CONTENT_TYPE = "application/problem+json"
REQUEST_ID_KEY = "infrakit.request_id"
"""The ASGI scope / WSGI environ key holding the request's correlation id.

The request-context middleware (`infrakit.web`) sets it; the problem middlewares read it
first, so a request has one id in its log lines, its problem body and its header.
"""
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:+/=-]{1,128}\Z")
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
_HEADER_VALUE = re.compile(r"[\t\x20-\x7e]*\Z")
_RESERVED_HEADERS = frozenset({"content-type", "content-length"})
_PATH_SAFE = "/!$&'()*+,;=:@-._~"
_default_logger = logging.getLogger("infrakit.errors")


class ProblemResponse(NamedTuple):
    """What to send: unpack it as `status, headers, body = problem_response(error)`.

    Header names are lower case (ASGI requires it, WSGI accepts it).
    """

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def ensure_request_id(candidate: str | None) -> str:
    """Return `candidate` when it is a sane correlation id, else a new uuid4 hex.

    A client-sent id is echoed in logs and headers, so only 1-128 characters of
    `A-Z a-z 0-9 . _ : + / = -` are trusted; anything else could forge log lines.
    """
    if candidate is not None and _REQUEST_ID.match(candidate):
        return candidate
    return uuid.uuid4().hex


def problem_from_exception(
    error: BaseException,
    *,
    instance: str | None = None,
    debug: bool = False,
    request_id: str | None = None,
) -> dict[str, Any]:
    """Return the RFC 9457 problem for any exception, safe to send in production.

    An `AppError` gives its own `to_problem()`; anything else is a 500 with code
    `INTERNAL_ERROR` that says nothing about the failure.

    Args:
        error: the exception to describe.
        instance: the URI of this occurrence, usually the request path.
        debug: add `exception_type`, `exception_message` and `traceback` and show
            internal messages. Never in production: the traceback may quote anything.
        request_id: the correlation id, added as the `request_id` extension.

    Returns:
        A JSON-ready dict whose `status` is the status to send.
    """
    try:
        problem = _problem_of(error, instance, debug)
    except Exception:  # a subclass whose to_problem() or title fails: answer anyway
        problem = AppError().to_problem(instance)
    if not _sendable_status(problem.get("status")):
        problem = {**problem, "status": 500}
    if request_id is not None:
        problem["request_id"] = request_id
    return problem


def _problem_of(error: BaseException, instance: str | None, debug: bool) -> dict[str, Any]:
    app_error = error if isinstance(error, AppError) else AppError()
    problem = dict(app_error.to_problem(instance, expose_internal=debug))
    if debug:
        problem["exception_type"] = _qualified_name(type(error))
        problem["exception_message"] = safe_text(error)
        problem["traceback"] = "".join(traceback.format_exception(error))
    return problem


def _sendable_status(status: object) -> bool:
    return type(status) is int and 400 <= status <= 599


def problem_response(
    error: BaseException,
    *,
    instance: str | None = None,
    debug: bool = False,
    request_id: str | None = None,
    request_id_header: str = "X-Request-ID",
) -> ProblemResponse:
    """Return the status, headers and JSON body of the problem for `error`.

    Headers are `content-type: application/problem+json`, `content-length`, the
    request id (when given) and the error's own `headers` (`Retry-After`,
    `WWW-Authenticate`); an error header that is malformed or would replace one of
    these is dropped. It never raises: whatever the error carries (details nested
    deep, values JSON cannot hold, a `__str__` that raises, secrets under sensitive
    key names) the body is well-formed, bounded JSON with the values masked.

    Args:
        error: the exception to answer with.
        instance: the URI of this occurrence, usually the request path.
        debug: see `problem_from_exception`.
        request_id: the correlation id for the body and the response header.
        request_id_header: the response header that carries `request_id`.

    Returns:
        A `ProblemResponse` whose status equals the body's `status`.
    """
    problem = problem_from_exception(error, instance=instance, debug=debug, request_id=request_id)
    status = int(problem["status"])
    body = _encode(problem)
    reserved = _RESERVED_HEADERS | {request_id_header.lower()}
    headers = [
        (name.lower(), value)
        for name, value in _error_headers(error)
        if name.lower() not in reserved and _HEADER_NAME.match(name) and _HEADER_VALUE.match(value)
    ]
    headers += [("content-type", PROBLEM_CONTENT_TYPE), ("content-length", str(len(body)))]
    if request_id is not None:
        headers.append((request_id_header.lower(), request_id))
    return ProblemResponse(status, tuple(headers), body)


def log_exception(
    error: BaseException,
    *,
    request_id: str,
    logger: Logger | logging.Logger | logging.LoggerAdapter[Any] | None = None,
    method: str = "-",
    path: str = "-",
) -> None:
    """Log `error` with its request id: 5xx at ERROR with the traceback, 4xx at DEBUG.

    Call it from the `except` block: an `infrakit.log.Logger` attaches the exception
    being handled. The record carries `request_id`, `method`, `path`, `status`,
    `code` and `error_type` (as `extra` fields for a stdlib logger); `path` should
    exclude the query string, which may hold tokens.

    Args:
        error: the exception being answered.
        request_id: the id sent to the client, so a report can be matched to this line.
        logger: an `infrakit.log.Logger`, a stdlib logger or adapter; defaults to the stdlib
            `infrakit.errors` logger (route it with `infrakit.log.intercept_stdlib()`).
        method: the request method.
        path: the request path.
    """
    report_exception(error, request_id=request_id, logger=logger, method=method, path=path)


def report_exception(
    error: BaseException,
    *,
    request_id: str,
    logger: Logger | logging.Logger | logging.LoggerAdapter[Any] | None,
    method: str,
    path: str,
    note: str = "",
) -> None:
    """`log_exception` with an extra note (the middlewares say when a response broke).

    A logger that fails must not cost the client its answer, nor the operator the
    record: the record then goes to the stdlib `infrakit.errors` logger.
    """
    try:
        _report(error, request_id, logger, method, path, note)
    except Exception:
        _default_logger.error(
            "%s %s raised: %s%s [request_id=%s] (the configured logger failed)",
            method,
            path,
            _qualified_name(type(error)),
            note,
            request_id,
            exc_info=error,
        )


def _report(
    error: BaseException,
    request_id: str,
    logger: Logger | logging.Logger | logging.LoggerAdapter[Any] | None,
    method: str,
    path: str,
    note: str,
) -> None:
    app_error = error if isinstance(error, AppError) else None
    status = 500 if app_error is None else app_error.status_code
    code = "INTERNAL_ERROR" if app_error is None else app_error.code
    error_type = _qualified_name(type(error))
    fields: dict[str, Any] = {
        "request_id": request_id,
        "method": method,
        "path": path,
        "status": status,
        "code": code,
        "error_type": error_type,
    }
    outcome = "raised" if app_error is None else f"failed with {code} ({status})"
    message = f"{method} {path} {outcome}: {error_type}{note} [request_id={request_id}]"
    server_fault = status >= 500 or note != ""
    active = _default_logger if logger is None else logger
    while isinstance(active, logging.LoggerAdapter):
        # Before Python 3.13 an adapter replaces `extra`; merge its fields with ours.
        fields = {**(active.extra or {}), **fields}
        active = active.logger
    if isinstance(active, logging.Logger):
        level = logging.ERROR if server_fault else logging.DEBUG
        exc_info = error if server_fault else None
        active.log(level, "%s", message, exc_info=exc_info, extra=fields)
    elif server_fault:
        active.exception(message, **fields)
    else:
        active.debug(message, **fields)


def request_path(path: str) -> str:
    """Percent-encode a decoded request path into a URI reference for `instance`."""
    return quote(path or "/", safe=_PATH_SAFE)


def status_line(status: int) -> str:
    """The WSGI status line (`404 Not Found`), tolerant of unregistered codes."""
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Error"


def _encode(problem: dict[str, Any]) -> bytes:
    """Compact UTF-8 JSON of a bounded, masked copy (`json_safe`): it cannot fail.

    A debug traceback is kept whole (only cleaned of what UTF-8 cannot encode).
    """
    safe = json_safe({key: value for key, value in problem.items() if key != "traceback"})
    if isinstance(problem.get("traceback"), str):
        safe["traceback"] = problem["traceback"].encode("utf-8", "replace").decode("utf-8")
    return json.dumps(safe, ensure_ascii=False, separators=(",", ":")).encode()


def _error_headers(error: BaseException) -> list[tuple[str, str]]:
    if not isinstance(error, AppError):
        return []
    try:
        return [(safe_text(name), safe_text(value)) for name, value in error.headers.items()]
    except Exception:  # a `headers` property that fails: send the problem without them
        return []


def _qualified_name(cls: type[BaseException]) -> str:
    module = cls.__module__
    return cls.__qualname__ if module == "builtins" else f"{module}.{cls.__qualname__}"
