"""aresolve: async factories in transient and singleton scope, mixed with sync parts."""

from __future__ import annotations

import asyncio

import pytest

from infrakit.di import AsyncResolutionRequiredError, Scope, create_container


class Settings:
    pass


class Connection:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class Handler:
    def __init__(self, connection: Connection, settings: Settings) -> None:
        self.connection = connection
        self.settings = settings


async def connect(settings: Settings) -> Connection:
    await asyncio.sleep(0)
    return Connection(settings)


async def test_async_transient_is_new_each_time() -> None:
    container = create_container()
    container.register(Settings)
    container.register(Connection, connect, scope=Scope.TRANSIENT)
    first, second = await container.aresolve(Connection), await container.aresolve(Connection)
    assert first is not second
    assert first.settings is second.settings
    with pytest.raises(AsyncResolutionRequiredError):
        container.resolve(Connection)


async def test_aresolve_of_a_sync_graph_builds_inline() -> None:
    container = create_container()
    container.register(Settings)
    container.register(Connection)
    container.register(Handler, scope=Scope.TRANSIENT)
    handler = await container.aresolve(Handler)
    assert handler.connection.settings is handler.settings


async def test_sync_resolve_works_once_the_async_singleton_exists() -> None:
    container = create_container()
    container.register(Settings)
    container.register(Connection, connect)
    container.register(Handler, scope=Scope.TRANSIENT)
    with pytest.raises(AsyncResolutionRequiredError):
        container.resolve(Handler)
    connection = await container.aresolve(Connection)
    assert container.resolve(Handler).connection is connection


async def test_async_overrides() -> None:
    container = create_container()
    container.register(Settings)
    container.register(Connection, connect, scope=Scope.TRANSIENT)
    custom = Settings()
    connection = await container.aresolve(Connection, settings=custom)
    assert connection.settings is custom
    with pytest.raises(AsyncResolutionRequiredError):
        container.resolve(Connection, settings=custom)


async def test_async_callable_object_is_an_async_factory() -> None:
    class Connector:
        async def __call__(self, settings: Settings) -> Connection:
            return Connection(settings)

    container = create_container()
    container.register(Settings)
    container.register(Connection, Connector())
    assert isinstance(await container.aresolve(Connection), Connection)
