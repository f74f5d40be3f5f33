"""`with_pubsub()`: the backplane from PUBSUB_BACKPLANE, served when a port is set."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from infrakit import Infra
from infrakit.config import load_config
from infrakit.errors import ConfigurationError
from infrakit.pubsub import MemoryBackplane, PubSubService
from tests.pubsub.conftest import _delete_redis_prefix, client


async def test_memory_by_default_and_served_on_pubsub_port(tmp_path: Path) -> None:
    config = load_config("test", directory=tmp_path, environ={"PUBSUB_PORT": "0"})
    infra = Infra.builder().with_config(config).with_pubsub().build()
    async with infra:
        hub = infra.pubsub
        assert isinstance(hub, PubSubService)
        assert isinstance(hub.backplane, MemoryBackplane)
        port = hub._servers[0].sockets[0].getsockname()[1]
        async with client(f"ws://127.0.0.1:{port}") as ws:
            await ws.subscribe("built")
            assert (await hub.publish("built", "e", 1)).delivered == 1
        assert await hub.health()
    assert hub.closed


async def test_redis_from_the_environment(tmp_path: Path, redis_url: str) -> None:
    from infrakit.pubsub.redis import RedisBackplane

    environ = {"PUBSUB_BACKPLANE": "redis", "PUBSUB_REDIS_URL": redis_url}
    config = load_config("test", directory=tmp_path, environ=environ)
    infra = Infra.builder().with_config(config).with_pubsub().build()
    channel = f"built-{uuid.uuid4().hex[:8]}"
    try:
        async with infra:
            assert isinstance(infra.pubsub.backplane, RedisBackplane)
            assert (await infra.pubsub.publish(channel, "e", 1)).nodes >= 1
    finally:
        for kind in ("seq", "stream"):
            await _delete_redis_prefix(redis_url, f"infrakit:pubsub:{kind}:{channel}")


@pytest.mark.parametrize(
    ("environ", "key"),
    [
        ({"PUBSUB_BACKPLANE": "kafka"}, "PUBSUB_BACKPLANE"),
        ({"PUBSUB_BACKPLANE": "redis"}, "PUBSUB_REDIS_URL"),
    ],
)
def test_a_bad_backplane_setting_names_the_key(
    tmp_path: Path, environ: dict[str, str], key: str
) -> None:
    config = load_config("test", directory=tmp_path, environ=environ)
    with pytest.raises(ConfigurationError) as caught:
        Infra.builder().with_config(config).with_pubsub().build()
    assert caught.value.details["key"] == key


def test_postgres_backplane_shares_the_database_pool(tmp_path: Path) -> None:
    """Built, not started: the backplane holds `with_database()`'s pool, not one of its own."""
    environ = {"PUBSUB_BACKPLANE": "postgres", "DATABASE_URL": "postgresql://app@127.0.0.1/app"}
    config = load_config("test", directory=tmp_path, environ=environ)
    infra = Infra.builder().with_config(config).with_database().with_pubsub().build()
    assert infra.pubsub.backplane.database is infra.database  # type: ignore[attr-defined]
