"""The error hierarchy: every failure a user can meet, with a stable code and an HTTP form."""

from __future__ import annotations

import http
import math
import re
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar

from infrakit.errors._validation import MALFORMED_JSON_DETAIL, FieldError, translate_errors

__all__ = [
    "AppError",
    "ConfigurationError",
    "ConflictError",
    "DatabaseError",
    "DomainBusinessRuleError",
    "DomainConflictError",
    "DomainError",
    "DomainNotFoundError",
    "DomainValidationError",
    "FieldError",
    "ForbiddenError",
    "InfrastructureError",
    "InitializationError",
    "NetworkError",
    "NotFoundError",
    "RateLimitedError",
    "ServiceError",
    "SystemFailureError",
    "TechnicalError",
    "UnauthorizedError",
    "ValidationError",
]

_GENERIC_DETAIL = "An internal error occurred."
_MAX_RETRY_AFTER = 365 * 86_400
_CODE = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*\Z")


def _check_code(code: object, error_type: type[Exception]) -> None:
    if not isinstance(code, str) or not _CODE.match(code):
        raise error_type(f"error code must be UPPER_SNAKE_CASE, got {code!r}")


def _check_status(status: object, error_type: type[Exception]) -> None:
    if not isinstance(status, int) or not 400 <= status <= 599:
        raise error_type(
            f"error status_code must be an HTTP error status (400-599), got {status!r}"
        )


