"""The builder composes real components: start in order, stop in reverse, health, errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infrakit import Infra
from infrakit.cache import Cache, MemoryCache
from infrakit.config import ConfigReader, load_config
from infrakit.db import Database
from infrakit.errors import ConfigurationError, InitializationError
from infrakit.log import Logger, shutdown_logging


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """with_logging() configures the process; put the default pipeline back after."""
    yield
    shutdown_logging()


class Recorder:
    """An application service that notes when it is started and stopped."""

    def __init__(self, name: str, events: list[str], *, fail_start: bool = False) -> None:
        self.name, self.events, self.fail_start = name, events, fail_start

    async def start(self) -> None:
        if self.fail_start:
            raise RuntimeError("cannot start")
        self.events.append(f"start {self.name}")

    async def stop(self) -> None:
        self.events.append(f"stop {self.name}")


def add_recorder(builder_name: str, events: list[str], builder: object, **options: bool) -> None:
    recorder = Recorder(builder_name, events, **options)
    builder.with_component(  # type: ignore[attr-defined]
        builder_name, recorder, start=Recorder.start, stop=Recorder.stop
    )


def write_env(directory: Path, text: str) -> Path:
    (directory / ".env").write_text(text, encoding="utf-8")
    return directory


async def test_builder_loads_config_and_logging_from_the_directory(tmp_path: Path) -> None:
    write_env(tmp_path, "APP_NAME=demo\nLOG_LEVEL=DEBUG\n")
    infra = Infra.builder(env="test", directory=tmp_path).with_logging().build()
    async with infra:
        assert infra.config.get_str("APP_NAME") == "demo"
        assert infra.container.resolve(ConfigReader) is infra.config
        assert isinstance(infra.container.resolve(Logger), Logger)


async def test_components_start_in_order_and_stop_in_reverse(tmp_path: Path) -> None:
    events: list[str] = []
    builder = Infra.builder(env="test", directory=tmp_path)
    for name in ("first", "second", "third"):
        add_recorder(name, events, builder)
    async with builder.build():
        assert events == ["start first", "start second", "start third"]
    assert events[3:] == ["stop third", "stop second", "stop first"]


async def test_a_failed_start_stops_what_was_started(tmp_path: Path) -> None:
    events: list[str] = []
    builder = Infra.builder(env="test", directory=tmp_path)
    add_recorder("first", events, builder)
    add_recorder("broken", events, builder, fail_start=True)
    add_recorder("never", events, builder)
    with pytest.raises(InitializationError, match="broken failed to start") as caught:
        async with builder.build():
            pytest.fail("the body must not run")
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert events == ["start first", "stop first"]


async def test_memory_cache_by_default_and_health(tmp_path: Path) -> None:
    infra = Infra.builder(env="test", directory=tmp_path).with_cache().build()
    async with infra:
        assert isinstance(infra.cache, MemoryCache)
        assert infra.container.resolve(Cache) is infra.cache
        await infra.cache.set("key", {"value": 1})
        assert await infra.cache.get("key") == {"value": 1}
        health = await infra.health()
        assert health["cache"].healthy


@pytest.mark.redis
async def test_cache_url_picks_redis(tmp_path: Path, redis_url: str) -> None:
    config = load_config("test", directory=tmp_path, environ={"CACHE_URL": redis_url})
    infra = Infra.builder().with_config(config).with_cache().build()
    async with infra:
        assert type(infra.cache).__name__ == "RedisCache"
        assert (await infra.health())["cache"].healthy


@pytest.mark.postgres
async def test_database_from_config(tmp_path: Path, database_url: str) -> None:
    config = load_config("test", directory=tmp_path, environ={"DATABASE_URL": database_url})
    infra = Infra.builder().with_config(config).with_database().with_cache().build()
    async with infra:
        assert await infra.database.fetch_value("SELECT 40 + 2") == 42
        assert infra.container.resolve(Database) is infra.database
        health = await infra.health()
        assert health["database"].healthy
        assert health["cache"].healthy
    assert infra.database.get_stats().pool_size == 0


async def test_unreachable_database_fails_start_and_stops_the_rest(tmp_path: Path) -> None:
    events: list[str] = []
    url = "postgresql://postgres@127.0.0.1:1/test"
    config = load_config(
        "test", directory=tmp_path, environ={"DATABASE_URL": url, "DATABASE_ACQUIRE_TIMEOUT": "1"}
    )
    builder = Infra.builder().with_config(config)
    add_recorder("first", events, builder)
    builder.with_database()
    with pytest.raises(InitializationError, match="database failed to start"):
        async with builder.build():
            pytest.fail("the body must not run")
    assert events == ["start first", "stop first"]


async def test_explicit_instances_are_used_as_given(tmp_path: Path) -> None:
    cache = MemoryCache(max_size=10)
    infra = Infra.builder(env="test", directory=tmp_path).with_cache(cache).build()
    async with infra:
        assert infra.cache is cache


def test_a_component_not_added_is_a_clear_error(tmp_path: Path) -> None:
    infra = Infra.builder(env="test", directory=tmp_path).build()
    with pytest.raises(InitializationError, match=r"with_database\(\)"):
        _ = infra.database


def test_a_bad_log_format_names_the_key(tmp_path: Path) -> None:
    write_env(tmp_path, "LOG_FORMAT=xml\n")
    builder = Infra.builder(env="test", directory=tmp_path).with_logging()
    with pytest.raises(ConfigurationError, match="LOG_FORMAT"):
        builder.build()
