"""A singleton is built once, whatever the number of threads or tasks asking at once."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from infrakit.di import CircularDependencyError, Scope, create_container


class Pool:
    pass


class Client:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool


def test_fifty_threads_share_one_singleton() -> None:
    calls: list[int] = []
    start = threading.Barrier(50)

    def make_pool() -> Pool:
        calls.append(1)
        time.sleep(0.05)  # widen the race window
        return Pool()

    container = create_container()
    container.register(Pool, make_pool)
    container.register(Client, scope=Scope.TRANSIENT)

    def worker(_: int) -> Pool:
        start.wait()
        return container.resolve(Client).pool

    with ThreadPoolExecutor(max_workers=50) as executor:
        pools = list(executor.map(worker, range(50)))
    assert len(calls) == 1
    assert len({id(pool) for pool in pools}) == 1


async def test_fifty_tasks_share_one_async_singleton() -> None:
    calls: list[int] = []

    async def make_pool() -> Pool:
        calls.append(1)
        for _ in range(5):  # yield to the loop several times mid-build
            await asyncio.sleep(0)
        return Pool()

    container = create_container()
    container.register(Pool, make_pool)
    container.register(Client, scope=Scope.TRANSIENT)
    clients = await asyncio.gather(*(container.aresolve(Client) for _ in range(50)))
    assert len(calls) == 1
    assert len({id(client.pool) for client in clients}) == 1
    assert len({id(client) for client in clients}) == 50


async def test_cancelled_first_caller_does_not_cancel_the_shared_build() -> None:
    started, release = asyncio.Event(), asyncio.Event()
    calls: list[int] = []

    async def make_pool() -> Pool:
        calls.append(1)
        started.set()
        await release.wait()
        return Pool()

    container = create_container()
    container.register(Pool, make_pool)
    first = asyncio.create_task(container.aresolve(Pool))
    await started.wait()
    second = asyncio.create_task(container.aresolve(Pool))
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    release.set()  # the build outlived its first caller's cancellation
    assert isinstance(await second, Pool)
    assert await container.aresolve(Pool) is await second
    assert calls == [1]


async def test_failed_async_build_reaches_every_waiter_and_is_retried() -> None:
    attempts: list[int] = []

    async def make_pool() -> Pool:
        attempts.append(1)
        await asyncio.sleep(0)  # gather's five callers have all joined this build by now
        if len(attempts) == 1:
            raise ConnectionError("refused")
        return Pool()

    container = create_container()
    container.register(Pool, make_pool)
    results = await asyncio.gather(
        *(container.aresolve(Pool) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(result, Exception) for result in results)
    assert attempts == [1]
    assert isinstance(await container.aresolve(Pool), Pool)


async def test_async_factory_awaiting_itself_is_a_cycle() -> None:
    container = create_container()

    async def make_pool() -> Pool:
        return await container.aresolve(Pool)  # type: ignore[no-any-return]

    container.register(Pool, make_pool)
    with pytest.raises(CircularDependencyError, match="asked for itself"):
        await container.aresolve(Pool)


async def test_a_thread_and_a_task_racing_share_one_instance_and_the_loser_is_closed() -> None:
    """The sync and async build paths share no lock; the first instance stored wins."""
    closed: list[int] = []
    both_building = threading.Barrier(2)

    class Session:
        def __init__(self, pool: Pool) -> None:
            both_building.wait(timeout=5)  # the thread's build and the task's overlap
            self.pool = pool

        def close(self) -> None:
            closed.append(id(self))

    async def make_pool() -> Pool:
        return Pool()

    container = create_container()
    container.register(Pool, make_pool)
    container.register(Session)
    await container.aresolve(Pool)  # from now on a thread can build Session too
    from_thread: list[Session] = []
    thread = threading.Thread(target=lambda: from_thread.append(container.resolve(Session)))
    thread.start()
    from_task = await container.aresolve(Session)
    thread.join()
    assert from_thread == [from_task]
    assert container.resolve(Session) is from_task
    assert len(closed) == 1  # the discarded twin
    assert id(from_task) not in closed
    await container.aclose()
    assert closed[-1] == id(from_task)
