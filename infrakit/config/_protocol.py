"""The configuration contract other modules depend on, and the secret provider contract."""

from __future__ import annotations

from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, SecretStr

__all__ = ["ConfigReader", "SecretProvider"]

ModelT = TypeVar("ModelT", bound=BaseModel)


@runtime_checkable
class SecretProvider(Protocol):
    """Supplies secret values (files, vaults); asked before plain configuration."""

    def supports_secret(self, key: str) -> bool: ...

    def get_secret(self, key: str) -> str | None: ...


@runtime_checkable
class ConfigReader(Protocol):
    """Typed, namespaced read access to the effective configuration.

    Keys are case-insensitive environment-style names (`DATABASE_URL`); inside a
    namespace the prefix is implied (`namespace("database").get_str("url")`).
    A missing key without a default, or a value that does not convert, raises
    `ConfigurationError` naming the key, the expected type and the source.
    """

    def get_str(self, key: str, default: Any = ...) -> str: ...

    def get_int(self, key: str, default: Any = ...) -> int: ...

    def get_float(self, key: str, default: Any = ...) -> float: ...

    def get_bool(self, key: str, default: Any = ...) -> bool: ...

    def get_list(
        self, key: str, default: Any = ..., *, item_type: type[Any] = str
    ) -> list[Any]: ...

    def get_secret(self, key: str, default: Any = ...) -> SecretStr: ...

    def has(self, key: str) -> bool: ...

    def namespace(self, name: str) -> ConfigReader: ...

    def load(self, model: type[ModelT], *, namespace: str | None = None) -> ModelT:
        """Validate the keys of `namespace` into `model`, reporting every problem at once.

        A field `pool_max_size` of a model loaded with `namespace="database"` reads
        `DATABASE_POOL_MAX_SIZE`.
        """
        ...
