"""RedisCache beyond the shared contract: serialisation, outages, kills, cancellation, locks."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pydantic import BaseModel

from infrakit.cache import CacheError, SignedPickleSerializer
from tests.cache.conftest import (
    CLOSED_PORT_URL,
    dispose,
    eventually,
    kill_connections,
    make_redis,
    unique_prefix,
)
from tests.recording import RecordingLogger

pytestmark = pytest.mark.redis


class User(BaseModel):
    id: int
    name: str


@dataclasses.dataclass
class Point:
    x: int
    y: int


@pytest.fixture
async def redis_cache(redis_url: str) -> AsyncIterator[Any]:
    cache = make_redis(redis_url, unique_prefix())
    try:
        yield cache
    finally:
        await dispose(cache)


async def test_models_and_dataclasses_round_trip_when_the_type_is_named(redis_cache: Any) -> None:
    await redis_cache.set("user", User(id=1, name="Ada"))
    await redis_cache.set("points", [Point(1, 2), Point(3, 4)])
    assert await redis_cache.client.get(redis_cache.prefix + "user") == b'{"id":1,"name":"Ada"}'
    assert await redis_cache.get("user", type=User) == User(id=1, name="Ada")
    assert await redis_cache.get("user") == {"id": 1, "name": "Ada"}
    assert await redis_cache.get("points", type=list[Point]) == [Point(1, 2), Point(3, 4)]
    found = await redis_cache.get_multiple(["user", "nope"], type=User)
    assert found == {"user": User(id=1, name="Ada")}


async def test_memoize_rebuilds_the_return_annotation(redis_cache: Any) -> None:
    @redis_cache.memoize
    async def load(user_id: int) -> User:
        return User(id=user_id, name="Grace")

    first = await load(5)
    second = await load(5)
    assert first == second == User(id=5, name="Grace")
    assert isinstance(second, User)
    assert redis_cache.get_stats().hits == 1


async def test_a_value_that_does_not_serialise_names_key_and_type(redis_cache: Any) -> None:
    class Opaque:
        secret = "s3cr3t"

    with pytest.raises(CacheError) as raised:
        await redis_cache.set("opaque-key", Opaque())
    error = raised.value
    assert error.code == "CACHE_SERIALIZATION_ERROR"
    assert "opaque-key" in error.message
    assert "Opaque" in error.message
    assert "s3cr3t" not in error.message
    with pytest.raises(CacheError):
        await redis_cache.set_multiple({"fine": 1, "bad": Opaque()})
    assert await redis_cache.get("fine") is None  # nothing written from a failed batch


async def test_batch_set_writes_ttls_in_one_pipeline(redis_cache: Any) -> None:
    await redis_cache.set_multiple({"a": 1, "b": 2}, ttl=20)
    remaining = await redis_cache.client.pttl(redis_cache.prefix + "a")
    assert 15_000 < remaining <= 20_000


async def test_a_value_expiring_during_the_lookup_is_never_reported_immortal(
    redis_cache: Any,
) -> None:
    """GET then PTTL: a key that expires between them (PTTL -2) is a miss, not 'no expiry'.

    TieredCache copies what this returns into memory for the remaining lifetime, so a
    None there would keep a copy for the memory level's whole default TTL.
    """
    await redis_cache.set("lasting", 1, ttl=60)
    (value, remaining) = (await redis_cache.get_multiple_with_ttl(["lasting"]))["lasting"]
    assert value == 1
    assert remaining is not None
    assert 59 < remaining <= 60
    reported_immortal = 0
    for attempt in range(300):
        key = f"brief-{attempt}"
        await redis_cache.set(key, attempt, ttl=0.002)
        await asyncio.sleep(random.uniform(0.0, 0.003))
        found = await redis_cache.get_multiple_with_ttl([key])
        reported_immortal += key in found and found[key][1] is None
    assert reported_immortal == 0


async def test_long_keys_are_stored_hashed(redis_cache: Any) -> None:
    await redis_cache.set("x" * 1000, 1)
    names = [name async for name in redis_cache.client.scan_iter(match=redis_cache.prefix + "*")]
    assert len(names) == 1
    assert names[0].decode().startswith(redis_cache.prefix + "sha256:")
    assert len(names[0]) == len(redis_cache.prefix) + len("sha256:") + 64


async def test_outage_counts_as_miss_and_is_logged() -> None:
    logger = RecordingLogger()
    cache = make_redis(CLOSED_PORT_URL, unique_prefix(), logger=logger, failure_threshold=100)
    try:
        assert await cache.get("key") is None
        assert await cache.set("key", 1) is False
        assert await cache.get_multiple(["a", "b"]) == {}
        assert await cache.delete("key") is False
        calls = 0

        @cache.memoize
        async def compute() -> int:
            nonlocal calls
            calls += 1
            return 7

        assert await compute() == 7
        assert calls == 1
        assert cache.get_stats().misses == 4
        assert await cache.health() is False
        operations = {record.metadata.get("operation") for record in logger.records}
        assert {"get", "set", "get_multiple", "delete", "lock"} <= operations
    finally:
        await cache.close()


@pytest.mark.parametrize("threshold", [0, -1, True, 2.5])
def test_a_bad_failure_threshold_is_refused(threshold: object) -> None:
    with pytest.raises(CacheError) as raised:
        make_redis(CLOSED_PORT_URL, unique_prefix(), failure_threshold=threshold)
    assert raised.value.details == {"field": "failure_threshold"}


def test_bad_options_are_refused_at_construction() -> None:
    for field, value in (
        ("default_ttl", 0),
        ("lock_timeout", -1),
        ("lock_timeout", None),
        ("timeout", float("nan")),
        ("default_ttl", float("inf")),
        ("reset_after", 0),
    ):
        with pytest.raises(CacheError) as raised:
            make_redis(CLOSED_PORT_URL, unique_prefix(), **{field: value})
        assert raised.value.code == "CACHE_INVALID_TTL"
        assert raised.value.details == {"field": field}


async def test_outage_raises_when_configured() -> None:
    cache = make_redis(CLOSED_PORT_URL, unique_prefix(), raise_on_error=True)
    try:
        with pytest.raises(CacheError) as raised:
            await cache.get("key")
        assert raised.value.code == "CACHE_ERROR"
        assert isinstance(raised.value.__cause__, Exception)
        with pytest.raises(CacheError):
            await cache.set("key", 1)
        with pytest.raises(CacheError):
            await cache.get_multiple(["key"])
    finally:
        await cache.close()


async def test_calls_recover_after_client_kill(redis_url: str, redis_cache: Any) -> None:
    import redis.asyncio

    admin = redis.asyncio.Redis.from_url(redis_url)
    try:
        await redis_cache.set_multiple({f"k{index}": index for index in range(20)})
        failures = 0
        for round_number in range(5):
            results = await asyncio.gather(
                *(redis_cache.get(f"k{index}") for index in range(20)),
                kill_connections(admin),
            )
            failures += sum(value is None for value in results[:20])
            assert await redis_cache.get("k3") == 3, f"no recovery in round {round_number}"
            assert await redis_cache.set("after", round_number) is True
        assert await redis_cache.get_multiple(["k1", "k2"]) == {"k1": 1, "k2": 2}
        assert failures == 0  # the dropped connections were re-opened and the calls retried
        assert redis_cache.get_stats().circuit == "closed"
    finally:
        await admin.aclose()


async def test_cancelled_calls_leave_connections_usable(redis_cache: Any) -> None:
    keys = [f"key{index}" for index in range(30)]
    await redis_cache.set_multiple({key: key.upper() for key in keys})
    randomizer = random.Random(4)
    interrupted = 0
    for _ in range(30):
        tasks = [
            asyncio.create_task(redis_cache.get_multiple(randomizer.sample(keys, 10))),
            asyncio.create_task(redis_cache.set_multiple({key: key.upper() for key in keys[:5]})),
            asyncio.create_task(redis_cache.get(randomizer.choice(keys))),
        ]
        await asyncio.sleep(randomizer.random() / 2000)
        for task in tasks:
            task.cancel()
        outcomes = await asyncio.gather(*tasks, return_exceptions=True)
        interrupted += sum(isinstance(outcome, asyncio.CancelledError) for outcome in outcomes)
        sample = randomizer.sample(keys, 10)
        assert await redis_cache.get_multiple(sample) == {key: key.upper() for key in sample}
        single = randomizer.choice(keys)
        assert await redis_cache.get(single) == single.upper()
    assert interrupted > 0, "no call was interrupted: the test proved nothing"


async def test_stampede_lock_is_released(redis_cache: Any) -> None:
    lock_ttls: list[int] = []

    @redis_cache.memoize
    async def compute(value: int) -> int:
        lock_ttls.append(await redis_cache.client.pttl(redis_cache.prefix + "__lock__:" + key))
        return value

    key = compute.key_for(1)  # type: ignore[attr-defined]
    assert await compute(1) == 1
    assert 0 < lock_ttls[0] <= redis_cache.lock_timeout * 1000  # held, and expires by itself
    assert not await redis_cache.client.exists(redis_cache.prefix + "__lock__:" + key)


async def test_a_waiter_uses_the_value_another_holder_computed(redis_url: str) -> None:
    prefix = unique_prefix()
    first, second = make_redis(redis_url, prefix), make_redis(redis_url, prefix)
    calls: list[str] = []

    def build(cache: Any, name: str) -> Any:
        @cache.memoize(key_fn=lambda: "shared")
        async def compute() -> str:
            calls.append(name)
            await asyncio.sleep(0.2)
            return name

        return compute

    try:
        results = await asyncio.gather(build(first, "first")(), build(second, "second")())
        assert len(calls) == 1
        assert results == [calls[0], calls[0]]
        suppressed = second.get_stats().stampedes_suppressed
        assert suppressed + first.get_stats().stampedes_suppressed == 1
    finally:
        await dispose(first)
        await second.close()


async def test_signed_pickle_round_trips_and_rejects_forgeries(redis_url: str) -> None:
    prefix = unique_prefix()
    signed = make_redis(redis_url, prefix, serializer=SignedPickleSerializer("hunter2-key"))
    forger = make_redis(redis_url, prefix, serializer=SignedPickleSerializer("other"))
    try:
        await signed.set("value", {1, 2, 3})
        assert await signed.get("value") == {1, 2, 3}
        assert "hunter2" not in repr(signed.serializer)
        await forger.set("value", {"evil"})
        assert await signed.get("value") is None
    finally:
        await dispose(signed)
        await forger.close()


async def test_a_server_that_stops_answering_gives_misses_not_a_hung_caller() -> None:
    connections: list[asyncio.StreamWriter] = []

    async def accept_and_stay_silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(accept_and_stay_silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    logger = RecordingLogger()
    cache = make_redis(f"redis://127.0.0.1:{port}/0", unique_prefix(), timeout=0.1, logger=logger)
    try:
        async with asyncio.timeout(5):
            assert await cache.get("key") is None
            assert await cache.set("key", 1) is False
        assert connections, "the client never reached the silent server"
        failures = [
            record.metadata["error"]
            for record in logger.records
            if record.message == "cache operation failed"
        ]
        assert failures == ["TimeoutError"] * 2
    finally:
        await cache.close()
        for writer in connections:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_the_stampede_lock_expires_when_its_holder_died(redis_cache: Any) -> None:
    redis_cache.lock_timeout = 0.3
    lock = redis_cache.prefix + "__lock__:orphaned"
    holders_seen: list[bytes | None] = []

    @redis_cache.memoize(key_fn=lambda: "orphaned")
    async def compute() -> int:
        holders_seen.append(await redis_cache.client.get(lock))
        return 1

    # a holder in another process took the lock and crashed before storing anything
    await redis_cache.client.set(lock, "dead", px=150)  # gone before lock_timeout runs out
    assert await compute() == 1
    assert len(holders_seen) == 1
    assert holders_seen[0] not in (None, b"dead")  # it waited, then took the lock over
    assert not await redis_cache.client.exists(lock)


async def test_waiters_on_a_dead_holder_still_compute_once(redis_url: str) -> None:
    prefix = unique_prefix()
    caches = [make_redis(redis_url, prefix, lock_timeout=2.0) for _ in range(3)]
    calls: list[int] = []

    def build(cache: Any) -> Any:
        @cache.memoize(key_fn=lambda: "orphaned", ttl=30)
        async def compute() -> int:
            calls.append(1)
            await asyncio.sleep(0.1)
            return 5

        return compute

    # another process took the lock and died: it expires in 0.3 s, then one waiter takes over
    await caches[0].client.set(prefix + "__lock__:orphaned", "dead", px=300)
    try:
        assert await asyncio.gather(*(build(cache)() for cache in caches)) == [5, 5, 5]
        assert calls == [1]
    finally:
        await dispose(caches[0])
        for cache in caches[1:]:
            await cache.close()


async def test_batch_calls_are_one_command_or_one_pipeline(
    redis_url: str, redis_cache: Any
) -> None:
    import redis.asyncio

    watcher = redis.asyncio.Redis.from_url(redis_url)
    seen: list[list[str]] = []
    primed, all_seen = asyncio.Event(), asyncio.Event()
    probe = redis_cache.prefix + "__probe__"

    async def watch() -> None:
        async with watcher.monitor() as monitor:
            while True:
                command = (await monitor.next_command())["command"]
                if probe in command:
                    primed.set()  # the monitor sees our commands from here on
                elif redis_cache.prefix in command:
                    seen.append(command.split())
                    if len(seen) == 6:
                        all_seen.set()

    async def monitor_sees_commands() -> bool:
        await redis_cache.client.get(probe)
        return primed.is_set()

    watching = asyncio.create_task(watch())
    try:
        await eventually(monitor_sees_commands)
        await redis_cache.set_multiple({"a": 1, "b": 2, "c": 3}, ttl=30)
        assert await redis_cache.get_multiple(["a", "b", "c", "d"]) == {"a": 1, "b": 2, "c": 3}
        await redis_cache.delete_multiple(["a", "b"])
        await asyncio.wait_for(all_seen.wait(), 5)
        # the locks are dropped first (fencing out fills in flight), in the same pipeline;
        # the delete is one script (its own DELs follow it in the monitor)
        kinds = [words[0].upper() for words in seen[:6]]
        assert kinds == ["DEL", "SET", "SET", "SET", "MGET", "EVALSHA"]
        assert [words[-2:] for words in seen[1:4]] == [["PX", "30000"]] * 3
    finally:
        watching.cancel()
        await asyncio.gather(watching, return_exceptions=True)
        await watcher.aclose()


class Held:
    """A `compute` held by an event until released (the race is forced, not timed)."""

    def __init__(self, value: Any) -> None:
        self.value, self.started, self.release = value, asyncio.Event(), asyncio.Event()

    async def __call__(self) -> Any:
        self.started.set()
        await self.release.wait()
        return self.value


@pytest.mark.parametrize("invalidation", ["delete", "set", "delete_multiple", "clear"])
async def test_an_invalidation_from_another_client_fences_out_a_fill(
    redis_url: str, invalidation: str
) -> None:
    prefix = unique_prefix()
    filler, other = make_redis(redis_url, prefix), make_redis(redis_url, prefix)
    held = Held("old")
    try:
        filling = asyncio.create_task(filler.get_or_set("k", held, ttl=30))
        await held.started.wait()
        invalidations = {
            "delete": lambda: other.delete("k"),
            "set": lambda: other.set("k", "new", ttl=30),
            "delete_multiple": lambda: other.delete_multiple(["k", "j"]),
            "clear": other.clear,
        }
        await invalidations[invalidation]()
        held.release.set()
        assert await filling == "old"
        assert await other.get("k") == ("new" if invalidation == "set" else None)
        assert filler.get_stats().stale_fills_discarded == 1
        assert not await other.client.exists(prefix + "__lock__:k")  # nothing left behind
    finally:
        await dispose(filler)
        await other.close()


async def test_a_fill_not_invalidated_stores_and_releases_its_lock_in_one_script(
    redis_cache: Any,
) -> None:
    held = Held("kept")
    held.release.set()
    assert await redis_cache.get_or_set("fresh", held, ttl=30) == "kept"
    assert await redis_cache.get("fresh") == "kept"
    assert 0 < await redis_cache.client.pttl(redis_cache.prefix + "fresh") <= 30_000
    assert not await redis_cache.client.exists(redis_cache.prefix + "__lock__:fresh")
    assert redis_cache.get_stats().stale_fills_discarded == 0


async def test_a_waiter_that_takes_a_slow_holders_lock_over_keeps_its_newer_value(
    redis_url: str,
) -> None:
    prefix = unique_prefix()
    slow, patient = make_redis(redis_url, prefix), make_redis(redis_url, prefix, lock_timeout=0.3)
    held = Held("older")

    async def newer() -> str:
        return "newer"

    try:
        holding = asyncio.create_task(slow.get_or_set("k", held, ttl=30))
        await held.started.wait()
        # waits lock_timeout for the holder, then takes the lock over and computes
        assert await patient.get_or_set("k", newer, ttl=30) == "newer"
        held.release.set()
        assert await holding == "older"
        assert await slow.get("k") == "newer"  # the older result was refused
        assert slow.get_stats().stale_fills_discarded == 1
    finally:
        await dispose(slow)
        await patient.close()