class AppError(Exception):
    """Base of every infrakit error: a stable `code`, an HTTP status and a problem form.

    Subclasses set the class attributes; an instance may override `code` and
    `status_code` when one class covers several cases. Messages of 5xx errors are
    treated as internal: `to_problem()` hides them unless `expose_internal=True`
    or the class sets `expose_message = True` because its message is always safe.
    """

    code: ClassVar[str] = "INTERNAL_ERROR"
    status_code: ClassVar[int] = 500
    default_message: ClassVar[str] = "An internal error occurred."
    problem_type: ClassVar[str] = "about:blank"
    expose_message: ClassVar[bool | None] = None

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Mapping[str, Any] | None = None,
        code: str | None = None,
        status_code: int | None = None,
        cause: BaseException | None = None,
    ) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(self.message)
        self.details: Mapping[str, Any] = MappingProxyType(dict(details or {}))
        if code is not None:
            _check_code(code, ValueError)
            self.code = code  # type: ignore[misc]
        if status_code is not None:
            _check_status(status_code, ValueError)
            self.status_code = status_code  # type: ignore[misc]
        if cause is not None:
            self.__cause__ = cause

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Refuse, at class creation, a code or status that could not be sent as declared."""
        super().__init_subclass__(**kwargs)
        _check_code(cls.code, TypeError)
        _check_status(cls.status_code, TypeError)

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild without calling __init__, whose signature varies between subclasses;
        # the read-only details proxy cannot be pickled, so it travels as a dict.
        state = {**self.__dict__, "details": dict(self.details)}
        return (_restore_error, (type(self), self.args, state))

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r})"

    @property
    def title(self) -> str:
        """The HTTP reason phrase of the status, as RFC 9457 asks for `about:blank`."""
        try:
            return http.HTTPStatus(self.status_code).phrase
        except ValueError:
            return "Error"

    @property
    def headers(self) -> Mapping[str, str]:
        """Extra response headers this error asks for (`Retry-After`, `WWW-Authenticate`)."""
        return {}

    @property
    def is_internal(self) -> bool:
        """True when the message may carry internals and so is hidden in production."""
        if self.expose_message is not None:
            return not self.expose_message
        return self.status_code >= 500

    def to_problem(
        self, instance: str | None = None, *, expose_internal: bool = False
    ) -> dict[str, Any]:
        """Return the RFC 9457 problem-details object; `status` is the status to send.

        Args:
            instance: a URI naming this occurrence (usually the request path).
            expose_internal: show the message and details of internal (5xx) errors,
                for debugging only.

        Returns:
            A new JSON-ready dict with `type`, `title`, `status`, `detail`, `code`,
            and `instance` and `details` when present.
        """
        hidden = self.is_internal and not expose_internal
        problem: dict[str, Any] = {
            "type": self.problem_type,
            "title": self.title,
            "status": self.status_code,
            "detail": _GENERIC_DETAIL if hidden else self.message,
            "code": self.code,
        }
        if instance is not None:
            problem["instance"] = instance
        if self.details and not hidden:
            problem["details"] = dict(self.details)
        return problem


class ServiceError(AppError):
    """An application service could not complete its operation."""

    code = "SERVICE_ERROR"
    default_message = "The service could not complete the operation."


class NotFoundError(AppError):
    """The addressed resource does not exist (404)."""

    code = "NOT_FOUND"
    status_code = 404
    default_message = "The resource was not found."


class ConflictError(AppError):
    """The request conflicts with the current state, e.g. a duplicate key (409)."""

    code = "CONFLICT"
    status_code = 409
    default_message = "The request conflicts with the current state."


class UnauthorizedError(AppError):
    """The caller is not authenticated; sends `WWW-Authenticate: <scheme>` (401)."""

    code = "UNAUTHORIZED"
    status_code = 401
    default_message = "Authentication is required."

    def __init__(
        self, message: str | None = None, *, scheme: str = "Bearer", **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.scheme = scheme

    @property
    def headers(self) -> Mapping[str, str]:
        return {"WWW-Authenticate": self.scheme}


class ForbiddenError(AppError):
    """The caller is authenticated but not allowed to do this (403)."""

    code = "FORBIDDEN"
    status_code = 403
    default_message = "Permission denied."


class RateLimitedError(AppError):
    """The caller sent too many requests; sends `Retry-After` when known (429)."""

    code = "RATE_LIMITED"
    status_code = 429
    default_message = "Too many requests."

    def __init__(
        self, message: str | None = None, *, retry_after: float | None = None, **kwargs: Any
    ) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after

    @property
    def headers(self) -> Mapping[str, str]:
        """`Retry-After` in whole seconds, rounded up so a client never retries too early.

        Capped at one year; no header when `retry_after` is not a finite real number
        (`inf`, `nan`, a bool, a string, an int too large for a float).
        """
        seconds = _finite_seconds(self.retry_after)
        if seconds is None:
            return {}
        return {"Retry-After": str(min(_MAX_RETRY_AFTER, max(0, math.ceil(seconds))))}


def _finite_seconds(value: object) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return None
    return seconds if math.isfinite(seconds) else None


class DomainError(AppError):
    """A rule of the business domain was not met; the caller can act on it."""

    code = "DOMAIN_ERROR"
    status_code = 400
    default_message = "The request breaks a domain rule."


class DomainNotFoundError(DomainError, NotFoundError):
    """A domain entity does not exist; caught by `except NotFoundError` too (404)."""

    code = "NOT_FOUND"
    status_code = 404
    default_message = "The resource was not found."


class DomainConflictError(DomainError, ConflictError):
    """A domain rule found the resource in a state that forbids the change (409)."""

    code = "CONFLICT"
    status_code = 409
    default_message = "The request conflicts with the current state."


class DomainBusinessRuleError(DomainError):
    """The request is well formed but breaks a business rule (422)."""

    code = "BUSINESS_RULE_VIOLATION"
    status_code = 422
    default_message = "The operation breaks a business rule."


class InfrastructureError(AppError):
    """A dependency (database, network, validation layer) failed."""

    code = "INFRASTRUCTURE_ERROR"
    default_message = "An infrastructure component failed."


class DatabaseError(InfrastructureError):
    """A database operation failed; the message stays in the logs (500)."""

    code = "DATABASE_ERROR"
    default_message = "A database operation failed."


class NetworkError(InfrastructureError):
    """A call to another service failed (502 Bad Gateway)."""

    code = "NETWORK_ERROR"
    status_code = 502
    default_message = "A network call failed."


class ValidationError(InfrastructureError):
    """Input was rejected; `errors` lists each field with a pointer, never the value."""

    code = "VALIDATION_ERROR"
    status_code = 422
    default_message = "The input is not valid."

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: Iterable[FieldError] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.errors: tuple[FieldError, ...] = tuple(errors)

    @classmethod
    def from_pydantic(cls, error: Any, message: str | None = None) -> ValidationError:
        """Translate a `pydantic.ValidationError`, never echoing the rejected input values.

        A body that is not JSON at all (`json_invalid`) gets no field error, since its
        location is a character offset, and the detail `The body is not valid JSON.`

        Args:
            error: a `pydantic.ValidationError`, or anything with a pydantic-style
                `errors()` (FastAPI's `RequestValidationError`).
            message: the problem `detail`; defaults to `default_message`.

        Returns:
            The error, with one `FieldError` per rejected field and `error` as its cause.
        """
        fields, malformed = translate_errors(error)
        if message is None and malformed:
            message = MALFORMED_JSON_DETAIL
        return cls(message, errors=fields, cause=error)

    def to_problem(
        self, instance: str | None = None, *, expose_internal: bool = False
    ) -> dict[str, Any]:
        """The base problem plus `errors: [{pointer, detail}]` (hidden like `details`)."""
        problem = super().to_problem(instance, expose_internal=expose_internal)
        if expose_internal or not self.is_internal:
            problem["errors"] = [dict(item) for item in self.errors]
        return problem


class DomainValidationError(DomainError, ValidationError):
    """Input broke a domain validation rule; carries `errors` like `ValidationError` (422)."""

    code = "VALIDATION_ERROR"
    status_code = 422
    default_message = "The input is not valid."


class TechnicalError(AppError):
    """A fault of the program or its set-up, not of the request."""

    code = "TECHNICAL_ERROR"
    default_message = "A technical error occurred."


class ConfigurationError(TechnicalError):
    """The configuration is missing or malformed (500)."""

    code = "CONFIGURATION_ERROR"
    default_message = "The configuration is not valid."


class InitializationError(TechnicalError):
    """A component could not start (500)."""

    code = "INITIALIZATION_ERROR"
    default_message = "A component failed to start."


class SystemFailureError(TechnicalError):
    """The original's `SystemError`, renamed so it does not shadow the builtin."""

    code = "SYSTEM_FAILURE"
    default_message = "A system failure occurred."


def _restore_error(cls: type[AppError], args: tuple[Any, ...], state: dict[str, Any]) -> AppError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    error.details = MappingProxyType(state["details"])
    return error
