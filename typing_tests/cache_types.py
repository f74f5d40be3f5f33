"""Type-checked by `mypy --strict` (see the Makefile's typecheck), never run.

Each `assert_type` states what a caller of the cache API sees statically: typed reads,
`get_stats()` as a plain value, and `memoize` keeping the parameters and return type
of the function it wraps, with `invalidate` and `key_for` on the result.
"""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any, assert_type

from pydantic import BaseModel

from infrakit.cache import (
    Cache,
    CacheStats,
    CircuitState,
    Memoized,
    MemoryCache,
    RedisCache,
    TieredCache,
    memoize,
)


class User(BaseModel):
    id: int
    name: str


async def check_typed_reads(cache: Cache, memory: MemoryCache, redis: RedisCache) -> None:
    assert_type(await cache.get("user:1", type=User), User | None)
    assert_type(await cache.get("user:1", type=User, default=0), User | int)
    assert_type(await cache.get("user:1"), Any)
    assert_type(await memory.get("user:1", type=User), User | None)
    assert_type(await redis.get("user:1", type=User), User | None)
    assert_type(await cache.get_multiple(["user:1"], type=User), dict[str, User])
    assert_type(await cache.get_multiple(["user:1"]), dict[str, Any])


async def check_get_or_set(cache: Cache) -> None:
    async def load() -> User:
        return User(id=1, name="Ada")

    assert_type(await cache.get_or_set("user:1", load, ttl=60), User)


def check_stats(cache: Cache, tiered: TieredCache) -> None:
    assert_type(cache.get_stats(), CacheStats)  # synchronous: no await
    assert_type(tiered.get_stats().circuit, CircuitState)
    assert_type(cache.get_stats().size, int | None)


async def check_memoize(cache: Cache) -> None:
    @cache.memoize(ttl=60, timeout=5)
    async def load_user(user_id: int, *, fresh: bool = False) -> User:
        return User(id=user_id, name="Ada")

    assert_type(await load_user(1), User)
    assert_type(await load_user(1, fresh=True), User)
    assert_type(await load_user.invalidate(1), bool)
    assert_type(load_user.key_for(1), str)
    await load_user("one")  # type: ignore[arg-type]  # the parameters are kept
    await load_user.invalidate(1, stale=True)  # type: ignore[call-arg]
    call: Coroutine[Any, Any, User] = load_user(2)  # a coroutine, as from the original
    assert_type(await call, User)

    @cache.memoize
    async def count(table: str) -> int:
        return 0

    assert_type(await count("users"), int)
    single: Memoized[[str], int] = count
    assert_type(await single("users"), int)

    async def plain(value: str) -> list[User]:
        return []

    wrapped = memoize(plain, cache=cache, ttl=lambda result, elapsed: 5 if not result else 60)
    assert_type(await wrapped("x"), list[User])


class Repository:
    cache: Cache = MemoryCache()

    def __cache_key__(self) -> str:
        return "tenant"

    @cache.memoize
    async def find(self, user_id: int) -> User:
        return User(id=user_id, name="Ada")


async def check_memoized_method(repository: Repository) -> None:
    assert_type(await repository.find(1), User)  # binds like a method
    assert_type(await Repository.find(repository, 1), User)
    assert_type(await Repository.find.invalidate(repository, 1), bool)
