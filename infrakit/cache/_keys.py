"""Cache keys: long keys hashed, and stable default keys for memoised calls.

A default key is `module.qualname(arg, ..., name=arg)` built from the *content* of
the arguments, never from an object's repr or memory address, so it is the same in
every process and after a restart. Types without a stable content raise
`CacheError(code="CACHE_KEY_ERROR")` asking for `key_fn` or a `__cache_key__` method.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel

from infrakit.cache._protocol import CacheError
from infrakit.cache._rules import MAX_KEY_LENGTH, normalize_key

__all__ = ["default_key_builder"]

_PRIMITIVES = frozenset({str, int, float, bool, type(None), bytes})
_STABLE_REPR = frozenset(
    {datetime.datetime, datetime.date, datetime.time, datetime.timedelta, uuid.UUID}
)


def default_key_builder(fn: Callable[..., Any]) -> Callable[[tuple[Any, ...], dict[str, Any]], str]:
    """Return the key function of `fn`: its qualified name and its arguments' content.

    The common case (positional arguments of built-in scalar types) is one type check
    per argument and one f-string; everything else goes through `_token`.
    """
    name = f"{fn.__module__}.{fn.__qualname__}"
    opening = name + "("
    primitives = _PRIMITIVES
    limit = MAX_KEY_LENGTH

    def build(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
        if not kwargs:
            if len(args) == 1:
                if type(args[0]) in primitives:
                    key = f"{opening}{args[0]!r})"
                    return key if len(key) <= limit else normalize_key(key)
            else:
                for argument in args:
                    if type(argument) not in primitives:
                        break
                else:
                    key = f"{opening}{', '.join(map(repr, args))})"
                    return key if len(key) <= limit else normalize_key(key)
        elif _all_primitive(args, kwargs):
            named = [f"{key}={kwargs[key]!r}" for key in sorted(kwargs)]
            key = f"{opening}{', '.join([*map(repr, args), *named])})"
            return key if len(key) <= limit else normalize_key(key)
        tokens = [_token(argument, name) for argument in args]
        tokens += [f"{key}={_token(kwargs[key], name)}" for key in sorted(kwargs)]
        return normalize_key(f"{opening}{', '.join(tokens)})")

    return build


def _all_primitive(args: tuple[Any, ...], kwargs: dict[str, Any]) -> bool:
    """True when every argument is a built-in scalar, whose `repr` is its stable content."""
    for values in (args, kwargs.values()):
        for argument in values:
            if type(argument) not in _PRIMITIVES:
                return False
    return True


def _token(value: Any, function: str) -> str:
    kind = type(value)
    if kind in _PRIMITIVES or kind in _STABLE_REPR or kind is decimal.Decimal:
        return repr(value)
    custom = getattr(value, "__cache_key__", None)
    if custom is not None and not isinstance(value, type):
        return f"{_qualified(kind)}<{_token(custom(), function)}>"
    if isinstance(value, enum.Enum):
        return f"{_qualified(kind)}.{value.name}"
    if isinstance(value, type):
        return _qualified(value)
    if isinstance(value, BaseModel):
        return f"{_qualified(kind)}{value.model_dump_json()}"
    if dataclasses.is_dataclass(value):
        fields = ", ".join(
            f"{field.name}={_token(getattr(value, field.name), function)}"
            for field in dataclasses.fields(value)
        )
        return f"{_qualified(kind)}({fields})"
    return _container_token(value, function)


def _container_token(value: Any, function: str) -> str:
    if isinstance(value, list | tuple):
        inner = ", ".join(_token(item, function) for item in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner})"
    if isinstance(value, set | frozenset):
        return "{" + ", ".join(sorted(_token(item, function) for item in value)) + "}"
    if isinstance(value, Mapping):
        pairs = sorted(f"{_token(k, function)}: {_token(v, function)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise CacheError(
        f"cannot build a cache key for {function}: an argument of type "
        f"{_qualified(type(value))} has no stable content; pass key_fn=... to memoize, "
        "or give the type a __cache_key__() method",
        code="CACHE_KEY_ERROR",
        details={"function": function, "type": _qualified(type(value))},
    )


def _qualified(kind: type) -> str:
    return f"{kind.__module__}.{kind.__qualname__}"
