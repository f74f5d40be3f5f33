"""The error hierarchy: every failure a user can meet, with a stable code and an HTTP form."""

from __future__ import annotations

import http
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, ClassVar, TypedDict

__all__ = [
    "AppError",
    "ConfigurationError",
    "ConflictError",
    "DatabaseError",
    "DomainBusinessRuleError",
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


class FieldError(TypedDict):
    """One rejected field: a JSON pointer to it and what was wrong (never the value)."""

    pointer: str
    detail: str


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
            self.code = code  # type: ignore[misc]
        if status_code is not None:
            self.status_code = status_code  # type: ignore[misc]
        if cause is not None:
            self.__cause__ = cause

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
    code = "NOT_FOUND"
    status_code = 404
    default_message = "The resource was not found."


class ConflictError(AppError):
    code = "CONFLICT"
    status_code = 409
    default_message = "The request conflicts with the current state."


class UnauthorizedError(AppError):
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
    code = "FORBIDDEN"
    status_code = 403
    default_message = "Permission denied."


class RateLimitedError(AppError):
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
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(0, round(self.retry_after)))}


class DomainError(AppError):
    """A rule of the business domain was not met; the caller can act on it."""

    code = "DOMAIN_ERROR"
    status_code = 400
    default_message = "The request breaks a domain rule."


class DomainNotFoundError(DomainError, NotFoundError):
    code = "NOT_FOUND"
    status_code = 404
    default_message = "The resource was not found."


class DomainBusinessRuleError(DomainError):
    code = "BUSINESS_RULE_VIOLATION"
    status_code = 422
    default_message = "The operation breaks a business rule."


class InfrastructureError(AppError):
    """A dependency (database, network, validation layer) failed."""

    code = "INFRASTRUCTURE_ERROR"
    default_message = "An infrastructure component failed."


class DatabaseError(InfrastructureError):
    code = "DATABASE_ERROR"
    default_message = "A database operation failed."


class NetworkError(InfrastructureError):
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
        """Translate a `pydantic.ValidationError`, dropping the rejected input values."""
        field_errors = [
            FieldError(pointer=_json_pointer(item["loc"]), detail=item["msg"])
            for item in error.errors(include_input=False, include_url=False)
        ]
        return cls(message, errors=field_errors, cause=error)

    def to_problem(
        self, instance: str | None = None, *, expose_internal: bool = False
    ) -> dict[str, Any]:
        problem = super().to_problem(instance, expose_internal=expose_internal)
        problem["errors"] = [dict(item) for item in self.errors]
        return problem


class DomainValidationError(DomainError, ValidationError):
    code = "VALIDATION_ERROR"
    status_code = 422
    default_message = "The input is not valid."


class TechnicalError(AppError):
    """A fault of the program or its set-up, not of the request."""

    code = "TECHNICAL_ERROR"
    default_message = "A technical error occurred."


class ConfigurationError(TechnicalError):
    code = "CONFIGURATION_ERROR"
    default_message = "The configuration is not valid."


class InitializationError(TechnicalError):
    code = "INITIALIZATION_ERROR"
    default_message = "A component failed to start."


class SystemFailureError(TechnicalError):
    """The original's `SystemError`, renamed so it does not shadow the builtin."""

    code = "SYSTEM_FAILURE"
    default_message = "A system failure occurred."


def _json_pointer(location: Iterable[int | str]) -> str:
    parts = (str(part).replace("~", "~0").replace("/", "~1") for part in location)
    return "/" + "/".join(parts)
