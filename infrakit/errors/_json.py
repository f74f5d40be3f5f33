"""Make any value safe to send as JSON in a problem body, whatever the error carries.

An error handler must answer even when the error it handles is itself broken: `details`
nested thousands deep, a cycle, values JSON cannot hold (tuple keys, sets, NaN, a huge
int), objects whose `__str__` and `__repr__` raise, lone surrogates, a password under a
`password` key. `json_safe` returns a bounded copy made only of `dict`, `list`, `str`,
finite numbers, booleans and `None`, with values under sensitive key names masked.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from infrakit._internal.secrets import MASK, is_sensitive_key

__all__ = ["MAX_DEPTH", "MAX_ITEMS", "MAX_STRING", "MAX_VALUES", "json_safe", "safe_text"]

MAX_DEPTH = 8
"""Containers nested deeper than this are replaced by `TRUNCATED`."""
MAX_ITEMS = 100
"""Items kept per list or mapping; the rest are dropped (a `TRUNCATED` marker is added)."""
MAX_VALUES = 1_000
"""Values kept in all; past this every further value is `TRUNCATED`."""
MAX_STRING = 2_000
"""Characters kept per string."""
TRUNCATED = "..."
_LARGEST_INT = 2**63


def json_safe(value: Any, *, mask: bool = True) -> Any:
    """A JSON-ready, bounded copy of `value` (see the module docstring); never raises.

    Args:
        value: anything.
        mask: replace the values of sensitive keys (`password`, `api_key`...) by `***`.

    Returns:
        A value `json.dumps(..., allow_nan=False)` accepts.
    """
    return _Sanitiser(mask).convert(value, 0)


def safe_text(value: object) -> str:
    """`str(value)`, else `repr(value)`, else a placeholder naming the type; never raises."""
    for render in (str, repr):
        try:
            text = render(value)
        except Exception:  # a broken __str__ or __repr__ must not break the error handler
            continue
        if isinstance(text, str):
            return _clean(text)
    return f"<unprintable {type(value).__name__}>"


def _clean(text: str) -> str:
    """Cut to `MAX_STRING` and replace lone surrogates, which UTF-8 cannot encode."""
    text = text[:MAX_STRING]
    if text.isascii():
        return text
    return text.encode("utf-8", "replace").decode("utf-8")


class _Sanitiser:
    """One conversion: carries the value budget shared by the whole tree."""

    def __init__(self, mask: bool) -> None:
        self.mask = mask
        self.remaining = MAX_VALUES

    def convert(self, value: Any, depth: int) -> Any:
        self.remaining -= 1
        if self.remaining < 0:
            return TRUNCATED
        try:
            return self._convert(value, depth)
        except Exception:  # a container that fails while iterated, a broken __index__
            return f"<unprintable {type(value).__name__}>"

    def _convert(self, value: Any, depth: int) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str):
            return _clean(str.__str__(value))
        if isinstance(value, int):
            number = int(value)
            return number if abs(number) < _LARGEST_INT else _large_int(number)
        if isinstance(value, float):
            real = float(value)
            return real if math.isfinite(real) else str(real)
        if isinstance(value, bytes | bytearray):
            return _clean(bytes(value[:MAX_STRING]).decode("utf-8", "replace"))
        if isinstance(value, Mapping | list | tuple | set | frozenset):
            return self._container(value, depth)
        return safe_text(value)

    def _container(self, value: Any, depth: int) -> Any:
        if depth >= MAX_DEPTH:
            return TRUNCATED
        if isinstance(value, Mapping):
            return self._mapping(value, depth)
        items: list[Any] = []
        for position, item in enumerate(value):
            if position >= MAX_ITEMS:
                items.append(TRUNCATED)
                break
            items.append(self.convert(item, depth + 1))
        return items

    def _mapping(self, value: Mapping[Any, Any], depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for position, (key, item) in enumerate(value.items()):
            if position >= MAX_ITEMS:
                result[TRUNCATED] = TRUNCATED
                break
            name = _clean(str.__str__(key)) if isinstance(key, str) else safe_text(key)
            if self.mask and is_sensitive_key(name):
                result[name] = MASK
            else:
                result[name] = self.convert(item, depth + 1)
        return result


def _large_int(number: int) -> str:
    try:
        return str(number)[:MAX_STRING]
    except ValueError:  # more digits than int-to-str conversion allows
        return f"<int of about {int(number.bit_length() * 0.30103)} digits>"
