"""The configuration contract other modules depend on, and the secret provider contract."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, overload, runtime_checkable

from pydantic import BaseModel, SecretStr

__all__ = ["ConfigReader", "SecretProvider"]

ModelT = TypeVar("ModelT", bound=BaseModel)
DefaultT = TypeVar("DefaultT")


@runtime_checkable
class SecretProvider(Protocol):
    """Supplies secret values (files, vaults); asked before plain configuration."""

    def supports_secret(self, key: str) -> bool:
        """True when this provider may hold `key` (full upper-case key, namespace included).

        Cheap and without I/O where possible: `Config` asks it before `get_secret`.
        """
        ...

    def get_secret(self, key: str) -> str | None:
        """The secret's value, or None when this provider does not hold it after all.

        Raises:
            ConfigurationError: the secret exists but must not or cannot be read (a
                symlink, an escape from the provider's directory); the message names
                the key and the location, never the content. Other exceptions are
                translated into `ConfigurationError` by `Config`.
        """
        ...


@runtime_checkable
class ConfigReader(Protocol):
    """Typed, namespaced read access to the effective configuration.

    Keys are case-insensitive environment-style names (`DATABASE_URL`); inside a
    namespace the prefix is implied (`namespace("database").get_str("url")`).
    A missing key without a default, or a value that does not convert, raises
    `ConfigurationError` naming the key, the expected type and the source. A default
    is returned as given when the key is not set, so `get_str("X", None)` is typed
    `str | None`.
    """

    @overload
    def get_str(self, key: str) -> str: ...
    @overload
    def get_str(self, key: str, default: str) -> str: ...
    @overload
    def get_str(self, key: str, default: DefaultT) -> str | DefaultT: ...

    @overload
    def get_int(self, key: str) -> int: ...
    @overload
    def get_int(self, key: str, default: int) -> int: ...
    @overload
    def get_int(self, key: str, default: DefaultT) -> int | DefaultT: ...

    @overload
    def get_float(self, key: str) -> float: ...
    @overload
    def get_float(self, key: str, default: float) -> float: ...
    @overload
    def get_float(self, key: str, default: DefaultT) -> float | DefaultT: ...

    @overload
    def get_bool(self, key: str) -> bool: ...
    @overload
    def get_bool(self, key: str, default: bool) -> bool: ...
    @overload
    def get_bool(self, key: str, default: DefaultT) -> bool | DefaultT: ...

    @overload
    def get_list(self, key: str, *, item_type: type[Any] = ...) -> list[Any]: ...
    @overload
    def get_list(
        self, key: str, default: list[Any], *, item_type: type[Any] = ...
    ) -> list[Any]: ...
    @overload
    def get_list(
        self, key: str, default: DefaultT, *, item_type: type[Any] = ...
    ) -> list[Any] | DefaultT: ...

    @overload
    def get_secret(self, key: str) -> SecretStr: ...
    @overload
    def get_secret(self, key: str, default: str | SecretStr) -> SecretStr: ...
    @overload
    def get_secret(self, key: str, default: DefaultT) -> SecretStr | DefaultT: ...

    @property
    def env(self) -> str:
        """The environment name the configuration was loaded for (`production`, `test`)."""
        ...

    def has(self, key: str) -> bool: ...

    def namespace(self, name: str) -> ConfigReader: ...

    def load(self, model: type[ModelT], *, namespace: str | None = None) -> ModelT:
        """Validate the keys of `namespace` into `model`, reporting every problem at once.

        A field `pool_max_size` of a model loaded with `namespace="database"` reads
        `DATABASE_POOL_MAX_SIZE`.
        """
        ...
