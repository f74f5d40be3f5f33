"""Closing: reverse creation order, teardown after `yield`, failures logged, then closed."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from infrakit.di import (
    AsyncResolutionRequiredError,
    ContainerClosedError,
    Scope,
    create_container,
)
from tests.recording import RecordingLogger


def _type_of(error: BaseException | None) -> type | None:
    return type(error) if error is not None else None


def logged(logger: RecordingLogger) -> list[tuple[str, str, dict[str, object], type | None]]:
    """(level, message, metadata, type of the exception being handled) per record."""
    return [
        (
            record.level,
            record.message,
            record.metadata,
            type(record.error) if record.error else None,
        )
        for record in logger.records
    ]


class Events(list[str]):
    pass


class Database:
    def __init__(self, events: Events) -> None:
        self.events = events

    async def aclose(self) -> None:
        self.events.append("database closed")


class Cache:
    def __init__(self, database: Database) -> None:
        self.events = database.events

    def close(self) -> None:
        self.events.append("cache closed")


class Session:
    pass


class Reporter:
    def __init__(self, cache: Cache, session: Session) -> None:
        self.cache = cache
        self.events = cache.events

    def close(self) -> None:
        self.events.append("reporter closed")


async def open_session(events: Events) -> AsyncIterator[Session]:
    events.append("session opened")
    yield Session()
    events.append("session closed")


async def test_aclose_closes_in_reverse_creation_order() -> None:
    events = Events()
    container = create_container()
    container.register(Events, instance=events)
    container.register(Database)
    container.register(Cache)
    container.register(Session, open_session)
    container.register(Reporter)
    await container.aresolve(Reporter)
    assert container.get_stats().resources_to_close == 4
    await container.aclose()
    assert events == [
        "session opened",
        "reporter closed",
        "session closed",
        "cache closed",
        "database closed",
    ]


async def test_one_failing_close_is_logged_and_the_rest_still_close(
    recording_logger: RecordingLogger,
) -> None:
    events = Events()

    class Broken:
        def __init__(self, database: Database) -> None:
            pass

        def close(self) -> None:
            raise RuntimeError("close failed")

    container = create_container(logger=recording_logger)
    container.register(Events, instance=events)
    container.register(Database)
    container.register(Broken)
    container.register(Cache)
    container.resolve(Broken)
    container.resolve(Cache)
    await container.aclose()
    assert events == ["cache closed", "database closed"]
    assert logged(recording_logger) == [
        ("exception", "component failed to close", {"component": "Broken"}, RuntimeError)
    ]


async def test_failing_async_teardowns_are_logged_and_the_rest_still_close(
    recording_logger: RecordingLogger,
) -> None:
    events = Events()

    class Flaky:
        def __init__(self, cache: Cache) -> None:
            pass

        async def aclose(self) -> None:
            raise ConnectionError("peer gone")

    async def broken_session(flaky: Flaky) -> AsyncIterator[Session]:
        yield Session()
        raise OSError("teardown failed")

    container = create_container(logger=recording_logger)
    container.register(Events, instance=events)
    container.register(Database)
    container.register(Cache)
    container.register(Flaky)
    container.register(Session, broken_session)
    await container.aresolve(Session)
    await container.aclose()
    assert events == ["cache closed", "database closed"]
    assert logged(recording_logger) == [
        ("exception", "component failed to close", {"component": "Session"}, OSError),
        ("exception", "component failed to close", {"component": "Flaky"}, ConnectionError),
    ]


async def test_instances_handed_over_are_not_closed() -> None:
    events = Events()
    container = create_container()
    container.register(Events, instance=events)
    container.register(Database, instance=Database(events))
    await container.aclose()
    assert events == []


async def test_transients_are_not_tracked() -> None:
    events = Events()
    container = create_container()
    container.register(Events, instance=events)
    container.register(Database, scope=Scope.TRANSIENT)
    container.resolve(Database)
    assert container.get_stats().resources_to_close == 0
    await container.aclose()
    assert events == []


async def test_resolving_after_close_raises_and_close_is_idempotent() -> None:
    container = create_container()
    container.register(Session)
    container.resolve(Session)
    await container.aclose()
    await container.aclose()
    with pytest.raises(ContainerClosedError) as caught:
        container.resolve(Session)
    assert caught.value.code == "DI_CLOSED"
    with pytest.raises(ContainerClosedError):
        await container.aresolve(Session)
    with pytest.raises(ContainerClosedError):
        container.register(Cache)
    assert container.get_stats().closed


async def test_async_with_closes_on_exit() -> None:
    events = Events()
    async with create_container() as container:
        container.register(Events, instance=events)
        container.register(Session, open_session)
        await container.aresolve(Session)
    assert events == ["session opened", "session closed"]


def test_sync_generator_factory_and_sync_close() -> None:
    events = Events()

    def open_cache(database: Database) -> Iterator[Cache]:
        events.append("cache opened")
        yield Cache(database)
        events.append("cache teardown")

    class Plain:
        def __init__(self, cache: Cache) -> None:
            pass

    with create_container() as container:
        container.register(Events, instance=events)
        container.register(Database, instance=Database(events))
        container.register(Cache, open_cache)
        container.register(Plain)
        container.resolve(Plain)
    assert events == ["cache opened", "cache teardown"]


async def test_sync_close_refuses_async_resources_and_closes_nothing() -> None:
    events = Events()
    container = create_container()
    container.register(Events, instance=events)
    container.register(Database)
    container.resolve(Database)
    with pytest.raises(AsyncResolutionRequiredError, match="aclose"):
        container.close()
    assert not container.get_stats().closed
    await container.aclose()
    assert events == ["database closed"]


async def test_generator_yielding_twice_is_logged(recording_logger: RecordingLogger) -> None:
    async def twice() -> AsyncIterator[Session]:
        yield Session()
        yield Session()

    container = create_container(logger=recording_logger)
    container.register(Session, twice)
    await container.aresolve(Session)
    await container.aclose()
    assert logged(recording_logger)[0][1:] == (
        "component failed to close",
        {"component": "Session"},
        RuntimeError,
    )


async def test_default_logger_comes_from_infrakit_log() -> None:
    class Broken:
        def close(self) -> None:
            raise RuntimeError("close failed")

    container = create_container()
    container.register(Broken)
    container.resolve(Broken)
    await container.aclose()  # logs through infrakit.log without raising
    assert container.get_stats().closed


async def test_build_finishing_after_close_is_closed_and_refused() -> None:
    import asyncio

    events = Events()
    entered, release = asyncio.Event(), asyncio.Event()

    async def slow_session() -> AsyncIterator[Session]:
        entered.set()
        await release.wait()
        events.append("session opened")
        yield Session()
        events.append("session closed")

    container = create_container()
    container.register(Session, slow_session)
    pending = asyncio.create_task(container.aresolve(Session))
    await entered.wait()
    await container.aclose()
    release.set()
    with pytest.raises(ContainerClosedError):
        await pending
    assert events == ["session opened", "session closed"]
