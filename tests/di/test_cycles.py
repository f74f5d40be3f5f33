"""A cycle through factories that resolve at run time is an error, never a deadlock.

Every test runs under `asyncio.timeout`, so a regression fails in seconds instead of
hanging the suite.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from infrakit.di import (
    CircularDependencyError,
    Container,
    FactoryError,
    Scope,
    create_container,
)

BOUND = 5.0


class A:
    pass


class B:
    pass


class C:
    pass


def resolver(container: Container, target: Any, how: str) -> Any:
    """An async factory that resolves `target` through the container, in the way `how` says."""

    async def factory() -> object:
        if how == "await":
            return await container.aresolve(target)
        if how == "gather":
            (value,) = await asyncio.gather(container.aresolve(target))
            return value
        if how == "create_task":
            return await asyncio.create_task(container.aresolve(target))
        if how == "task_group":
            async with asyncio.TaskGroup() as group:
                task = group.create_task(container.aresolve(target))
            return task.result()
        if how == "wait_for":
            return await asyncio.wait_for(container.aresolve(target), timeout=BOUND * 2)
        raise AssertionError(how)

    return factory


HOWS = ["await", "gather", "create_task", "task_group", "wait_for"]


async def expect_cycle(container: Container, target: Any) -> CircularDependencyError:
    async with asyncio.timeout(BOUND):
        with pytest.raises((CircularDependencyError, FactoryError)) as caught:
            await container.aresolve(target)
    error: BaseException | None = caught.value
    # A factory using a TaskGroup gets the cycle wrapped in an ExceptionGroup, which the
    # container reports as that factory's failure, with the group chained as the cause.
    while isinstance(error, FactoryError | ExceptionGroup):
        error = error.__cause__ if isinstance(error, FactoryError) else error.exceptions[0]
    assert isinstance(error, CircularDependencyError)
    assert error.code == "DI_CYCLE"
    return error


@pytest.mark.parametrize("how", HOWS)
async def test_a_factory_resolving_itself(how: str) -> None:
    container = create_container()
    container.register(A, resolver(container, A, how))
    error = await expect_cycle(container, A)
    assert error.details["path"] == ["A", "A"]


@pytest.mark.parametrize("how", HOWS)
async def test_a_two_cycle(how: str) -> None:
    container = create_container()
    container.register(A, resolver(container, B, how))
    container.register(B, resolver(container, A, how))
    error = await expect_cycle(container, A)
    assert "A -> B -> A" in str(error)


@pytest.mark.parametrize("how", HOWS)
async def test_a_three_cycle(how: str) -> None:
    container = create_container()
    container.register(A, resolver(container, B, how))
    container.register(B, resolver(container, C, "await"))
    container.register(C, resolver(container, A, how))
    error = await expect_cycle(container, A)
    assert error.details["path"] == ["A", "B", "C", "A"]


@pytest.mark.parametrize("scope", [Scope.SINGLETON, Scope.TRANSIENT])
async def test_a_transient_or_singleton_resolving_itself_through_gather(scope: Scope) -> None:
    container = create_container()
    container.register(A, resolver(container, A, "gather"), scope=scope)
    await expect_cycle(container, A)


async def test_sync_and_async_factories_mixed_in_one_cycle() -> None:
    container = create_container()

    def make_b() -> B:
        container.resolve(A)  # sync, from inside A's async build
        return B()

    container.register(A, resolver(container, B, "create_task"))
    container.register(B, make_b)
    error = await expect_cycle(container, A)
    assert error.details["path"] == ["A", "B", "A"]


async def test_a_sync_factory_resolving_itself() -> None:
    container = create_container()
    container.register(A, lambda: container.resolve(A))
    with pytest.raises(CircularDependencyError, match="asked for itself"):
        container.resolve(A)


async def test_two_independent_callers_entering_the_cycle_from_both_sides() -> None:
    """A's build (started by one caller) awaits B while B's (started by another) awaits A."""
    both_started = asyncio.Barrier(2)
    container = create_container()

    async def make_a() -> A:
        await both_started.wait()
        await container.aresolve(B)
        return A()

    async def make_b() -> B:
        await both_started.wait()
        await container.aresolve(A)
        return B()

    container.register(A, make_a)
    container.register(B, make_b)
    async with asyncio.timeout(BOUND):
        results = await asyncio.gather(
            container.aresolve(A), container.aresolve(B), return_exceptions=True
        )
    assert all(isinstance(result, CircularDependencyError) for result in results), results


async def test_no_false_cycle_for_concurrent_waiters_of_one_build() -> None:
    container = create_container()

    async def make_a() -> A:
        await asyncio.sleep(0)
        return A()

    async def make_b() -> B:
        # Two children of B's build wait for A at once: waiting twice is not a cycle.
        await asyncio.gather(container.aresolve(A), container.aresolve(A))
        return B()

    container.register(A, make_a)
    container.register(B, make_b)
    async with asyncio.timeout(BOUND):
        first, second = await asyncio.gather(container.aresolve(B), container.aresolve(A))
    assert isinstance(first, B)
    assert await container.aresolve(A) is second


async def test_a_background_task_started_by_a_factory_may_resolve_it_later() -> None:
    container = create_container()
    built = asyncio.Event()
    seen: list[A] = []

    async def watcher() -> None:
        await built.wait()
        seen.append(await container.aresolve(A))

    async def make_a() -> A:
        background.append(asyncio.create_task(watcher()))
        return A()

    background: list[asyncio.Task[None]] = []
    container.register(A, make_a)
    async with asyncio.timeout(BOUND):
        instance = await container.aresolve(A)
        built.set()
        await background[0]
    assert seen == [instance]


async def test_the_container_still_works_after_a_cycle() -> None:
    container = create_container()
    container.register(A, resolver(container, A, "gather"))
    container.register(B)
    await expect_cycle(container, A)
    async with asyncio.timeout(BOUND):
        assert isinstance(await container.aresolve(B), B)
        await expect_cycle(container, A)  # refused again, not stuck on a stale build
