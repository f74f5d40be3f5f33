"""What config masks in `dump()`, and which loaded values it registers as secrets.

The rules themselves are the shared ones (`infrakit._internal.secrets`): the one list of
sensitive key names, the one DSN masking function, the one registry of secret values
the log pipeline masks by value. This module only decides which values they apply to.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from pydantic import BaseModel, SecretStr

from infrakit._internal.secrets import (
    MASK,
    dsn_passwords,
    is_sensitive_key,
    mask_dsn,
    register_secret,
)

__all__ = ["MASK", "redact_all", "register_loaded", "register_model_secrets"]

# A value found under a sensitive key name is masked by value only when it can be told
# apart from ordinary text: `SESSION_SECURE=true` or `API_TOKEN_TTL=3600` must not mask
# every `true` and `3600` in every log line.
_MIN_DISTINCTIVE = 8
_ORDINARY = re.compile(r"[+-]?[0-9._]+|true|false|yes|no|on|off|none|null", re.IGNORECASE)


def _distinctive(value: str) -> bool:
    return len(value) >= _MIN_DISTINCTIVE and _ORDINARY.fullmatch(value) is None


def redact_all(values: Mapping[str, str], every: Mapping[str, str]) -> dict[str, str]:
    """Mask `values` for display, knowing `every` value of the configuration.

    A sensitive key's value is masked whole; any other value goes through `mask_dsn`
    (a URL's or key/value DSN's password) and has every distinctive secret value of the
    configuration replaced, so a secret copied into another value by `${NAME}`
    interpolation (`DSN=password=${DATABASE_PASSWORD}`) is masked too.
    """
    embedded = sorted(
        {value for key, value in every.items() if is_sensitive_key(key) and _distinctive(value)},
        key=len,
        reverse=True,
    )
    return {key: _redact(key, value, embedded) for key, value in values.items()}


def _redact(key: str, value: str, embedded: list[str]) -> str:
    if is_sensitive_key(key):
        return MASK
    value = mask_dsn(value)
    for secret in embedded:
        value = value.replace(secret, MASK)
    return value


def register_loaded(values: Mapping[str, str]) -> None:
    """Register the secrets among freshly loaded values, so logs mask them by value.

    The distinctive values of sensitive keys, and the passwords inside any DSN value
    (a `DATABASE_URL` holds one whatever its key is called).
    """
    for key, value in values.items():
        if is_sensitive_key(key):
            if _distinctive(value):
                register_secret(value)
        elif mask_dsn(value) != value:
            for password in dsn_passwords(value):
                register_secret(password)


def register_model_secrets(values: object) -> None:
    """Register every `SecretStr` inside a loaded model (nested models and containers too)."""
    if isinstance(values, SecretStr):
        register_secret(values.get_secret_value())
    elif isinstance(values, BaseModel):
        _register_each(getattr(values, name) for name in type(values).model_fields)
    elif isinstance(values, Mapping):
        _register_each(values.values())
    elif isinstance(values, list | tuple | set | frozenset):
        _register_each(values)


def _register_each(items: Iterable[object]) -> None:
    for item in items:
        register_model_secrets(item)
