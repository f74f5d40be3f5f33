"""Masking of secret-looking keys in metadata and context, nested containers included."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

REDACTED = "***"
TOO_DEEP = "[nested too deep]"
_SCALARS = frozenset({str, int, float, bool, type(None)})
MAX_DEPTH = 8

DEFAULT_SENSITIVE_KEYS: tuple[str, ...] = (
    "password",
    "passwd",
    "secret",
    "token",
    "api_key",
    "apikey",
    "authorization",
    "cookie",
    "session",
    "credential",
    "private_key",
)


class Redactor:
    """Decides once per distinct key whether it is sensitive, then masks values cheaply.

    Matching is case-insensitive and substring-aware after normalising `-` and spaces to
    `_`, so `db_password`, `X-Api-Key` and `SessionId` are all masked. Decisions are cached
    per key (a service uses a bounded set of field names), so the hot path is a dict hit.
    """

    def __init__(self, patterns: Iterable[str] = DEFAULT_SENSITIVE_KEYS) -> None:
        self._patterns = tuple(_normalise(pattern) for pattern in patterns)
        self._decisions: dict[str, bool] = {}

    def is_sensitive(self, key: str) -> bool:
        decision = self._decisions.get(key)
        if decision is None:
            normalised = _normalise(key)
            decision = any(pattern in normalised for pattern in self._patterns)
            if len(self._decisions) < 10_000:
                self._decisions[key] = decision
        return decision

    def redact(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of `fields` with sensitive keys masked, recursing into dicts and lists.

        This runs on every record with metadata, so scalars (the common case) skip the
        container checks, and a known key costs one dict lookup.
        """
        decisions = self._decisions
        result: dict[str, Any] = {}
        for key, value in fields.items():
            sensitive = decisions.get(key)
            if sensitive is None:
                sensitive = self.is_sensitive(key)
            if sensitive:
                result[key] = REDACTED
            elif type(value) in _SCALARS:
                result[key] = value
            else:
                result[key] = self._value(value, 1)
        return result

    def _value(self, value: Any, depth: int) -> Any:
        """Containers are copied with secrets masked; past `MAX_DEPTH` (or in a cycle) the
        rest is replaced by a marker, since what is not inspected must not be written.
        Dataclasses and pydantic models become dicts here, so the keys configured with
        `redact_keys` reach inside them too (the JSON encoder only knows the defaults)."""
        fields = _fields_of(value)
        if fields is not None:
            value = fields
        if isinstance(value, Mapping):
            if depth > MAX_DEPTH:
                return TOO_DEEP
            return {
                key: REDACTED
                if isinstance(key, str) and self.is_sensitive(key)
                else self._value(item, depth + 1)
                for key, item in value.items()
            }
        if isinstance(value, list | tuple):
            if depth > MAX_DEPTH:
                return TOO_DEEP
            return [self._value(item, depth + 1) for item in value]
        return value


def _fields_of(value: Any) -> dict[str, Any] | None:
    """The fields of a dataclass instance or pydantic model, else None."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
    dump = getattr(value, "model_dump", None)
    if callable(dump) and not isinstance(value, type):
        try:
            fields = dump()
        except Exception:  # a model that cannot dump itself is rendered by `str()` later
            return None
        return fields if isinstance(fields, dict) else None
    return None


def _normalise(key: str) -> str:
    return key.lower().replace("-", "_").replace(" ", "_")
