"""Default memoize keys: stable content, never addresses; long keys hashed."""

from __future__ import annotations

import dataclasses
import datetime
import enum
import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from infrakit.cache import MAX_KEY_LENGTH, CacheError, MemoryCache
from infrakit.cache._keys import default_key_builder
from infrakit.cache._rules import normalize_key


class Color(enum.Enum):
    RED = "red"


class Query(BaseModel):
    term: str
    page: int = 1


@dataclasses.dataclass(frozen=True)
class Window:
    start: datetime.date
    days: int


async def target(*args: Any, **kwargs: Any) -> None:
    return None


key_of = default_key_builder(target)

primitives = st.one_of(
    st.integers(), st.text(), st.booleans(), st.none(), st.floats(allow_nan=False)
)


@given(
    st.lists(primitives, max_size=5), st.dictionaries(st.text(min_size=1), primitives, max_size=3)
)
def test_keys_are_deterministic_and_bounded(args: list[Any], kwargs: dict[str, Any]) -> None:
    first = key_of(tuple(args), dict(kwargs))
    assert first == key_of(tuple(args), dict(reversed(list(kwargs.items()))))
    assert len(first) <= MAX_KEY_LENGTH


@given(primitives, primitives)
def test_different_arguments_give_different_keys(left: Any, right: Any) -> None:
    if type(left) is type(right) and left == right:
        return
    assert key_of((left,), {}) != key_of((right,), {})


def test_keys_name_the_function_and_the_content() -> None:
    key = key_of((1, "a"), {})
    assert key == f"{__name__}.target(1, 'a')"
    assert key_of((1,), {"flag": True}) == f"{__name__}.target(1, flag=True)"


def test_structured_arguments_use_their_content() -> None:
    window = Window(datetime.date(2024, 1, 2), 7)
    key = key_of((Query(term="x"), window, Color.RED, [1, (2, 3)], {"b": 1, "a": {2}}), {})
    assert key == key_of(
        (
            Query(term="x"),
            Window(datetime.date(2024, 1, 2), 7),
            Color.RED,
            [1, (2, 3)],
            {"a": {2}, "b": 1},
        ),
        {},
    )
    assert "0x" not in key
    assert key_of((uuid.UUID(int=1), Query), {}) == key_of((uuid.UUID(int=1), Query), {})


def test_objects_without_stable_content_are_refused() -> None:
    with pytest.raises(CacheError) as raised:
        key_of((object(),), {})
    assert raised.value.code == "CACHE_KEY_ERROR"
    assert "key_fn" in raised.value.message


def test_long_keys_are_hashed() -> None:
    assert normalize_key("short") == "short"
    hashed = normalize_key("x" * (MAX_KEY_LENGTH + 1))
    assert hashed.startswith("sha256:")
    assert len(hashed) == 71
    assert normalize_key("x" * MAX_KEY_LENGTH) == "x" * MAX_KEY_LENGTH


async def test_methods_are_keyed_by_cache_key_of_self() -> None:
    cache = MemoryCache()

    class Repository:
        def __init__(self, tenant: str) -> None:
            self.tenant = tenant
            self.calls = 0

        def __cache_key__(self) -> str:
            return self.tenant

        @cache.memoize
        async def count(self, table: str) -> str:
            self.calls += 1
            return f"{self.tenant}:{table}"

    first, second = Repository("a"), Repository("b")
    assert await first.count("users") == "a:users"
    assert await second.count("users") == "b:users"
    assert await first.count("users") == "a:users"
    assert (first.calls, second.calls) == (1, 1)


async def test_methods_without_a_cache_key_ask_for_one() -> None:
    cache = MemoryCache()

    class Service:
        @cache.memoize
        async def load(self, item: int) -> int:
            return item

    with pytest.raises(CacheError, match="__cache_key__"):
        await Service().load(1)


def test_memoize_needs_an_async_function() -> None:
    cache = MemoryCache()
    with pytest.raises(TypeError):
        cache.memoize(lambda: 1)
