"""The bounded pool: the loop keeps running, a full queue pushes back, time limits hold."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import threading

import pytest

from infrakit.media import (
    ImageOptions,
    MediaBusyError,
    MediaLimits,
    MediaProcessor,
    MediaStats,
    MediaTimeoutError,
    sync,
)
from infrakit.media._executor import MediaExecutor
from infrakit.media._options import Deadline
from tests.media import factory
from tests.recording import RecordingLogger


async def wait_until(condition: object, attempts: int = 2000) -> None:
    """Yield to the loop until `condition()` holds (bounded)."""
    for _ in range(attempts):
        if condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.005)
    raise AssertionError("condition never held")


async def test_the_event_loop_keeps_running_during_the_work() -> None:
    processor = MediaProcessor(max_workers=1)
    source = factory.jpeg((2400, 1600))
    task = asyncio.create_task(
        processor.process(source, io.BytesIO(), ImageOptions(width=1200, format="png"))
    )
    ticks = 0
    while not task.done():
        ticks += 1
        await asyncio.sleep(0)
    await task
    assert ticks > 10


async def test_a_full_queue_pushes_back_then_refuses() -> None:
    executor = MediaExecutor(max_workers=1, max_queue=0, queue_timeout=0.05)
    release = threading.Event()
    holder = asyncio.create_task(executor.run(30.0, release.wait, 30.0))
    await wait_until(lambda: executor.queue_depth == 0 and executor._running == 1)
    with pytest.raises(MediaBusyError):
        await executor.run(30.0, lambda: "never")
    release.set()
    assert await holder is True
    assert await executor.run(30.0, lambda: "room again") == "room again"
    await executor.close()


async def test_a_waiting_caller_gets_the_slot_when_it_frees() -> None:
    executor = MediaExecutor(max_workers=1, max_queue=0, queue_timeout=None)
    release = threading.Event()
    holder = asyncio.create_task(executor.run(30.0, release.wait, 30.0))
    await wait_until(lambda: executor._running == 1)
    waiter = asyncio.create_task(executor.run(30.0, lambda: "mine"))
    await wait_until(lambda: len(executor._waiters) == 1)
    assert not waiter.done()
    release.set()
    assert await waiter == "mine"
    assert await holder is True
    assert executor._admitted == 0
    await executor.close()


async def test_a_cancelled_waiter_leaves_no_slot_behind() -> None:
    executor = MediaExecutor(max_workers=1, max_queue=0, queue_timeout=None)
    release = threading.Event()
    holder = asyncio.create_task(executor.run(30.0, release.wait, 30.0))
    await wait_until(lambda: executor._running == 1)
    waiter = asyncio.create_task(executor.run(30.0, lambda: "never"))
    await wait_until(lambda: len(executor._waiters) == 1)
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    release.set()
    await holder
    assert executor._admitted == 0
    assert not executor._waiters
    await executor.close()


async def test_a_timed_out_operation_keeps_its_slot_until_it_stops() -> None:
    executor = MediaExecutor(max_workers=1, max_queue=0, queue_timeout=0.01)
    release = threading.Event()
    with pytest.raises(MediaTimeoutError):
        await executor.run(0.05, release.wait, 30.0)
    with pytest.raises(MediaBusyError):
        await executor.run(30.0, lambda: "no room while the worker still runs")
    release.set()
    await wait_until(lambda: executor._admitted == 0)
    assert await executor.run(30.0, lambda: "free") == "free"
    await executor.close()


def test_an_expired_deadline_stops_the_operation_and_is_counted() -> None:
    processor = sync.MediaProcessor()
    with pytest.raises(MediaTimeoutError):
        processor._core.probe(factory.jpeg(), Deadline(-1.0))
    stats = processor.get_stats()
    assert (stats.timeouts, stats.failures) == (1, 1)


async def test_stats_count_operations_failures_and_time() -> None:
    processor = MediaProcessor(max_workers=1, logger=RecordingLogger())
    await processor.probe(factory.jpeg())
    await processor.generate_thumbnail(factory.jpeg(), io.BytesIO(), 10)
    with pytest.raises(Exception, match="not an image"):
        await processor.process(b"not an image at all", io.BytesIO())
    stats = processor.get_stats()
    assert isinstance(stats, MediaStats)
    assert dict(stats.operations) == {"probe": 1, "thumbnail": 1, "image": 1}
    assert (stats.failures, dict(stats.failures_by_code)) == (1, {"MEDIA_UNSUPPORTED": 1})
    assert stats.time_spent > 0
    assert stats.active == 0
    assert stats.queue_depth == 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        stats.failures = 0  # type: ignore[misc]


async def test_failures_are_logged_with_their_code_never_the_content() -> None:
    logger = RecordingLogger()
    processor = MediaProcessor(logger=logger)
    with pytest.raises(Exception, match="not an image"):
        await processor.process(b"secret-bytes-here", io.BytesIO())
    (record,) = logger.records
    assert record.metadata == {"operation": "image", "code": "MEDIA_UNSUPPORTED"}
    assert "secret" not in logger.text()


async def test_health_logs_once_per_change_and_close_is_bounded() -> None:
    logger = RecordingLogger()
    processor = MediaProcessor(logger=logger)
    assert await processor.health()
    assert await processor.health()
    await processor.close(grace=1.0)
    assert not await processor.health()
    assert not await processor.health()
    assert [record.message for record in logger.records] == [
        "media processor healthy",
        "media processor unhealthy",
    ]
    with pytest.raises(MediaBusyError):
        await processor.probe(factory.jpeg())


async def test_one_processor_serves_several_event_loops() -> None:
    processor = MediaProcessor(max_workers=1)

    def in_another_loop() -> str:
        return asyncio.run(processor.probe(factory.jpeg())).format

    other = await asyncio.to_thread(in_another_loop)
    assert other == (await processor.probe(factory.jpeg())).format == "jpeg"


def test_sync_health_and_close() -> None:
    with sync.MediaProcessor(limits=MediaLimits(timeout=5.0)) as processor:
        assert processor.health()
    assert not processor.health()
    with pytest.raises(MediaBusyError):
        processor.probe(factory.jpeg())


async def test_many_callers_on_a_small_pool_all_finish() -> None:
    processor = MediaProcessor(max_workers=1, max_queue=1, queue_timeout=None)
    sources = [factory.jpeg((80 + index, 60)) for index in range(6)]
    outputs = [io.BytesIO() for _ in sources]
    results = await asyncio.gather(
        *(
            processor.generate_thumbnail(source, output, 20)
            for source, output in zip(sources, outputs, strict=True)
        )
    )
    assert results == outputs
    assert all(output.getvalue().startswith(b"\xff\xd8") for output in outputs)
    stats = processor.get_stats()
    assert (stats.operations["thumbnail"], stats.rejected, stats.queue_depth) == (6, 0, 0)


async def test_a_busy_pool_is_still_healthy() -> None:
    processor = MediaProcessor(max_workers=1, max_queue=0, queue_timeout=0.01)
    release = threading.Event()
    holder = asyncio.create_task(processor._executor.run(30.0, release.wait, 30.0))
    await wait_until(lambda: processor._executor._running == 1)
    assert await processor.health()
    release.set()
    await holder
