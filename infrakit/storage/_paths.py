"""Keys: the one place that decides which paths are safe.

A key is a relative, normalised, `/`-separated path below the storage root. Anything
that could name a file outside the root, or that means different things on different
systems, is refused before any backend sees it: `..` segments, absolute paths,
backslashes (a separator on Windows), NUL and other control characters, drive letters
(`C:`), and the names the storage reserves for its own temporary and metadata files.
"""

from __future__ import annotations

import functools
import os
import re
import stat

from infrakit.storage._errors import InvalidPathError

__all__ = [
    "MAX_KEY_BYTES",
    "RESERVED_PREFIX",
    "inside_root",
    "key_inside_root",
    "normalize_directory",
    "normalize_key",
    "root_prefix",
]

MAX_KEY_BYTES = 1024
"""S3's limit on a key, applied everywhere so that a key valid on one backend is valid on all."""

RESERVED_PREFIX = ".infrakit"
"""Segments starting with this hold the storage's temporary files and metadata sidecars."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def normalize_key(path: str) -> str:
    """Return the key `path` names, or refuse it.

    `a//b/./c` becomes `a/b/c`; a trailing `/` is refused (a file has a name).
    Accepted keys are remembered (a bounded cache: the same keys come back again and
    again); refusals are not, so every unsafe path is checked afresh.

    Raises:
        InvalidPathError: the path is unsafe or empty; the message names the rule.
    """
    if type(path) is str:
        return _cached_key(path)
    return _normalize_key(path)


@functools.lru_cache(maxsize=4096)
def _cached_key(path: str) -> str:
    return _normalize_key(path)


def _normalize_key(path: str) -> str:
    segments = _segments(path)
    if not segments or path.endswith("/"):
        raise InvalidPathError("a file path must name a file", details={"field": "path"})
    return "/".join(segments)


def normalize_directory(directory: str) -> str:
    """Like `normalize_key`, but the empty string (the root) and a trailing `/` are allowed."""
    return "/".join(_segments(directory))


def inside_root(root: str, candidate: str) -> bool:
    """True when `candidate`, with every symlink resolved, is `root` or below it.

    `root` must already be resolved (`os.path.realpath`).
    """
    resolved = os.path.realpath(candidate)
    return resolved == root or resolved.startswith(root.rstrip(os.sep) + os.sep)


def key_inside_root(root: str, key: str) -> bool:
    """True when the file `key` (normalised) names below the resolved `root` stays below it.

    One `lstat` per segment (instead of resolving the whole path each time): only
    when a segment is a symlink is the path resolved and checked. A segment that does
    not exist ends the walk, since nothing below it exists either. Paths are joined
    by concatenation: a normalised key has no empty, `.` or `..` segment to resolve.
    """
    prefix = root_prefix(root)
    end = -1
    while True:
        end = key.find("/", end + 1)
        try:
            mode = os.lstat(prefix + (key if end < 0 else key[:end])).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return True
        if stat.S_ISLNK(mode):
            return inside_root(root, prefix + key)
        if end < 0:
            return True


def root_prefix(root: str) -> str:
    """`root` with one trailing separator: a normalised key is appended to it as is."""
    return root if root.endswith(os.sep) else root + os.sep


def _segments(path: str) -> list[str]:
    if not isinstance(path, str):
        raise InvalidPathError("a file path must be a string", details={"field": "path"})
    _refuse_unsafe(path)
    segments = [segment for segment in path.split("/") if segment not in ("", ".")]
    for segment in segments:
        if segment == "..":
            raise InvalidPathError("a file path may not contain '..'", details={"field": "path"})
        if segment.startswith(RESERVED_PREFIX):
            raise InvalidPathError(
                f"names starting with {RESERVED_PREFIX!r} are reserved", details={"field": "path"}
            )
    return segments


def _refuse_unsafe(path: str) -> None:
    rule = None
    if path.startswith("/"):
        rule = "a file path must be relative to the storage root"
    elif "\\" in path:
        rule = "a file path may not contain a backslash"
    elif _CONTROL.search(path):
        rule = "a file path may not contain NUL or control characters"
    elif _DRIVE.match(path):
        rule = "a file path may not start with a drive letter"
    elif not path.isascii() and not _encodable(path):
        rule = "a file path must be valid Unicode text"
    elif len(path) > MAX_KEY_BYTES // 4 and len(path.encode()) > MAX_KEY_BYTES:
        rule = f"a file path may not be longer than {MAX_KEY_BYTES} bytes"
    if rule is not None:
        raise InvalidPathError(rule, details={"field": "path"})


def _encodable(path: str) -> bool:
    """False for lone surrogates, which no backend can store under the same name."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
