"""A framework's HTTP error (404, 405, 413, ...) as an `AppError`, so it gets a problem body."""

from __future__ import annotations

import http
from collections.abc import Mapping
from typing import Any

from infrakit.errors import AppError

__all__ = ["HTTPError", "http_error_code"]

# Spelled out rather than taken from `http.HTTPStatus.name`, whose names change between
# Python versions (413 is REQUEST_ENTITY_TOO_LARGE before 3.13): codes are public API.
_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    408: "REQUEST_TIMEOUT",
    409: "CONFLICT",
    410: "GONE",
    411: "LENGTH_REQUIRED",
    412: "PRECONDITION_FAILED",
    413: "CONTENT_TOO_LARGE",
    414: "URI_TOO_LONG",
    415: "UNSUPPORTED_MEDIA_TYPE",
    416: "RANGE_NOT_SATISFIABLE",
    417: "EXPECTATION_FAILED",
    421: "MISDIRECTED_REQUEST",
    422: "UNPROCESSABLE_CONTENT",
    423: "LOCKED",
    425: "TOO_EARLY",
    428: "PRECONDITION_REQUIRED",
    429: "RATE_LIMITED",
    431: "REQUEST_HEADER_FIELDS_TOO_LARGE",
    451: "UNAVAILABLE_FOR_LEGAL_REASONS",
    500: "INTERNAL_ERROR",
    501: "NOT_IMPLEMENTED",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


def http_error_code(status: int) -> str:
    """The stable code for an HTTP error status: `NOT_FOUND`, ..., else `HTTP_<status>`."""
    return _CODES.get(status, f"HTTP_{status}")


class HTTPError(AppError):
    """An HTTP error raised by a framework or its router, answered as a problem.

    The code follows the status (`NOT_FOUND`, `METHOD_NOT_ALLOWED`, see `docs/web.md`);
    the framework's headers (`Allow`, `WWW-Authenticate`) are sent with the problem. As
    for every `AppError`, the message of a 5xx is hidden from clients.
    """

    code = "HTTP_ERROR"
    status_code = 500
    default_message = "The request failed."

    def __init__(
        self,
        status_code: int,
        message: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Make the error for `status_code` (400-599; `ValueError` otherwise).

        Args:
            status_code: the HTTP status the framework chose.
            message: the problem `detail`; defaults to the reason phrase (`Not Found`).
            headers: response headers to send with the problem.
            details: data for the client (4xx only, as for every `AppError`).
        """
        if message is None:
            message = _phrase(status_code)
        super().__init__(
            message, code=http_error_code(status_code), status_code=status_code, details=details
        )
        self._headers = dict(headers or {})

    @property
    def headers(self) -> Mapping[str, str]:
        return self._headers


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return HTTPError.default_message
