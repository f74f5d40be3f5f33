"""Database errors, and the one place where psycopg exceptions become them.

Messages never hold SQL, parameters or the server's DETAIL line (which quotes row
values such as `Key (email)=(ann@example.com) already exists`); the SQLSTATE, the
constraint and (for not-null) the column go to `details`, which is enough to act on
without telling a client the table layout.
"""

from __future__ import annotations

from typing import Any

from infrakit.errors import ConflictError, DatabaseError, ValidationError, json_pointer

__all__ = [
    "CheckViolationError",
    "DatabaseTimeoutError",
    "DatabaseUnavailableError",
    "ForeignKeyViolationError",
    "InvalidDataError",
    "MigrationError",
    "NotNullViolationError",
    "TransactionConflictError",
    "UniqueViolationError",
    "translate_error",
]

SERIALIZATION_FAILURE = "40001"
DEADLOCK_DETECTED = "40P01"
_RETRYABLE = frozenset({SERIALIZATION_FAILURE, DEADLOCK_DETECTED})
_NUL_HINT = "NUL (0x00)"


class DatabaseUnavailableError(DatabaseError):
    """The server refused the connection or the connection was lost mid-operation."""

    code = "DATABASE_UNAVAILABLE"
    status_code = 503
    default_message = "The database is not available."


class DatabaseTimeoutError(DatabaseError):
    """A statement, an acquire from the pool or a caller's timeout ran out (or was cancelled)."""

    code = "DATABASE_TIMEOUT"
    status_code = 504
    default_message = "The database did not answer in time."


class UniqueViolationError(ConflictError, DatabaseError):
    """A row with the same unique key exists; both a conflict and a database error."""

    code = "DB_UNIQUE_VIOLATION"
    status_code = 409
    default_message = "A row with the same unique key already exists."


class ForeignKeyViolationError(ConflictError, DatabaseError):
    """The referenced row is missing, or the row is still referenced."""

    code = "DB_FOREIGN_KEY_VIOLATION"
    status_code = 409
    default_message = "The operation breaks a reference to another row."


class TransactionConflictError(ConflictError, DatabaseError):
    """Serialization failure (40001) or deadlock (40P01): the transaction may be retried."""

    code = "DB_TRANSACTION_CONFLICT"
    status_code = 409
    default_message = "The transaction conflicted with a concurrent one; retry it."


class CheckViolationError(ValidationError, DatabaseError):
    code = "DB_CHECK_VIOLATION"
    status_code = 422
    default_message = "A value breaks a check constraint."


class NotNullViolationError(ValidationError, DatabaseError):
    code = "DB_NOT_NULL_VIOLATION"
    status_code = 422
    default_message = "A required column was null."


class InvalidDataError(ValidationError, DatabaseError):
    """A value does not fit its column (SQLSTATE class 22), e.g. NUL in text."""

    code = "DB_INVALID_DATA"
    status_code = 422
    default_message = "A value does not fit its column type."


class MigrationError(DatabaseError):
    """A migration file is malformed, changed after it was applied, or failed."""

    code = "DB_MIGRATION_ERROR"
    default_message = "A database migration failed."


_BY_SQLSTATE: dict[str, type[DatabaseError]] = {
    "23505": UniqueViolationError,
    "23503": ForeignKeyViolationError,
    "23514": CheckViolationError,
    "23502": NotNullViolationError,
    SERIALIZATION_FAILURE: TransactionConflictError,
    DEADLOCK_DETECTED: TransactionConflictError,
    "57014": DatabaseTimeoutError,  # statement_timeout or a cancel request
    "57P01": DatabaseUnavailableError,  # admin shutdown / pg_terminate_backend
    "57P02": DatabaseUnavailableError,
    "57P03": DatabaseUnavailableError,
}


def is_retryable(error: BaseException) -> bool:
    """True for the errors `with_transaction` re-runs the callback on (40001, 40P01)."""
    return isinstance(error, TransactionConflictError) and error.details.get("sqlstate") in (
        _RETRYABLE
    )


def translate_error(error: Exception) -> DatabaseError:
    """Map a psycopg / psycopg_pool exception to its infrakit error (the caller chains it)."""
    import psycopg
    from psycopg_pool import PoolClosed, PoolTimeout

    if isinstance(error, UnicodeEncodeError):
        return InvalidDataError(
            "A text value is not valid Unicode (it holds a lone surrogate) and cannot be sent."
        )
    if isinstance(error, PoolTimeout):
        return DatabaseTimeoutError("No database connection became free in time.")
    if isinstance(error, PoolClosed):
        return DatabaseUnavailableError("The database pool is closed.")
    sqlstate = getattr(error, "sqlstate", None)
    details = _diagnostic_details(error, sqlstate)
    error_class = _BY_SQLSTATE.get(sqlstate or "")
    if error_class is None and sqlstate is not None:
        error_class = _class_by_prefix(sqlstate)
    if error_class is None:
        if isinstance(error, psycopg.DataError) and _NUL_HINT in str(error):
            return InvalidDataError(
                "A text value contains a NUL (0x00) character, which PostgreSQL text "
                "cannot store; use bytes (bytea) for binary data.",
                details=details,
            )
        if isinstance(error, psycopg.OperationalError | psycopg.InterfaceError):
            error_class = DatabaseUnavailableError
        else:
            error_class = DatabaseError
    if error_class is NotNullViolationError and "column" in details:
        pointer = json_pointer([str(details["column"])])
        return NotNullViolationError(
            _message(error_class, details),
            details=details,
            errors=[{"pointer": pointer, "detail": "must not be null"}],
        )
    return error_class(_message(error_class, details), details=details)


def _class_by_prefix(sqlstate: str) -> type[DatabaseError] | None:
    prefix = sqlstate[:2]
    if prefix == "08":  # connection exception
        return DatabaseUnavailableError
    if prefix == "22":  # data exception
        return InvalidDataError
    return None


def _diagnostic_details(error: Exception, sqlstate: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if sqlstate is not None:
        details["sqlstate"] = sqlstate
    diagnostic = getattr(error, "diag", None)
    if diagnostic is None:
        return details
    for name in ("constraint_name", "column_name"):
        value = getattr(diagnostic, name, None)
        if value:
            details[name.removesuffix("_name")] = value
    return details


def _message(error_class: type[DatabaseError], details: dict[str, Any]) -> str:
    message = error_class.default_message
    if "constraint" in details:
        return f"{message.rstrip('.')} (constraint {details['constraint']})."
    if error_class is NotNullViolationError and "column" in details:
        return f"{message.rstrip('.')} (column {details['column']})."
    if error_class in (DatabaseError, InvalidDataError) and "sqlstate" in details:
        return f"{message.rstrip('.')} (SQLSTATE {details['sqlstate']})."
    return message
