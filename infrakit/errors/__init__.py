"""Errors with identity: a stable code, an HTTP status and an RFC 9457 problem form.

Only the names in `__all__` are public.
"""

from infrakit.errors._core import (
    AppError,
    ConfigurationError,
    ConflictError,
    DatabaseError,
    DomainBusinessRuleError,
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
    "MissingDependencyError",
    "NetworkError",
    "NotFoundError",
    "RateLimitedError",
    "ServiceError",
    "SystemFailureError",
    "TechnicalError",
    "UnauthorizedError",
    "ValidationError",
    "import_optional",
]
