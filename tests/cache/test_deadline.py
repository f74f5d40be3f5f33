"""`Deadlines`, the cache's per-command deadlines: the rules of `asyncio.timeout`, one timer."""

from __future__ import annotations

import asyncio

import pytest

from infrakit.cache._deadline import Deadlines


async def _value_after(seconds: float, value: object = "done") -> object:
    await asyncio.sleep(seconds)
    return value


async def _fail() -> None:
    raise ConnectionError("refused")


async def test_a_result_in_time_is_returned_and_nothing_fires_later() -> None:
    assert await Deadlines(0.05).run(_value_after(0)) == "done"
    await asyncio.sleep(0.1)  # a timer left armed would cancel this sleep
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_past_the_deadline_it_is_a_timeout_error() -> None:
    with pytest.raises(TimeoutError):
        await Deadlines(0.02).run(_value_after(5))
    await asyncio.sleep(0.05)
    assert asyncio.current_task().cancelling() == 0  # type: ignore[union-attr]


async def test_an_error_propagates_and_the_timer_is_disarmed() -> None:
    with pytest.raises(ConnectionError, match="refused"):
        await Deadlines(0.02).run(_fail())
    assert await _value_after(0.05, "still running") == "still running"


async def test_a_cancellation_from_elsewhere_stays_a_cancellation() -> None:
    task = asyncio.create_task(Deadlines(5).run(_value_after(5)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_outer_timeout_is_not_taken_for_ours() -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.02):  # the outer scope's own deadline
            await Deadlines(5).run(_value_after(5))
    await asyncio.sleep(0.05)


async def test_many_commands_expire_in_order_and_the_rest_complete() -> None:
    deadlines = Deadlines(0.05)
    quick = [deadlines.run(_value_after(0.01, n)) for n in range(5)]
    slow = [deadlines.run(_value_after(5)) for _ in range(5)]
    results = await asyncio.gather(*quick, *slow, return_exceptions=True)
    assert results[:5] == list(range(5))
    assert all(isinstance(result, TimeoutError) for result in results[5:])
    late = await deadlines.run(_value_after(0.01, "after"))  # the timer is armed again
    assert late == "after"
    with pytest.raises(TimeoutError):
        await deadlines.run(_value_after(5))


def test_one_instance_serves_one_loop_after_another() -> None:
    deadlines = Deadlines(0.02)

    async def one_timeout() -> None:
        with pytest.raises(TimeoutError):
            await deadlines.run(_value_after(5))

    for _ in range(2):  # a new loop: the first loop's timer is not reused
        # Loops of its own, not `asyncio.run`: that resets the thread's event loop,
        # which the async tests after this one would then miss.
        loop = asyncio.new_event_loop()
        try:
            loop.run_until_complete(one_timeout())
        finally:
            loop.close()
