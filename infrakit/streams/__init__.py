"""Async byte streams between paths, fsspec URLs, storage keys and file objects.

Only the names in `__all__` are public; see `docs/streams.md`. This module uses a
storage only through the `infrakit.storage.StorageProvider` Protocol.
"""

from __future__ import annotations

from infrakit.streams._process import process_stream
from infrakit.streams._progress import ProgressCallback, progress, progress_bar
from infrakit.streams._protocol import (
    DEFAULT_CHUNK_SIZE,
    Destination,
    Source,
    StreamStats,
    Transform,
    WriteStream,
)
from infrakit.streams._read import create_read_stream
from infrakit.streams._transforms import (
    HashStream,
    gzip_compress,
    gzip_decompress,
    hash_stream,
    limit_size,
    throttle,
)
from infrakit.streams._write import create_write_stream

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "Destination",
    "HashStream",
    "ProgressCallback",
    "Source",
    "StreamStats",
    "Transform",
    "WriteStream",
    "create_read_stream",
    "create_write_stream",
    "gzip_compress",
    "gzip_decompress",
    "hash_stream",
    "limit_size",
    "process_stream",
    "progress",
    "progress_bar",
    "throttle",
]
