"""The circuit breaker against a real closed port and a real Redis that goes away and back."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlsplit

import pytest

from infrakit.cache import CacheError
from tests.cache.conftest import CLOSED_PORT_URL, dispose, eventually, make_redis, unique_prefix
from tests.recording import RecordingLogger


def closed_port_cache(logger: RecordingLogger, **options: Any) -> Any:
    options.setdefault("reset_after", 60.0)
    return make_redis(CLOSED_PORT_URL, unique_prefix(), logger=logger, retries=0, **options)


async def test_after_a_few_failures_calls_stop_going_to_the_server() -> None:
    logger = RecordingLogger()
    cache = closed_port_cache(logger, failure_threshold=3)
    calls: list[int] = []

    @cache.memoize
    async def compute(value: int) -> int:
        calls.append(value)
        return value

    try:
        for _ in range(50):
            assert await cache.get("key") is None
        assert await cache.set("key", 1) is False
        assert await compute(3) == 3  # still answers: computed, not cached
        stats = cache.get_stats()
        assert (stats.errors, stats.circuit, cache.circuit) == (3, "open", "open")
        assert stats.short_circuited >= 49  # skipped without a connection attempt
        assert stats.misses >= 50
        assert logger.messages("warning").count("cache operation failed") == 3
        assert (
            logger.messages("warning").count(
                "cache circuit opened: Redis calls are skipped for a while"
            )
            == 1
        )
        assert not logger.messages("exception") + logger.messages("error")  # no traceback
    finally:
        await cache.close()


async def test_an_open_circuit_probes_again_after_its_back_off() -> None:
    logger = RecordingLogger()
    cache = closed_port_cache(logger, failure_threshold=2, reset_after=0.05)
    try:
        await cache.get("a")
        await cache.get("b")
        assert cache.circuit == "open"

        async def probed() -> bool:
            await cache.get("c")
            return cache.get_stats().errors == 3

        await eventually(probed)  # one probe went through and failed
        assert cache.circuit == "open"  # and the back-off doubled
        messages = logger.messages()
        assert messages.count("cache circuit half-open: probing Redis") == 1
        assert messages.count("cache circuit opened: Redis calls are skipped for a while") == 2
    finally:
        await cache.close()


async def test_an_open_circuit_raises_unavailable_when_asked_to_raise() -> None:
    cache = closed_port_cache(RecordingLogger(), failure_threshold=1, raise_on_error=True)
    try:
        with pytest.raises(CacheError) as first:
            await cache.get("key")
        assert first.value.code == "CACHE_ERROR"
        with pytest.raises(CacheError) as skipped:
            await cache.get("key")
        assert skipped.value.code == "CACHE_UNAVAILABLE"
        assert cache.get_stats().short_circuited == 1
    finally:
        await cache.close()


async def test_a_failing_health_probe_logs_once_per_change_not_per_probe() -> None:
    logger = RecordingLogger()
    cache = closed_port_cache(logger, failure_threshold=3)
    try:
        assert [await cache.health() for _ in range(10)] == [False] * 10
        assert logger.messages("warning").count("cache health: Redis is unreachable") == 1
        assert (
            logger.messages("warning").count(
                "cache circuit opened: Redis calls are skipped for a while"
            )
            == 1
        )
        assert len(logger.records) == 2
        assert not logger.messages("exception") + logger.messages("error")
    finally:
        await cache.close()


class Proxy:
    """A TCP proxy to the real Redis that can be taken down and brought back on its port."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self.target = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []
        self._pipes: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._connect, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in self._writers:
            writer.close()
        self._writers.clear()
        for pipe in list(self._pipes):
            pipe.cancel()
        await asyncio.gather(*self._pipes, return_exceptions=True)
        await self._server.wait_closed()

    async def _connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self._writers += [writer, upstream_writer]
        for source, sink in ((reader, upstream_writer), (upstream_reader, writer)):
            pipe = asyncio.create_task(self._pipe(source, sink))
            self._pipes.add(pipe)
            pipe.add_done_callback(self._pipes.discard)

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, ConnectionError):
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
        sink.close()


@pytest.mark.redis
async def test_the_circuit_closes_when_redis_comes_back(redis_url: str) -> None:
    proxy = Proxy(redis_url)
    await proxy.start()
    logger = RecordingLogger()
    path = urlsplit(redis_url).path or "/0"
    cache = make_redis(
        f"redis://127.0.0.1:{proxy.port}{path}",
        unique_prefix(),
        logger=logger,
        retries=0,
        failure_threshold=2,
        reset_after=0.05,
    )
    try:
        assert await cache.set("key", "value") is True
        await proxy.stop()  # the server goes away: refused connections
        for _ in range(5):
            assert await cache.get("key") is None
        assert cache.circuit in ("open", "half_open")
        await proxy.start()

        async def back() -> bool:
            return bool(await cache.get("key") == "value")

        await eventually(back)
        assert cache.circuit == "closed"
        assert "cache circuit closed: Redis answers again" in logger.messages("info")
        assert await cache.health() is True
    finally:
        await dispose(cache)
        await proxy.stop()
