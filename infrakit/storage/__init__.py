"""File storage: one interface over local disk, memory and S3, with safe paths.

Only the names in `__all__` are public; see `docs/storage.md`. The S3 backend needs
the `s3` extra and is loaded only when an `s3://` URL is used.
"""

from __future__ import annotations

from infrakit.storage._content_type import (
    SNIFF_BYTES,
    ContentType,
    detect_content_type,
    is_active_content,
)
from infrakit.storage._errors import (
    InvalidPathError,
    SignedUrlError,
    StorageError,
    StorageFileExistsError,
    StorageNotFoundError,
)
from infrakit.storage._paths import MAX_KEY_BYTES, normalize_key
from infrakit.storage._protocol import (
    DEFAULT_CHUNK_SIZE,
    FileMetadata,
    FileSaveResult,
    SaveData,
    StorageProvider,
    StorageStats,
)
from infrakit.storage._settings import StorageSettings
from infrakit.storage._signing import UrlSigner
from infrakit.storage.fsspec import DEFAULT_URL_EXPIRY, FsspecStorage, LocalStorage

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_URL_EXPIRY",
    "MAX_KEY_BYTES",
    "SNIFF_BYTES",
    "ContentType",
    "FileMetadata",
    "FileSaveResult",
    "FsspecStorage",
    "InvalidPathError",
    "LocalStorage",
    "SaveData",
    "SignedUrlError",
    "StorageError",
    "StorageFileExistsError",
    "StorageNotFoundError",
    "StorageProvider",
    "StorageSettings",
    "StorageStats",
    "UrlSigner",
    "detect_content_type",
    "is_active_content",
    "normalize_key",
]
