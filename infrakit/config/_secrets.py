"""Built-in secret providers: `KEY_FILE=/path` pointers and a secrets directory.

Both read a file without ever following a symlink out of their directory, and never
put the content of a file in an error. Files are opened component by component with
`O_NOFOLLOW` relative to the directory's descriptor, so a path cannot be swapped for a
symlink between a check and the open.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path, PurePath

from infrakit.config._protocol import SecretProvider
from infrakit.errors import ConfigurationError

__all__ = ["DirectorySecretProvider", "FileSecretProvider", "read_secret_file"]

MAX_SECRET_BYTES = 1024 * 1024
_SECRET_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK


def _refuse(key: str, path: Path | str, problem: str) -> ConfigurationError:
    return ConfigurationError(
        f"Secret {key}: {path} {problem}.", details={"key": key, "path": str(path)}
    )


def read_secret_file(
    key: str, directory: Path, relative: PurePath, *, allow_internal_symlinks: bool = False
) -> str | None:
    """Read `directory/relative`, refusing symlinks and `..`; None when it does not exist.

    With `allow_internal_symlinks`, symlinks are followed as long as the real path stays
    inside the real directory (the layout Kubernetes uses for mounted secrets).
    Trailing newlines are removed, as `echo secret > file` adds one.
    """
    path = directory / relative
    parts = relative.parts
    if not parts or relative.is_absolute() or any(part in {"", ".", ".."} for part in parts):
        raise _refuse(key, path, "escapes its directory (absolute path or '..')")
    if allow_internal_symlinks:
        real_directory, real_path = os.path.realpath(directory), os.path.realpath(path)
        if os.path.commonpath([real_directory, real_path]) != real_directory:
            raise _refuse(key, path, "resolves outside its directory")
        directory, relative = Path(os.path.dirname(real_path)), PurePath(Path(real_path).name)
    try:
        descriptor = _open_below(directory, relative.parts)
    except FileNotFoundError:
        return None
    except OSError as error:
        if error.errno in {errno.ELOOP, errno.ENOTDIR} and _has_symlink(directory, parts):
            raise _refuse(key, path, "is or goes through a symlink, which is refused") from None
        raise _refuse(key, path, f"cannot be read ({error.strerror})") from error
    try:
        return _read_regular_file(key, path, descriptor)
    finally:
        os.close(descriptor)


def _open_below(directory: Path, parts: tuple[str, ...]) -> int:
    current = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts[:-1]:
            following = os.open(part, _DIRECTORY_FLAGS, dir_fd=current)
            os.close(current)
            current = following
        return os.open(parts[-1], _FILE_FLAGS, dir_fd=current)
    finally:
        os.close(current)


def _has_symlink(directory: Path, parts: tuple[str, ...]) -> bool:
    current = directory
    for part in parts:
        current = current / part
        if current.is_symlink():
            return True
    return False


def _read_regular_file(key: str, path: Path, descriptor: int) -> str:
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(key, path, "is not a regular file")
    if info.st_size > MAX_SECRET_BYTES:
        raise _refuse(key, path, f"is larger than {MAX_SECRET_BYTES} bytes")
    data = os.read(descriptor, MAX_SECRET_BYTES + 1)
    try:
        return data.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise _refuse(key, path, "is not valid UTF-8 text") from None


class DirectorySecretProvider(SecretProvider):
    """Secrets as files in a directory, Docker and Compose style: `/run/secrets/<key>`.

    The key is looked up lower-cased first (`database_password`, as Docker names
    secrets), then as written (`DATABASE_PASSWORD`). A missing directory or file means
    "not provided here"; a symlink or a name that escapes the directory is refused.
    """

    def __init__(
        self, directory: str | Path = "/run/secrets", *, allow_internal_symlinks: bool = False
    ) -> None:
        self.directory = Path(directory)
        self.allow_internal_symlinks = allow_internal_symlinks
        self.label = f"DirectorySecretProvider({self.directory})"

    def __repr__(self) -> str:
        return self.label

    def supports_secret(self, key: str) -> bool:
        """Any key that is a plain file name can live in the directory."""
        return _SECRET_NAME.fullmatch(key) is not None

    def get_secret(self, key: str) -> str | None:
        """The content of the key's file, or None when the directory does not hold it."""
        if not self.supports_secret(key):
            return None
        for name in dict.fromkeys((key.lower(), key)):
            value = read_secret_file(
                key,
                self.directory,
                PurePath(name),
                allow_internal_symlinks=self.allow_internal_symlinks,
            )
            if value is not None:
                return value
        return None


