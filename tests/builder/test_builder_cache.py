"""with_cache: prefix, CACHE_PREFIX, and require / CACHE_REQUIRED failing the start fast."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infrakit import Infra
from infrakit.config import load_config
from infrakit.errors import InitializationError
from infrakit.log import shutdown_logging

CLOSED_PORT = "redis://:hunter2-cache-pw@127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    shutdown_logging()


def _builder(tmp_path: Path, **environ: str) -> Any:
    config = load_config("test", directory=tmp_path, environ=environ)
    return Infra.builder().with_config(config)


@pytest.mark.redis
async def test_prefix_from_the_argument_and_from_cache_prefix(
    tmp_path: Path, redis_url: str
) -> None:
    chosen = _builder(tmp_path, CACHE_URL=redis_url).with_cache(prefix="infrakit-test:arg:")
    configured = _builder(tmp_path, CACHE_URL=redis_url, CACHE_PREFIX="infrakit-test:env:")
    for builder, prefix in (
        (chosen, "infrakit-test:arg:"),
        (configured.with_cache(), "infrakit-test:env:"),
    ):
        infra = builder.build()
        async with infra:
            assert infra.cache.prefix == prefix  # type: ignore[attr-defined]
            await infra.cache.set("key", 1)
            assert await infra.cache.client.get(prefix + "key") == b"1"  # type: ignore[attr-defined]
            await infra.cache.clear()


@pytest.mark.parametrize(
    "builder_of",
    [
        lambda tmp: _builder(tmp, CACHE_URL=CLOSED_PORT).with_cache(require=True),
        lambda tmp: _builder(tmp, CACHE_URL=CLOSED_PORT, CACHE_REQUIRED="1").with_cache(),
        lambda tmp: _builder(tmp, CACHE_REQUIRED="true").with_cache(url=CLOSED_PORT),
    ],
    ids=["require=True", "CACHE_REQUIRED=1", "CACHE_REQUIRED=true"],
)
async def test_a_required_cache_that_is_down_fails_the_start_fast(
    tmp_path: Path, builder_of: Any
) -> None:
    infra = builder_of(tmp_path).build()
    with pytest.raises(InitializationError, match="cache failed to start") as raised:
        async with infra:
            pytest.fail("the body must not run")
    cause = raised.value.__cause__
    assert isinstance(cause, InitializationError)
    assert cause.details == {"component": "cache", "url": "redis://:***@127.0.0.1:1/0"}
    assert "redis://:***@127.0.0.1:1/0" in cause.message
    assert "hunter2-cache-pw" not in cause.message + repr(cause.details)


async def test_an_optional_cache_that_is_down_still_starts(tmp_path: Path) -> None:
    infra = _builder(tmp_path, CACHE_URL=CLOSED_PORT, CACHE_REQUIRED="0").with_cache().build()
    async with infra:
        assert await infra.cache.get("key") is None  # a miss, not a failed start
        assert not (await infra.health())["cache"].healthy
