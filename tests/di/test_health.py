"""Health: sync and async checks, failures and hangs reported per component, on time."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from infrakit.di import ComponentHealth, create_container
from infrakit.errors import NetworkError
from tests.recording import RecordingLogger

BOUND = 5.0


class Database:
    def __init__(self, healthy: bool = True) -> None:
        self.healthy = healthy

    async def health(self) -> bool:
        await asyncio.sleep(0)
        return self.healthy


class Cache:
    pass


class Queue:
    pass


@dataclass(frozen=True)
class Status:
    healthy: bool


async def test_builder_call_shape_for_instances() -> None:
    container = create_container()
    container.register(Database, instance=Database(), health=lambda db: db.health())
    container.register(Cache, instance=Cache(), health=None)
    report = await container.health()
    assert list(report) == ["Database"]
    result = report["Database"]
    assert isinstance(result, ComponentHealth)
    assert result.healthy
    assert result.error is None
    assert result.latency_ms >= 0


async def test_each_kind_of_outcome(recording_logger: RecordingLogger) -> None:
    def raises(_: object) -> None:
        raise NetworkError("redis unreachable")

    def leaks(_: object) -> None:
        raise OSError("password=hunter2 rejected")

    container = create_container(logger=recording_logger)
    container.register(Database, instance=Database(healthy=False), health=lambda db: db.health())
    container.register(Cache, instance=Cache(), health=raises)
    container.register(Queue, instance=Queue(), health=lambda _: Status(healthy=True))
    container.register("plain", instance=object(), health=leaks, name="plain")
    container.register("sync", instance=object(), health=lambda _: True, name="sync")
    report = await container.health()
    assert {name: result.healthy for name, result in report.items()} == {
        "Database": False,
        "Cache": False,
        "Queue": True,
        "plain": False,
        "sync": True,
    }
    assert report["Database"].error == "the health check reported the component unhealthy"
    assert report["Cache"].error == "NetworkError (NETWORK_ERROR): redis unreachable"
    plain_error = report["plain"].error
    assert plain_error is not None
    assert plain_error.startswith("OSError")
    assert "hunter2" not in plain_error
    logged = {
        (record.message, record.metadata["component"], type(record.error))
        for record in recording_logger.records
    }
    assert logged == {
        ("health check failed", "Cache", NetworkError),
        ("health check failed", "plain", OSError),
        ("health check failed", "Database", type(None)),  # reported unhealthy: a warning
    }


async def test_a_failing_check_logs_one_line_per_state_change(
    recording_logger: RecordingLogger,
) -> None:
    state = {"up": False}

    def ping(_: object) -> None:
        if not state["up"]:
            raise NetworkError("redis unreachable")

    def answers(_: object) -> bool:
        return state["up"]

    container = create_container(logger=recording_logger)
    container.register(Cache, instance=Cache(), health=ping)
    container.register(Queue, instance=Queue(), health=answers)
    for up in (False, False, False, True, True, False, False):
        state["up"] = up
        report = await container.health()
        assert report["Cache"].healthy is up
        assert report["Queue"].healthy is up
    lines = [(r.level, r.message, r.metadata["component"]) for r in recording_logger.records]
    assert sorted(lines) == sorted(
        [
            ("exception", "health check failed", "Cache"),
            ("warning", "health check failed", "Queue"),
            ("info", "health check recovered", "Cache"),
            ("info", "health check recovered", "Queue"),
            ("exception", "health check failed", "Cache"),
            ("warning", "health check failed", "Queue"),
        ]
    )


async def test_a_hung_check_does_not_hang_health(recording_logger: RecordingLogger) -> None:
    cancelled, finish, finished = asyncio.Event(), asyncio.Event(), asyncio.Event()

    async def hangs_and_ignores_cancellation(_: object) -> bool:
        try:
            await asyncio.Event().wait()  # never set: the check hangs
        except asyncio.CancelledError:
            cancelled.set()
            await finish.wait()  # stubborn: keeps running after the cancel
            finished.set()
        return True

    container = create_container(logger=recording_logger, health_timeout=0.1)
    container.register(Database, instance=Database(), health=lambda db: db.health())
    container.register(Queue, instance=Queue(), health=hangs_and_ignores_cancellation)
    async with asyncio.timeout(BOUND):
        report = await container.health()
    assert cancelled.is_set()
    assert not finished.is_set()  # health() returned without waiting for the stubborn check
    assert report["Database"].healthy
    assert not report["Queue"].healthy
    assert report["Queue"].error == "the health check timed out after 0.1 s"
    assert recording_logger.records[0].message == "health check timed out"
    finish.set()
    async with asyncio.timeout(BOUND):
        await finished.wait()  # the abandoned check ends before the loop closes


async def test_check_timeout_argument_overrides_the_default() -> None:
    async def never(_: object) -> bool:
        await asyncio.Event().wait()
        return True

    container = create_container(health_timeout=60.0, logger=RecordingLogger())
    container.register(Queue, instance=Queue(), health=never)
    async with asyncio.timeout(BOUND):
        report = await container.health(check_timeout=0.01)
    assert report["Queue"].error == "the health check timed out after 0.01 s"


async def test_unbuilt_singletons_are_not_built_by_health() -> None:
    built: list[int] = []

    def make_cache() -> Cache:
        built.append(1)
        return Cache()

    container = create_container()
    container.register(Cache, make_cache, health=lambda _: True)
    assert await container.health() == {}
    container.resolve(Cache)
    assert (await container.health())["Cache"].healthy
    assert built == [1]


async def test_stats_reflect_the_container() -> None:
    container = create_container()
    container.register(Database, instance=Database())
    container.register(Cache)
    container.register(Queue)
    container.resolve(Cache)
    stats = container.get_stats()
    assert stats.registrations == 3
    assert stats.singletons_built == 1
    assert stats.resources_to_close == 0
    assert stats.plans_compiled == 1
    assert not stats.closed
