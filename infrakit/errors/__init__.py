"""Errors with identity: a stable code, an HTTP status and an RFC 9457 problem form.

Only the names in `__all__` are public; see `docs/errors.md`.
"""

from infrakit.errors._core import (
    AppError,
    ConfigurationError,
    ConflictError,
    DatabaseError,
    DomainBusinessRuleError,
    DomainConflictError,
    DomainError,
    DomainNotFoundError,
    DomainValidationError,
    FieldError,
    ForbiddenError,
    InfrastructureError,
    InitializationError,
    NetworkError,
    NotFoundError,
    RateLimitedError,
    ServiceError,
    SystemFailureError,
    TechnicalError,
    UnauthorizedError,
    ValidationError,
)
from infrakit.errors._dependency import MissingDependencyError, import_optional
from infrakit.errors._domain import DomainErrors, EntityNotFoundError, domain_errors
from infrakit.errors._middleware import ProblemDetailsMiddleware, WSGIProblemDetailsMiddleware
from infrakit.errors._problem import (
    REQUEST_ID_KEY,
    ProblemResponse,
    ensure_request_id,
    log_exception,
    problem_from_exception,
    problem_response,
)
from infrakit.errors._validation import json_pointer

__all__ = [
    "REQUEST_ID_KEY",
    "AppError",
    "ConfigurationError",
    "ConflictError",
    "DatabaseError",
    "DomainBusinessRuleError",
    "DomainConflictError",
    "DomainError",
    "DomainErrors",
    "DomainNotFoundError",
    "DomainValidationError",
    "EntityNotFoundError",
    "FieldError",
    "ForbiddenError",
    "InfrastructureError",
    "InitializationError",
    "MissingDependencyError",
    "NetworkError",
    "NotFoundError",
    "ProblemDetailsMiddleware",
    "ProblemResponse",
    "RateLimitedError",
    "ServiceError",
    "SystemFailureError",
    "TechnicalError",
    "UnauthorizedError",
    "ValidationError",
    "WSGIProblemDetailsMiddleware",
    "domain_errors",
    "ensure_request_id",
    "import_optional",
    "json_pointer",
    "log_exception",
    "problem_from_exception",
    "problem_response",
]
