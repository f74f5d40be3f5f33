"""Stopping the Infra says what stopped and closed, as starting does; stops never interleave."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from infrakit import Infra
from infrakit.log import JsonTransport, configure_logging, shutdown_logging
from tests.recording import RecordingLogger

BOUND = 5.0


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    yield
    shutdown_logging()


class Service:
    """An application service whose stop can fail or wait on a gate."""

    def __init__(self, name: str, events: list[str], *, fail: bool = False) -> None:
        self.name, self.events, self.fail = name, events, fail
        self.gate: asyncio.Event | None = None
        self.stopping = asyncio.Event()

    async def start(self) -> None:
        self.events.append(f"start {self.name}")

    async def stop(self) -> None:
        self.stopping.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("cannot stop")
        self.events.append(f"stop {self.name}")


class Resource:
    """Built by the container (not a component): the container closes it at stop."""

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def build(tmp_path: Path, events: list[str], *names: str, failing: str = "") -> Infra:
    builder = Infra.builder(env="test", directory=tmp_path)
    for name in names:
        service = Service(name, events, fail=name == failing)
        builder.with_component(name, service, start=Service.start, stop=Service.stop)
    return builder.build()


async def test_stop_logs_what_stopped_failed_and_closed(
    tmp_path: Path, recording_logger: RecordingLogger
) -> None:
    events: list[str] = []
    infra = build(tmp_path, events, "first", "broken", "last", failing="broken")
    infra.log = recording_logger
    async with infra:
        infra.container.register(Resource)
        resource = infra.container.resolve(Resource)
    assert resource.closed
    assert recording_logger.messages() == [
        "infrastructure started",
        "component failed to stop",
        "infrastructure stopped",
    ]
    started, failure, stopped = recording_logger.records
    assert started.metadata == {"components": ["first", "broken", "last"]}
    assert failure.level == "exception"
    assert failure.metadata == {"component": "broken"}
    assert isinstance(failure.error, RuntimeError)
    assert stopped.level == "info"
    assert stopped.metadata == {
        "components": ["last", "first"],
        "failed": ["broken"],
        "resources_closed": 1,
    }
    assert events == ["start first", "start broken", "start last", "stop last", "stop first"]


async def test_a_second_stop_logs_nothing_more(
    tmp_path: Path, recording_logger: RecordingLogger
) -> None:
    infra = build(tmp_path, [], "only")
    infra.log = recording_logger
    async with infra:
        pass
    await infra.stop()
    assert recording_logger.messages().count("infrastructure stopped") == 1


async def test_concurrent_stops_stop_each_component_once_in_reverse_order(
    tmp_path: Path, recording_logger: RecordingLogger
) -> None:
    events: list[str] = []
    infra = build(tmp_path, events, "first", "second", "third")
    infra.log = recording_logger
    await infra.start()
    third = infra.component("third")
    third.gate = asyncio.Event()
    async with asyncio.timeout(BOUND):
        first_stop = asyncio.create_task(infra.stop())
        await third.stopping.wait()
        second_stop = asyncio.create_task(infra.stop())
        for _ in range(20):
            await asyncio.sleep(0)  # give the second stop every chance to run ahead
        assert not second_stop.done()
        assert events[3:] == []  # nothing else stopped while `third` is stopping
        third.gate.set()
        await asyncio.gather(first_stop, second_stop)
    assert events[3:] == ["stop third", "stop second", "stop first"]
    assert recording_logger.messages().count("infrastructure stopped") == 1


async def test_the_stop_line_reaches_the_real_json_pipeline(tmp_path: Path) -> None:
    stream = io.StringIO()
    configure_logging("INFO", format="json", sinks=[JsonTransport(stream)])
    async with build(tmp_path, [], "alpha", "beta"):
        pass
    shutdown_logging()  # flush
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    stopped = [record for record in records if record.get("message") == "infrastructure stopped"]
    assert len(stopped) == 1, records
    assert "beta" in json.dumps(stopped[0])
    assert "resources_closed" in json.dumps(stopped[0])
