from __future__ import annotations

import asyncio
import threading

import pytest

from infrakit.log import get_logger, log_context
from tests.log.conftest import MemoryTransport


def test_with_context_binds_fields_without_touching_the_parent(memory: MemoryTransport) -> None:
    parent = get_logger("ctx")
    bound = parent.with_context(request_id="r1").with_context(user="u")
    bound.info("bound")
    parent.info("plain")
    bound.child("db").info("child keeps context")
    assert dict(memory.entries[0].context) == {"request_id": "r1", "user": "u"}
    assert dict(memory.entries[1].context) == {}
    assert memory.entries[2].logger == "ctx.db"
    assert dict(memory.entries[2].context) == {"request_id": "r1", "user": "u"}


def test_log_context_nests_and_unwinds(memory: MemoryTransport) -> None:
    logger = get_logger("ctx.nest").with_context(bound="b", shared="bound wins")
    with log_context(outer=1, shared="ambient"):
        with log_context(inner=2, outer=10):
            logger.info("inner")
        logger.info("outer")
    logger.info("none")
    assert [dict(entry.context) for entry in memory.entries] == [
        {"outer": 10, "inner": 2, "shared": "bound wins", "bound": "b"},
        {"outer": 1, "shared": "bound wins", "bound": "b"},
        {"bound": "b", "shared": "bound wins"},
    ]


async def test_log_context_is_isolated_between_concurrent_tasks(
    memory: MemoryTransport,
) -> None:
    logger = get_logger("ctx.tasks")
    all_started = asyncio.Barrier(20)

    async def handle(request: int) -> None:
        with log_context(request_id=request):
            await all_started.wait()  # every task is inside its block at the same time
            for step in range(3):
                logger.info("step", step=step)
                await asyncio.sleep(0)

    await asyncio.gather(*(handle(request) for request in range(20)))
    assert len(memory.entries) == 60
    by_request: dict[int, list[int]] = {}
    for entry in memory.entries:
        by_request.setdefault(entry.context["request_id"], []).append(entry.metadata["step"])
    assert by_request == {request: [0, 1, 2] for request in range(20)}


async def test_tasks_started_inside_a_block_inherit_its_fields(memory: MemoryTransport) -> None:
    async def log_later() -> None:
        await asyncio.sleep(0)
        get_logger("ctx.inherit").info("later")

    with log_context(job="j1"):
        task = asyncio.create_task(log_later())
    get_logger("ctx.inherit").info("outside")
    await task
    assert {entry.message: dict(entry.context) for entry in memory.entries} == {
        "outside": {},
        "later": {"job": "j1"},
    }


def test_log_context_is_isolated_between_threads(memory: MemoryTransport) -> None:
    logger = get_logger("ctx.threads")
    barrier = threading.Barrier(4)

    def work(worker: int) -> None:
        with log_context(worker=worker):
            barrier.wait()
            logger.info("tick")

    threads = [threading.Thread(target=work, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(entry.context["worker"] for entry in memory.entries) == [0, 1, 2, 3]


def test_a_log_context_block_can_be_reused_but_not_entered_twice_at_once(
    memory: MemoryTransport,
) -> None:
    logger = get_logger("ctx.reuse")
    block = log_context(job="j1")
    for _ in range(2):
        with block:
            logger.info("inside")
    logger.info("after")
    with block, pytest.raises(RuntimeError, match="entered twice"), block:
        pass  # pragma: no cover - the inner `with` raises on entry
    logger.info("unwound")
    assert [dict(entry.context) for entry in memory.entries] == [
        {"job": "j1"},
        {"job": "j1"},
        {},
        {},
    ]
