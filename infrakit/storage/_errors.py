"""The storage errors: a missing file, a refused path, a refused URL, a failed backend."""

from __future__ import annotations

from infrakit.errors import (
    ConflictError,
    ForbiddenError,
    InfrastructureError,
    NotFoundError,
    ValidationError,
)

__all__ = [
    "InvalidPathError",
    "SignedUrlError",
    "StorageError",
    "StorageFileExistsError",
    "StorageNotFoundError",
]


class StorageError(InfrastructureError):
    """A storage backend failed; the backend's exception is chained as `__cause__`.

    The instance `code` says which: `STORAGE_ERROR` (the backend failed),
    `STORAGE_PERMISSION_DENIED` (the backend refused the credentials or the file mode),
    `STORAGE_UNAVAILABLE` (the backend could not be reached; status 503).
    """

    code = "STORAGE_ERROR"
    default_message = "A storage operation failed."


class StorageNotFoundError(NotFoundError):
    """No file is stored under the path (404); `details["path"]` names it."""

    code = "STORAGE_NOT_FOUND"
    default_message = "The file was not found."


class StorageFileExistsError(ConflictError):
    """`save_file(..., overwrite=False)` met a file already stored under the path (409)."""

    code = "STORAGE_FILE_EXISTS"
    default_message = "A file already exists at this path."


class InvalidPathError(ValidationError):
    """A path would leave the storage root or cannot be a key (400).

    Raised for `..`, absolute paths, backslashes, NUL and control characters, drive
    letters, names reserved for the storage's own files, and (locally) symlinks that
    lead outside the root. The message says which rule; it never repeats the path.
    """

    code = "STORAGE_INVALID_PATH"
    status_code = 400
    default_message = "The file path is not valid."


class SignedUrlError(ForbiddenError):
    """A signed URL was refused (403): signature wrong, URL altered, or expired.

    The instance `code` says which: `STORAGE_URL_INVALID` or `STORAGE_URL_EXPIRED`.
    """

    code = "STORAGE_URL_INVALID"
    default_message = "The signed URL is not valid."
