"""Masking by key name in metadata and context, nested containers and header lists included.

Which names are sensitive is decided by `infrakit._internal.secrets.is_sensitive_key`, the
one list config uses too; `redact_keys` fragments add substring patterns on top of it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

from infrakit._internal.secrets import MASK, is_sensitive_key, mask_dsn
from infrakit.log._entry import unprintable

REDACTED = MASK
TOO_DEEP = "[nested too deep]"
CYCLE = "[cycle]"
MAX_DEPTH = 8
_SCALARS = frozenset({int, float, bool, type(None)})


class Redactor:
    """Decides once per distinct key whether it is sensitive, then masks values cheaply.

    A key is sensitive when `is_sensitive_key` says so, or when, lower-cased with `-` and
    spaces turned into `_`, it contains one of the extra `patterns`. Decisions are cached
    per key (a service uses a bounded set of field names), so the hot path is a dict hit.

    Args:
        patterns: extra key fragments (`redact_keys`), matched as substrings.
    """

    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self._patterns = tuple(_normalise(pattern) for pattern in patterns if pattern)
        self._decisions: dict[str, bool] = {}

    def is_sensitive(self, key: str) -> bool:
        decision = self._decisions.get(key)
        if decision is None:
            decision = is_sensitive_key(key) or self._matches_pattern(key)
            if len(self._decisions) < 10_000:
                self._decisions[key] = decision
        return decision

    def _matches_pattern(self, key: str) -> bool:
        normalised = _normalise(key)
        return any(pattern in normalised for pattern in self._patterns)

    def redact(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of `fields` with sensitive keys masked, recursing into containers.

        This runs on every record with metadata, so scalars (the common case) skip the
        container checks, a string costs one `://` search (a URL's password is masked),
        and a known key costs one dict lookup. Never raises: a value that cannot be
        inspected becomes a placeholder, and the rest of the record is kept.
        """
        decisions = self._decisions
        result: dict[str, Any] = {}
        for key, value in fields.items():
            sensitive = decisions.get(key)
            if sensitive is None:
                sensitive = self.is_sensitive(key) if isinstance(key, str) else False
            if sensitive:
                result[key] = REDACTED
            elif type(value) is str:
                result[key] = mask_dsn(value) if "://" in value else value
            elif type(value) in _SCALARS:
                result[key] = value
            else:
                result[key] = self._guarded(value, 1, ())
        return result

    def _guarded(self, value: Any, depth: int, path: tuple[int, ...]) -> Any:
        try:
            return self._value(value, depth, path)
        except Exception:  # a mapping or model that breaks while it is read
            return unprintable(value)

    def _value(self, value: Any, depth: int, path: tuple[int, ...]) -> Any:
        """Containers are copied with secrets masked. A container met again on its own path
        becomes `[cycle]`; past `MAX_DEPTH` the rest becomes `[nested too deep]`, since what
        is not inspected must not be written. Dataclasses, named tuples and pydantic models
        become dicts here, so `redact_keys` reach inside them too."""
        if type(value) is str:
            return mask_dsn(value) if "://" in value else value
        if type(value) in _SCALARS:
            return value
        fields = _fields_of(value)
        if fields is not None:
            value = fields
        if isinstance(value, Mapping | list | tuple):
            if id(value) in path:
                return CYCLE
            if depth > MAX_DEPTH:
                return TOO_DEEP
            path = (*path, id(value))
            if isinstance(value, Mapping):
                return self._mapping(value, depth, path)
            if len(value) == 2 and self._sensitive_name(value[0]):
                return [value[0], REDACTED]  # a (name, value) pair: a header, a parameter
            return [self._guarded(item, depth + 1, path) for item in value]
        return value

    def _mapping(self, value: Mapping[Any, Any], depth: int, path: tuple[int, ...]) -> Any:
        return {
            key: REDACTED
            if isinstance(key, str) and self.is_sensitive(key)
            else self._guarded(item, depth + 1, path)
            for key, item in value.items()
        }

    def _sensitive_name(self, name: Any) -> bool:
        """Whether the first item of a pair names a secret: a `(name, value)` pair (an ASGI
        header, a query parameter) with a sensitive name keeps its name, loses its value."""
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        return isinstance(name, str) and self.is_sensitive(name)


def _fields_of(value: Any) -> dict[str, Any] | None:
    """The fields of a dataclass instance, named tuple or pydantic model, else None."""
    if isinstance(value, tuple):
        names = getattr(type(value), "_fields", None)
        if isinstance(names, tuple):
            return dict(zip(names, value, strict=False))
        return None
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