class FileSecretProvider(SecretProvider):
    """The `KEY_FILE=/path` convention: `DATABASE_PASSWORD_FILE` points at the secret.

    `load_config` binds the provider to the effective configuration, where the
    `*_FILE` pointers are read. With `allowed_directory`, a pointer must name a file
    inside it (relative pointers are taken relative to it) and no symlink below it is
    followed. Without it, any path is accepted except one containing `..`, whose last
    component is a symlink; relative pointers are taken from the config directory.
    A pointer to a file that does not exist is an error, not a silent fallback.
    """

    def __init__(
        self,
        *,
        allowed_directory: str | Path | None = None,
        allow_internal_symlinks: bool = False,
        pointers: Mapping[str, str] | None = None,
        base_directory: str | Path = ".",
    ) -> None:
        self.allowed_directory = None if allowed_directory is None else Path(allowed_directory)
        self.allow_internal_symlinks = allow_internal_symlinks
        self.base_directory = Path(base_directory)
        self._pointers = {
            key.upper()[: -len("_FILE")]: path
            for key, path in (pointers or {}).items()
            if key.upper().endswith("_FILE")
        }
        where = "any directory" if self.allowed_directory is None else self.allowed_directory
        self.label = f"FileSecretProvider({where})"

    def __repr__(self) -> str:
        return self.label

    def bind(self, values: Mapping[str, str], *, directory: Path) -> FileSecretProvider:
        """A copy reading its `*_FILE` pointers from `values`, relative paths from `directory`."""
        return FileSecretProvider(
            allowed_directory=self.allowed_directory,
            allow_internal_symlinks=self.allow_internal_symlinks,
            pointers=values,
            base_directory=directory,
        )

    def pointer_keys(self) -> frozenset[str]:
        """The `*_FILE` keys this provider reads (they are not unknown configuration keys)."""
        return frozenset(f"{key}_FILE" for key in self._pointers)

    def supports_secret(self, key: str) -> bool:
        """True when a `KEY_FILE` pointer is set for the key."""
        return key.upper() in self._pointers

    def get_secret(self, key: str) -> str | None:
        """The content of the file `KEY_FILE` points at."""
        pointer = self._pointers.get(key.upper())
        if pointer is None:
            return None
        if not pointer.strip():
            raise _refuse(key, f"{key.upper()}_FILE", "is set but empty")
        directory, relative = self._split(key, Path(pointer))
        value = read_secret_file(
            key, directory, relative, allow_internal_symlinks=self.allow_internal_symlinks
        )
        if value is None:
            raise _refuse(key, pointer, f"(from {key.upper()}_FILE) does not exist")
        return value

    def _split(self, key: str, path: Path) -> tuple[Path, PurePath]:
        if ".." in path.parts:
            raise _refuse(key, path, "escapes its directory ('..')")
        if self.allowed_directory is None:
            full = path if path.is_absolute() else self.base_directory / path
            return full.parent, PurePath(full.name)
        if not path.is_absolute():
            return self.allowed_directory, PurePath(path)
        try:
            return self.allowed_directory, path.relative_to(self.allowed_directory)
        except ValueError:
            raise _refuse(key, path, f"is outside {self.allowed_directory}") from None
