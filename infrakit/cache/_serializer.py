"""Serialisers for caches that leave the process: JSON by default, never plain pickle.

`JsonSerializer` writes with pydantic's encoder, so pydantic models, dataclasses,
datetimes, UUIDs, decimals, enums, sets and tuples are written as JSON. Reading
without a type gives plain JSON values (dicts, lists); naming the type
(`get(key, type=User)`, `list[User]`, or a memoised function's return annotation)
validates the JSON back into it.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import pickle
from typing import Any, Protocol, runtime_checkable

import pydantic_core
from pydantic import TypeAdapter

from infrakit.cache._protocol import CacheError

__all__ = ["JsonSerializer", "Serializer", "SignedPickleSerializer"]


@runtime_checkable
class Serializer(Protocol):
    """Turns values into bytes and back; `type` (maybe None) names what to rebuild."""

    def dumps(self, value: Any) -> bytes: ...

    def loads(self, data: bytes, type: Any = None) -> Any: ...


@functools.lru_cache(maxsize=256)
def _adapter(kind: Any) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


class JsonSerializer:
    """JSON through pydantic-core: fast, readable in `redis-cli`, safe to share."""

    def dumps(self, value: Any) -> bytes:
        try:
            return pydantic_core.to_json(value)
        except pydantic_core.PydanticSerializationError as error:
            raise TypeError(f"{type(value).__name__} is not JSON serialisable") from error

    def loads(self, data: bytes, type: Any = None) -> Any:
        if type is None or type is Any:
            return pydantic_core.from_json(data)
        return _adapter(type).validate_json(data)


class SignedPickleSerializer:
    """Pickle signed with HMAC-SHA256: for trusted Python-only values on a shared server.

    A value whose signature does not match (written by someone without the secret)
    is rejected before unpickling, so a writable Redis cannot run code in the reader.
    """

    _DIGEST_SIZE = 32

    def __init__(self, secret: bytes | str) -> None:
        if not secret:
            raise CacheError("SignedPickleSerializer needs a non-empty secret")
        self._secret = secret.encode() if isinstance(secret, str) else secret

    def __repr__(self) -> str:
        return "SignedPickleSerializer(secret=***)"

    def dumps(self, value: Any) -> bytes:
        body = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        return hmac.new(self._secret, body, hashlib.sha256).digest() + body

    def loads(self, data: bytes, type: Any = None) -> Any:
        signature, body = data[: self._DIGEST_SIZE], data[self._DIGEST_SIZE :]
        expected = hmac.new(self._secret, body, hashlib.sha256).digest()
        if not hmac.compare_digest(signature, expected):
            raise ValueError("the signature of the cached value does not match")
        return pickle.loads(body)  # authenticated above
