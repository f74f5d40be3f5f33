"""Backend exceptions become storage errors at the boundary, with the cause chained.

Messages name the operation and the key, never the backend's own text (which can
quote an endpoint URL with credentials); the cause keeps the details for the logs,
where registered secrets are masked.
"""

from __future__ import annotations

from infrakit.errors import AppError
from infrakit.storage._backend import AlreadyStoredError
from infrakit.storage._errors import StorageError, StorageFileExistsError, StorageNotFoundError

__all__ = ["translate"]

_UNREACHABLE_WORDS = ("Connect", "Timeout", "Unreachable", "ServerDisconnected")


def translate(error: BaseException, operation: str, key: str) -> AppError:
    """The storage error `error` stands for, for `operation` on `key`."""
    details = {"path": key, "operation": operation}
    if isinstance(error, AppError):
        return error
    if isinstance(error, FileNotFoundError):
        return StorageNotFoundError(f"no file is stored at {key!r}", details=details)
    if isinstance(error, AlreadyStoredError):
        return StorageFileExistsError(f"a file is already stored at {key!r}", details=details)
    if isinstance(error, PermissionError):
        return StorageError(
            f"storage {operation} of {key!r} was denied",
            details=details,
            code="STORAGE_PERMISSION_DENIED",
            status_code=500,
        )
    if _unreachable(error):
        return StorageError(
            f"storage {operation} of {key!r} failed: the backend is unreachable",
            details=details,
            code="STORAGE_UNAVAILABLE",
            status_code=503,
        )
    return StorageError(
        f"storage {operation} of {key!r} failed ({type(error).__name__})", details=details
    )


def _unreachable(error: BaseException) -> bool:
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    names = [cls.__name__ for cls in type(error).__mro__]
    return any(word in name for name in names for word in _UNREACHABLE_WORDS)
