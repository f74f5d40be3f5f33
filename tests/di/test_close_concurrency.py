"""Concurrent and interrupted `aclose()`: the later call waits, nothing is closed twice."""

from __future__ import annotations

import asyncio

import pytest

from infrakit.di import Container, ContainerClosedError, create_container

BOUND = 5.0


class Closes:
    """Records each close; `gate` (when given) holds the close until it is set."""

    def __init__(self, name: str, log: list[str], gate: asyncio.Event | None = None) -> None:
        self.name, self.log, self.gate = name, log, gate
        self.entered = asyncio.Event()

    async def aclose(self) -> None:
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        self.log.append(self.name)


async def yield_to_the_loop(times: int = 20) -> None:
    for _ in range(times):
        await asyncio.sleep(0)


def build(log: list[str], gate: asyncio.Event) -> tuple[Container, Closes]:
    """Three resources, built in order; the middle one's close waits on `gate`."""
    container = create_container()

    class First(Closes):
        pass

    class Slow(Closes):
        pass

    class Last(Closes):
        pass

    container.register(First, lambda: First("first", log))
    slow = Slow("slow", log, gate)
    container.register(Slow, lambda: slow)
    container.register(Last, lambda: Last("last", log))
    for key in (First, Slow, Last):
        container.resolve(key)
    return container, slow


async def test_a_second_aclose_waits_for_the_first_and_nothing_closes_twice() -> None:
    log: list[str] = []
    gate = asyncio.Event()
    container, slow = build(log, gate)
    async with asyncio.timeout(BOUND):
        first = asyncio.create_task(container.aclose())
        await slow.entered.wait()
        second = asyncio.create_task(container.aclose())
        await yield_to_the_loop()
        assert not second.done()  # still waiting for the first one
        gate.set()
        await asyncio.gather(first, second)
    assert log == ["last", "slow", "first"]


async def test_many_concurrent_acloses_close_each_resource_once() -> None:
    log: list[str] = []
    gate = asyncio.Event()
    container, slow = build(log, gate)
    async with asyncio.timeout(BOUND):
        closers = [asyncio.create_task(container.aclose()) for _ in range(10)]
        await slow.entered.wait()
        gate.set()
        await asyncio.gather(*closers)
    assert log == ["last", "slow", "first"]
    assert container.get_stats().resources_to_close == 0


async def test_a_cancelled_aclose_leaves_the_rest_to_the_next_call() -> None:
    log: list[str] = []
    gate = asyncio.Event()
    container, slow = build(log, gate)
    async with asyncio.timeout(BOUND):
        first = asyncio.create_task(container.aclose())
        await slow.entered.wait()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        await container.aclose()
    assert log == ["last", "first"]  # the interrupted close is not run again
    with pytest.raises(ContainerClosedError):
        container.resolve(Closes)


async def test_a_waiting_aclose_that_is_cancelled_does_not_disturb_the_first() -> None:
    log: list[str] = []
    gate = asyncio.Event()
    container, slow = build(log, gate)
    async with asyncio.timeout(BOUND):
        first = asyncio.create_task(container.aclose())
        await slow.entered.wait()
        second = asyncio.create_task(container.aclose())
        await yield_to_the_loop()
        second.cancel()
        with pytest.raises(asyncio.CancelledError):
            await second
        gate.set()
        await first
    assert log == ["last", "slow", "first"]


async def test_a_sync_close_during_an_aclose_closes_nothing_twice() -> None:
    log: list[str] = []
    gate = asyncio.Event()
    container, slow = build(log, gate)
    async with asyncio.timeout(BOUND):
        first = asyncio.create_task(container.aclose())
        await slow.entered.wait()
        container.close()
        gate.set()
        await first
    assert log == ["last", "slow", "first"]
