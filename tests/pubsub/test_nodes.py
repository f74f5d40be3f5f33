"""Hub nodes in processes of their own: load across client processes, a node killed."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import uuid
from pathlib import Path

import pytest

from infrakit.pubsub import PubSubService
from tests.pubsub.conftest import client, running, wait_for

ROOT = Path(__file__).resolve().parents[2]


async def _spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE
    )


async def _line(process: asyncio.subprocess.Process, seconds: float = 60.0) -> str:
    assert process.stdout is not None
    async with asyncio.timeout(seconds):
        return (await process.stdout.readline()).decode().strip()


@pytest.mark.slow
async def test_a_thousand_clients_in_four_processes_get_every_message() -> None:
    hub = PubSubService(max_queue=10_000)
    processes: list[asyncio.subprocess.Process] = []
    async with running(hub) as url:
        try:
            for _ in range(4):
                processes.append(
                    await _spawn("tests.pubsub.client_process", url, "250", "100", "load")
                )
            for process in processes:
                assert await _line(process) == "ready"
            assert len(hub.get_channel_clients("load")) == 1000
            for n in range(100):
                result = await hub.publish("load", "tick", {"n": n})
                assert result.delivered == 1000
                if n % 10 == 9:
                    await asyncio.sleep(0)  # let the sockets drain between bursts
            reports = [json.loads(await _line(process)) for process in processes]
        finally:
            for process in processes:
                if process.returncode is None:
                    process.kill()
                await process.wait()
    assert reports == [{"clients": 250, "counts": [100], "contiguous": True}] * 4
    assert hub.get_stats().dropped == 0


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["redis", "postgres"])
async def test_killing_a_node_makes_its_users_offline_within_the_lease(
    kind: str, request: pytest.FixtureRequest
) -> None:
    token = uuid.uuid4().hex[:10]
    if kind == "redis":
        from infrakit.pubsub import RedisBackplane

        url = request.getfixturevalue("redis_url")
        namespace = f"pubsub_test:{token}:"
        backplane = RedisBackplane(url, prefix=namespace)
    else:
        url = request.getfixturevalue("database_url")
        namespace = f"pubsub_test_{token}"
    node_a_database = None
    if kind == "postgres":
        from infrakit.db import Database
        from infrakit.pubsub import PostgresBackplane

        node_a_database = Database(url, min_size=1, max_size=4)
        await node_a_database.open()
        backplane = PostgresBackplane(node_a_database, table=namespace)
    node_a = PubSubService(backplane=backplane, presence_ttl=2.0)
    node_b = await _spawn("tests.pubsub.node_process", kind, url, namespace)
    try:
        async with running(node_a):
            url_b = await _line(node_b)
            async with client(url_b, additional_headers={"Authorization": "Bearer bob"}) as bob:
                await bob.subscribe("room")
                await wait_for(lambda: "bob" in node_a.get_presence("room"))
                assert node_a.get_stats().nodes == 2
                node_b.send_signal(signal.SIGKILL)
                await node_b.wait()
                await wait_for(lambda: "bob" not in node_a.get_presence(), seconds=8.0)
                assert node_a.get_stats().nodes == 1
    finally:
        if node_b.returncode is None:
            node_b.kill()
            await node_b.wait()
        if kind == "redis":
            from tests.pubsub.conftest import _delete_redis_prefix

            await _delete_redis_prefix(url, namespace)
        elif node_a_database is not None:
            for table in ("messages", "channels"):
                await node_a_database.execute(f"DROP TABLE IF EXISTS {namespace}_{table}")
            await node_a_database.close()
