"""`StorageSettings`: the `STORAGE_*` keys and the `FsspecStorage` they make."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from infrakit._internal.secrets import mask_dsn
from infrakit.errors import ConfigurationError

if TYPE_CHECKING:
    from infrakit.config import ConfigReader
    from infrakit.log import Logger
    from infrakit.storage.fsspec import FsspecStorage

__all__ = ["StorageSettings"]

DEFAULT_STORAGE_URL = "file://./data"
_SCHEMES = frozenset({"file", "memory", "s3", "s3a"})


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """Where files go and how local URLs are signed.

    Attributes:
        url: `STORAGE_URL` (default `file://./data`; `memory://`, `s3://bucket/prefix`).
        signing_keys: `STORAGE_SIGNING_KEY`, one key or several comma-separated, newest
            first; None signs with a random key of this process. Never in `repr`.
    """

    url: str = DEFAULT_STORAGE_URL
    signing_keys: tuple[str, ...] | None = None

    def __repr__(self) -> str:
        keys = None if self.signing_keys is None else f"<{len(self.signing_keys)} keys>"
        return f"StorageSettings(url={mask_dsn(self.url)!r}, signing_keys={keys})"

    @classmethod
    def from_config(
        cls,
        config: ConfigReader,
        *,
        url: str | None = None,
        signing_keys: list[str] | None = None,
    ) -> StorageSettings:
        """Read `STORAGE_URL` and `STORAGE_SIGNING_KEY`; an override given wins.

        Raises:
            ConfigurationError: `STORAGE_URL` has a scheme other than `file`, `memory`
                and `s3`; `details["key"]` names the key (the URL is not repeated).
        """
        keys = signing_keys or _signing_keys(config)
        return cls(url=url or _url(config), signing_keys=tuple(keys) if keys else None)

    def create(self, *, logger: Logger | None = None) -> FsspecStorage:
        """The `FsspecStorage` of `url`.

        Raises:
            StorageError: the URL's scheme is not supported.
            MissingDependencyError: an `s3://` URL without the `s3` extra.
        """
        from infrakit.storage.fsspec import FsspecStorage

        keys = list(self.signing_keys) if self.signing_keys is not None else None
        return FsspecStorage(self.url, signing_keys=keys, logger=logger)


def _url(config: ConfigReader) -> str:
    """`STORAGE_URL` (default `file://./data`), its scheme checked so the error names the key."""
    url = config.get_str("STORAGE_URL", "") or DEFAULT_STORAGE_URL
    scheme, separator, _ = url.partition("://")
    if separator and scheme not in _SCHEMES:
        raise ConfigurationError(
            "STORAGE_URL must start with file://, memory:// or s3://",
            details={"key": "STORAGE_URL"},
        )
    return url


def _signing_keys(config: ConfigReader) -> list[str] | None:
    """`STORAGE_SIGNING_KEY`: comma-separated HMAC keys, newest first; None when unset."""
    text = config.get_str("STORAGE_SIGNING_KEY", "")
    keys = [key.strip() for key in text.split(",") if key.strip()]
    return keys or None
