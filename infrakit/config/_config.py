"""`Config`: the immutable, typed, namespaced view of the effective configuration."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn, TypeVar, overload

from pydantic import BaseModel, SecretStr

from infrakit._internal.secrets import register_secret
from infrakit.config._cascade import ConfigSource, load_layers, resolve_env_name
from infrakit.config._convert import (
    ConversionError,
    parse_list,
    to_bool,
    to_float,
    to_int,
    type_name,
)
from infrakit.config._protocol import SecretProvider
from infrakit.config._redact import redact_all, register_loaded
from infrakit.config._schema import SchemaInput, validate_config
from infrakit.config._secrets import DirectorySecretProvider, FileSecretProvider
from infrakit.errors import AppError, ConfigurationError

__all__ = ["Config", "load_config"]

T = TypeVar("T")
ModelT = TypeVar("ModelT", bound=BaseModel)
_MISSING: Any = ...


@dataclass(frozen=True, slots=True, repr=False)
class _State:
    env: str
    directory: Path
    values: Mapping[str, str]
    sources: Mapping[str, ConfigSource]
    loaded: tuple[str, ...]
    searched: tuple[str, ...]
    providers: tuple[SecretProvider, ...]

    def looked_in(self) -> str:
        """Where a missing key was looked for, for error messages."""
        if not self.searched:
            return "the mapping given to Config.from_mapping"
        return f"the environment and {', '.join(self.searched)} in {self.directory}"

    def providers_asked(self) -> str:
        """The secret providers a missing secret was also looked for in, for error messages."""
        if not self.providers:
            return ""
        return f" and the secret providers {', '.join(map(_label, self.providers))}"


def _label(provider: SecretProvider) -> str:
    label: str = getattr(provider, "label", type(provider).__name__)
    return label


def default_secret_providers() -> tuple[SecretProvider, ...]:
    """`KEY_FILE` pointers (any directory) first, then the Docker `/run/secrets` directory."""
    return (FileSecretProvider(), DirectorySecretProvider())


def load_config(
    env: str | None = None,
    *,
    directory: str | Path = ".",
    environ: Mapping[str, str] | None = None,
    secret_providers: Sequence[SecretProvider] | None = None,
) -> Config:
    """Load the `.env` cascade for `env` under `directory`, the environment on top.

    Args:
        env: the environment name; else `APP_ENV` from the environment, else
            `development`. For `test`, `.env.local` is skipped so test runs are the
            same on every machine.
        directory: where the `.env*` files live.
        environ: the variables standing for the process environment (default
            `os.environ`, copied at load time).
        secret_providers: asked, in order, before plain values by `get_secret` and for
            `SecretStr` fields in `load()`. Default: `FileSecretProvider()` then
            `DirectorySecretProvider("/run/secrets")`; pass `()` for none. Providers
            with a `bind(values, directory=...)` method receive the loaded values.

    Returns:
        The immutable configuration.

    Raises:
        ConfigurationError: a file is unreadable or malformed (naming file and line), a
            `${NAME}` reference is undefined or circular, the env name is invalid, or
            `directory` does not exist (a typo there would silently load nothing).
    """
    environment = dict(os.environ if environ is None else environ)
    name = resolve_env_name(env, environment)
    folder = Path(directory)
    if not folder.is_dir():
        raise ConfigurationError(
            f"The configuration directory {folder} does not exist or is not a directory.",
            details={"directory": str(folder)},
        )
    layers = load_layers(folder, name, environment)
    register_loaded(layers.values)
    chosen = default_secret_providers() if secret_providers is None else secret_providers
    providers = tuple(_bind(provider, layers.values, folder) for provider in chosen)
    state = _State(
        name,
        folder,
        MappingProxyType(layers.values),
        MappingProxyType(layers.sources),
        layers.loaded,
        layers.searched,
        providers,
    )
    return Config(state)


def _bind(provider: SecretProvider, values: Mapping[str, str], directory: Path) -> SecretProvider:
    bind: Callable[..., SecretProvider] | None = getattr(provider, "bind", None)
    return bind(values, directory=directory) if bind is not None else provider


class Config:
    """The effective configuration: typed getters, namespaces, schemas, sources.

    Immutable after `load_config`; reading a plain value is one dict lookup. Keys
    are case-insensitive environment-style names. `repr` and `str` show the env and
    the sources, never a value.

    Every getter raises `ConfigurationError` when the key is missing and no default
    is given, or when the value does not convert; the message names the key, the
    expected type and the source, never the value (for any key: guessing which keys
    are secret is not safe enough). A default is returned as given, unconverted.
    """

    __slots__ = ("_prefix", "_state")
    _state: _State
    _prefix: str

    def __init__(self, state: _State, prefix: str = "") -> None:
        object.__setattr__(self, "_state", state)
        object.__setattr__(self, "_prefix", prefix)

    @classmethod
    def from_mapping(
        cls,
        values: Mapping[str, str],
        *,
        env: str = "test",
        secret_providers: Sequence[SecretProvider] = (),
    ) -> Config:
        """A configuration from a plain mapping, for tests and embedding; no file is read."""
        upper = {key.upper(): str(value) for key, value in values.items()}
        register_loaded(upper)
        source = ConfigSource("mapping", "mapping")
        state = _State(
            env,
            Path("."),
            MappingProxyType(upper),
            MappingProxyType(dict.fromkeys(upper, source)),
            (),
            (),
            tuple(secret_providers),
        )
        return cls(state)

    def __setattr__(self, name: str, value: object) -> NoReturn:
        raise AttributeError("Config is immutable")

    def __delattr__(self, name: str) -> NoReturn:
        raise AttributeError("Config is immutable")

    def __repr__(self) -> str:
        state = self._state
        sources = ["environment", *state.loaded] if state.loaded or state.searched else ["mapping"]
        prefix = f", namespace={self._prefix.rstrip('_')!r}" if self._prefix else ""
        providers = [_label(provider) for provider in state.providers]
        return f"Config(env={state.env!r}{prefix}, sources={sources!r}, providers={providers!r})"

    __str__ = __repr__

    @property
    def env(self) -> str:
        """The environment name the cascade was loaded for."""
        return self._state.env

    @property
    def files(self) -> tuple[str, ...]:
        """The files that were loaded, highest priority first."""
        return self._state.loaded

    def namespace(self, name: str) -> Config:
        """A view where `get_str("url")` reads `<NAME>_URL`; namespaces nest."""
        part = name.strip("_").upper()
        if not part:
            raise ConfigurationError("A namespace name must not be empty.")
        return Config(self._state, f"{self._prefix}{part}_")

    def has(self, key: str) -> bool:
        """True when a plain value is set for the key (secret providers are not asked)."""
        return self._key(key) in self._state.values

    @overload
    def get_str(self, key: str) -> str: ...
    @overload
    def get_str(self, key: str, default: str) -> str: ...
    @overload
    def get_str(self, key: str, default: T) -> str | T: ...
    def get_str(self, key: str, default: Any = _MISSING) -> Any:
        """The text value, as written after interpolation."""
        return self._get(key, default, None, "str")

    @overload
    def get_int(self, key: str) -> int: ...
    @overload
    def get_int(self, key: str, default: int) -> int: ...
    @overload
    def get_int(self, key: str, default: T) -> int | T: ...
    def get_int(self, key: str, default: Any = _MISSING) -> Any:
        """A whole number (`42`, `-1`, `1_000`)."""
        return self._get(key, default, to_int, "int")

    @overload
    def get_float(self, key: str) -> float: ...
    @overload
    def get_float(self, key: str, default: float) -> float: ...
    @overload
    def get_float(self, key: str, default: T) -> float | T: ...
    def get_float(self, key: str, default: Any = _MISSING) -> Any:
        """A finite number (`0.5`, `1e3`); `nan` and `inf` are refused."""
        return self._get(key, default, to_float, "float")

    @overload
    def get_bool(self, key: str) -> bool: ...
    @overload
    def get_bool(self, key: str, default: bool) -> bool: ...
    @overload
    def get_bool(self, key: str, default: T) -> bool | T: ...
    def get_bool(self, key: str, default: Any = _MISSING) -> Any:
        """true/false, 1/0, yes/no, on/off in any case; anything else is an error."""
        return self._get(key, default, to_bool, "bool")

    @overload
    def get_list(self, key: str, *, item_type: type[Any] = ...) -> list[Any]: ...
    @overload
    def get_list(
        self, key: str, default: list[Any], *, item_type: type[Any] = ...
    ) -> list[Any]: ...
    @overload
    def get_list(self, key: str, default: T, *, item_type: type[Any] = ...) -> list[Any] | T: ...
    def get_list(self, key: str, default: Any = _MISSING, *, item_type: type[Any] = str) -> Any:
        """Comma-separated items (stripped, empty ones dropped) or a JSON array."""
        expected = f"list[{type_name(item_type)}]"
        return self._get(key, default, lambda raw: parse_list(raw, item_type), expected)

    @overload
    def get_secret(self, key: str) -> SecretStr: ...
    @overload
    def get_secret(self, key: str, default: str | SecretStr) -> SecretStr: ...
    @overload
    def get_secret(self, key: str, default: T) -> SecretStr | T: ...
    def get_secret(self, key: str, default: Any = _MISSING) -> Any:
        """The secret from the first provider that has it, else the plain value.

        A `str` default is wrapped in `SecretStr`; other defaults are returned as given.
        The value read is registered as a secret, so log lines mask it wherever it shows.
        """
        full = self._key(key)
        found = self._provided(full)
        if found is not None:
            return SecretStr(found[0])
        raw = self._state.values.get(full)
        if raw is not None:
            register_secret(raw)
            return SecretStr(raw)
        if default is _MISSING:
            self._missing(full, "SecretStr", self._state.providers_asked())
        return SecretStr(default) if isinstance(default, str) else default

    def source_of(self, key: str, *, secret: bool = False) -> ConfigSource | None:
        """Where the value of `key` comes from, or None when nothing provides it.

        A plain value's file (and line) or the environment; for a key with no plain
        value, the secret provider that holds it (a password read only through
        `DATABASE_PASSWORD_FILE` is reported, not called unset).

        Args:
            key: the key, relative to this namespace.
            secret: report where `get_secret` would read it, asking providers first
                even when a plain value exists.
        """
        full = self._key(key)
        plain = self._state.sources.get(full)
        if secret or plain is None:
            found = self._provided(full)
            if found is not None:
                return found[1]
        return plain

    def dump(self, *, redact: bool = True) -> dict[str, str]:
        """The effective plain values of this namespace, sorted, for diagnostics.

        Args:
            redact: mask (as `***`) the values of sensitive keys (password, secret,
                token, api_key, credential...: the list shared with the log module), the
                password inside any URL or key/value DSN value (the shared `mask_dsn`),
                and secret values copied into other values by interpolation.
        """
        values = self._state.values
        selected = {key: values[key] for key in sorted(values) if key.startswith(self._prefix)}
        return redact_all(selected, values) if redact else selected

    def load(self, model: type[ModelT], *, namespace: str | None = None) -> ModelT:
        """Validate the keys of `namespace` (inside this view's) into `model`.

        Args:
            model: the pydantic model; field `pool_max_size` reads `<NAMESPACE>_POOL_MAX_SIZE`.
            namespace: the key prefix without `_`; nested in this view's namespace.

        Returns:
            The validated model; `SecretStr` fields asked the secret providers first.

        Raises:
            ConfigurationError: every missing, invalid or unknown key at once, one line
                per key, naming key, problem, expected type and source, never the value.
        """
        view = self.namespace(namespace) if namespace else self
        state = view._state
        context = SchemaInput(
            sources=state.sources,
            secret=view._provided,
            ignored_keys=frozenset().union(
                *(getattr(p, "pointer_keys", frozenset)() for p in state.providers)
            ),
            missing_hint=f"looked in {state.looked_in()}",
            secret_hint=state.providers_asked(),
        )
        return validate_config(
            state.values, model, namespace=view._prefix.rstrip("_") or None, context=context
        )

    def _key(self, key: str) -> str:
        if not key:
            raise ConfigurationError("A configuration key must not be empty.")
        return self._prefix + key.upper()

    def _get(
        self,
        key: str,
        default: Any,
        converter: Callable[[str], Any] | None,
        expected: str,
    ) -> Any:
        full = self._key(key)
        raw = self._state.values.get(full)
        if raw is None:
            if default is _MISSING:
                self._missing(full, expected)
            return default
        if converter is None:
            return raw
        reason = None
        try:
            return converter(raw)
        except ConversionError as error:
            reason = error.reason
        # Raised outside the except block: the conversion error must not be the context.
        source = self._state.sources.get(full)
        raise ConfigurationError(
            f"{full} is not a valid {expected}: {reason} (from {source}).",
            details={"key": full, "expected": expected, "source": str(source)},
        )

    def _missing(self, full: str, expected: str, also: str = "") -> NoReturn:
        raise ConfigurationError(
            f"{full} is not set (expected {expected}); looked in {self._state.looked_in()}{also}.",
            details={"key": full, "expected": expected, "searched": list(self._state.searched)},
        )

    def _provided(self, full: str) -> tuple[str, ConfigSource] | None:
        for provider in self._state.providers:
            label = _label(provider)
            try:
                if provider.supports_secret(full):
                    value = provider.get_secret(full)
                    if value is not None:
                        register_secret(value)
                        return value, ConfigSource("provider", label)
            except AppError:
                raise
            except Exception as error:
                raise ConfigurationError(
                    f"Secret provider {label} failed for {full}: {type(error).__name__}.",
                    details={"key": full, "provider": label},
                ) from error
        return None
