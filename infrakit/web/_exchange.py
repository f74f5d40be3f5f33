"""What both request-context middlewares share: the request id, the response header, the
access-log line. Sans-I/O: the ASGI and WSGI shells only differ in how they see a request.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from infrakit.errors import REQUEST_ID_KEY, AppError, ensure_request_id
from infrakit.log import Logger, get_logger

__all__ = [
    "Exchange",
    "access_logger",
    "new_request_id",
    "quoted_path",
    "request_id_for",
    "with_header",
]

ACCESS_LOGGER = "infrakit.web.access"
_PATH_SAFE = "/!$&'()*+,;=:@-._~"
_NEEDS_NO_QUOTING = re.compile(r"[A-Za-z0-9/!$&'()*+,;=:@._~-]*\Z")
Name = TypeVar("Name", str, bytes)


def access_logger(logger: Logger | None) -> Logger:
    return get_logger(ACCESS_LOGGER) if logger is None else logger


def request_id_for(carrier: Mapping[str, Any], incoming: str | None) -> str:
    """The id an outer middleware already gave the request, else a valid incoming one, else new.

    `ensure_request_id` decides what "valid" means: 1-128 characters of
    `A-Z a-z 0-9 . _ : + / = -`, so a client cannot forge log lines or inject headers.
    """
    shared = carrier.get(REQUEST_ID_KEY)
    if isinstance(shared, str) and shared:
        return shared
    return new_request_id() if incoming is None else ensure_request_id(incoming)


def new_request_id() -> str:
    """What `uuid.uuid4().hex` returns (16 random bytes, version and variant bits set as
    `uuid.UUID(version=4)` sets them) without building a `UUID`: a quarter of the cost."""
    raw = bytearray(os.urandom(16))
    raw[6] = raw[6] & 0x0F | 0x40
    raw[8] = raw[8] & 0x3F | 0x80
    return raw.hex()


def with_header(
    headers: Iterable[tuple[Name, Name]], name: Name, value: Name
) -> list[tuple[Name, Name]]:
    """`headers` with every `name` header (case-insensitive) replaced by one `name: value`."""
    folded = name.lower()
    kept = [(key, item) for key, item in headers if key.lower() != folded]
    kept.append((name, value))
    return kept


def quoted_path(path: str) -> str:
    """A decoded request path percent-encoded, so a log line or `instance` cannot be forged."""
    if path and _NEEDS_NO_QUOTING.match(path):
        return path  # the common case, without quote()'s per-character work
    return quote(path or "/", safe=_PATH_SAFE)


class Exchange:
    """One request's timing and status, logged once as the access-log line."""

    __slots__ = ("_finished", "_logged", "_started", "error", "method", "path", "status")

    def __init__(self, method: str, path: str) -> None:
        self.method = method
        self.path = path  # quoted when logged: a request with no access line never pays
        self.status: int | None = None
        self.error: BaseException | None = None
        self._started = time.perf_counter()
        self._finished: tuple[int, float] | None = None
        self._logged = False

    def failed(self, error: BaseException) -> None:
        """The app raised `error`: remember it for the line (once, the innermost wins)."""
        if self.error is None:
            self.error = error

    def finish(self) -> tuple[int, float]:
        """The status the client got and the seconds the request took, fixed at first call.

        When the app raised before answering, the status is the one its problem response
        has (`ProblemDetailsMiddleware` sends it, inside or outside this middleware).
        """
        if self._finished is None:
            status = self.status
            if status is None and self.error is not None:
                status = _problem_status(self.error)
            self._finished = (
                500 if status is None else status,
                time.perf_counter() - self._started,
            )
        return self._finished

    def log(self, logger: Logger) -> None:
        """Write `GET /users/42 200 3.1ms`, once; `error` names an exception the app raised."""
        if self._logged:
            return
        self._logged = True
        status, seconds = self.finish()
        duration_ms = round(seconds * 1000, 3)
        path = quoted_path(self.path)
        message = f"{self.method} {path} {status} {duration_ms:.1f}ms"
        error = self.error
        if error is None:  # the usual line, without building a dict for `**`
            logger.info(
                message, method=self.method, path=path, status=status, duration_ms=duration_ms
            )
            return
        logger.info(
            message,
            method=self.method,
            path=path,
            status=status,
            duration_ms=duration_ms,
            error=type(error).__qualname__,
        )


def _problem_status(error: BaseException) -> int:
    status = error.status_code if isinstance(error, AppError) else 500
    return status if type(status) is int and 400 <= status <= 599 else 500
