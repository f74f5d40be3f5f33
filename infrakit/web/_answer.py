"""The one way a framework integration answers an error: log it, then send its problem."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from infrakit.errors import REQUEST_ID_KEY, ProblemResponse, log_exception, problem_response
from infrakit.log import Logger, get_logger
from infrakit.web._exchange import quoted_path, request_id_for

__all__ = ["ERRORS_LOGGER", "Answerer"]

ERRORS_LOGGER = "infrakit.errors"


class Answerer:
    """The settings `install()` was given, and the problem response they produce."""

    def __init__(self, *, debug: bool, logger: Logger | None, request_id_header: str) -> None:
        self.debug = debug
        self.logger = get_logger(ERRORS_LOGGER) if logger is None else logger
        self.request_id_header = request_id_header

    def answer(
        self,
        error: BaseException,
        carrier: MutableMapping[str, Any],
        *,
        incoming_id: str | None,
        method: str,
        path: str,
    ) -> ProblemResponse:
        """Log `error` (call it inside the `except` block or handler) and build its problem.

        `carrier` is the ASGI scope or WSGI environ: the request id comes from there
        when the request-context middleware ran, and is stored there otherwise.
        """
        request_id = request_id_for(carrier, incoming_id)
        carrier[REQUEST_ID_KEY] = request_id
        instance = quoted_path(path)
        log_exception(
            error, request_id=request_id, logger=self.logger, method=method, path=instance
        )
        return problem_response(
            error,
            instance=instance,
            debug=self.debug,
            request_id=request_id,
            request_id_header=self.request_id_header,
        )
