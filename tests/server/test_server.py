"""ServerManager on a real uvicorn on loopback: probes, problems, metrics, ports, status."""

from __future__ import annotations

import asyncio
import io
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from infrakit import Infra
from infrakit.config import load_config
from infrakit.errors import ConfigurationError
from infrakit.pubsub import PubSubService
from infrakit.server import (
    PortUnavailableError,
    ServerConfig,
    ServerError,
    ServerManager,
    find_available_port,
)
from tests.pubsub.conftest import client
from tests.server.apps import app, failing_startup
from tests.server.conftest import running

QUICK = ServerConfig(port=0, drain_delay=0.0, shutdown_timeout=5.0, access_log=False)


def _listening() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


def _infra(tmp_path: Path, **components: Any) -> Infra:
    config = load_config("test", directory=tmp_path, environ={})
    builder = Infra.builder().with_config(config).with_cache().with_pubsub()
    for name, health in components.items():
        builder = builder.with_component(name, object(), health=health)
    return builder.build()


async def test_the_app_is_served_with_problems_and_a_request_id() -> None:
    async with running(ServerManager(app, config=QUICK)) as url, httpx.AsyncClient() as http:
        hello = await http.get(f"{url}/hello")
        missing = await http.get(f"{url}/missing")
    assert (hello.status_code, hello.text) == (200, "hello")
    assert hello.headers["x-request-id"]
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.json()["code"] == "NOT_FOUND"


async def test_probes_report_every_dependency(tmp_path: Path) -> None:
    manager = ServerManager(app, infra=_infra(tmp_path), config=QUICK)
    async with running(manager) as url, httpx.AsyncClient() as http:
        live = await http.get(f"{url}/livez")
        ready = await http.get(f"{url}/readyz")
    assert live.status_code == 200
    assert live.json()["status"] == "alive"
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"
    assert {"cache", "pubsub"} <= set(ready.json()["checks"])


async def test_an_unhealthy_dependency_makes_readiness_503(tmp_path: Path) -> None:
    async def failing(_: object) -> bool:
        return False

    manager = ServerManager(app, infra=_infra(tmp_path, billing=failing), config=QUICK)
    async with running(manager) as url, httpx.AsyncClient() as http:
        ready = await http.get(f"{url}/readyz")
        live = await http.get(f"{url}/livez")
    assert ready.status_code == 503
    assert ready.json()["status"] == "unavailable"
    assert ready.json()["checks"]["billing"]["healthy"] is False
    assert live.status_code == 200


async def test_readiness_is_503_while_draining() -> None:
    config = ServerConfig(port=0, drain_delay=3.0, shutdown_timeout=6.0, access_log=False)
    manager = ServerManager(app, config=config)
    async with running(manager) as url, httpx.AsyncClient() as http:
        assert (await http.get(f"{url}/readyz")).status_code == 200
        manager.request_shutdown()
        draining = await http.get(f"{url}/readyz")
        still_served = await http.get(f"{url}/hello")
    assert draining.status_code == 503
    assert draining.json()["status"] == "draining"
    assert still_served.status_code == 200  # the listener accepts during drain_delay


async def test_metrics_read_every_service_and_count_requests(tmp_path: Path) -> None:
    infra = _infra(tmp_path)
    manager = ServerManager(app, infra=infra, config=QUICK)
    async with running(manager) as url, httpx.AsyncClient() as http:
        await infra.cache.set("k", 1)
        await infra.cache.get("k")
        await http.get(f"{url}/hello")
        await http.get(f"{url}/missing")
        metrics = await http.get(f"{url}/metrics")
    assert metrics.status_code == 200
    assert metrics.headers["content-type"].startswith("text/plain")
    text = metrics.text
    assert 'infrakit_http_requests_total{method="GET",status="200"} 1.0' in text
    assert 'infrakit_http_requests_total{method="GET",status="404"} 1.0' in text
    assert "infrakit_http_request_duration_seconds_bucket" in text
    assert "infrakit_cache_hits 1.0" in text
    assert "infrakit_pubsub_connections 0.0" in text
    assert "infrakit_di_registrations" in text


async def test_the_pubsub_hub_is_mounted_at_ws_and_closes_clients_with_1001() -> None:
    hub = PubSubService()
    manager = ServerManager(None, pubsub=hub, config=QUICK)
    async with running(manager), client(manager.urls[1]) as ws:
        assert manager.urls[1].endswith("/ws")
        await ws.subscribe("mounted")
        assert (await hub.publish("mounted", "e", 1)).delivered == 1
        manager.request_shutdown()
        async with asyncio.timeout(5.0):
            await ws.connection.wait_closed()
        assert ws.connection.close_code == 1001
    assert hub.closed


async def test_a_taken_port_falls_back_to_the_next_free_one() -> None:
    taken = _listening()
    try:
        port = taken.getsockname()[1]
        manager = ServerManager(app, config=QUICK.model_copy(update={"port": port}))
        async with running(manager), httpx.AsyncClient() as http:
            assert manager.port != port
            assert manager.port is not None
            assert (await http.get(f"{manager.urls[0]}/hello")).status_code == 200
        assert await find_available_port(port) != port
    finally:
        taken.close()


async def test_port_zero_binds_an_os_assigned_port() -> None:
    manager = ServerManager(app, config=QUICK)
    assert manager.port is None
    async with running(manager):
        assert manager.port is not None
        assert manager.port > 0
    assert await find_available_port(0) > 0


async def test_a_bad_host_raises_port_unavailable() -> None:
    with pytest.raises(PortUnavailableError) as caught:
        await find_available_port(0, host="203.0.113.1")  # TEST-NET-3: not this machine's
    assert caught.value.code == "SERVER_PORT_UNAVAILABLE"


def test_config_is_read_from_the_server_namespace(tmp_path: Path) -> None:
    environ = {"SERVER_PORT": "9123", "SERVER_DRAIN_DELAY": "1.5"}
    config = ServerConfig.from_config(load_config("test", directory=tmp_path, environ=environ))
    assert (config.port, config.drain_delay) == (9123, 1.5)
    bad = load_config("test", directory=tmp_path, environ={"SERVER_PORT": "many"})
    with pytest.raises(ConfigurationError) as caught:
        ServerConfig.from_config(bad)
    assert "SERVER_PORT" in str(caught.value)
    assert "many" not in str(caught.value)
    hosted = {"SERVER_SOFTWARE": "Google App Engine/1.9", "SERVER_NAME": "app", **environ}
    config = ServerConfig.from_config(load_config("test", directory=tmp_path, environ=hosted))
    assert config.port == 9123  # the CGI names hosting platforms set are not refused


def test_drain_delay_must_fit_inside_the_shutdown_timeout() -> None:
    with pytest.raises(ValueError, match="drain_delay"):
        ServerConfig(drain_delay=30.0, shutdown_timeout=20.0)


def test_the_status_banner_is_plain_when_not_a_terminal() -> None:
    manager = ServerManager(app, config=QUICK)
    stream = io.StringIO()
    manager.display_server_status(stream, {"cache": {"healthy": True}, "db": {"healthy": False}})
    text = stream.getvalue()
    assert "\033" not in text
    assert "infrakit (" in text
    assert "pid" in text
    assert "cache: healthy" in text
    assert "db: UNHEALTHY" in text


async def test_a_failed_lifespan_start_up_raises_and_closes_the_infra(tmp_path: Path) -> None:
    infra = _infra(tmp_path)
    manager = ServerManager(failing_startup, infra=infra, config=QUICK)
    with pytest.raises(ServerError) as caught:
        await manager.serve_forever(status_stream=io.StringIO())
    assert caught.value.code == "SERVER_ERROR"
    assert infra.pubsub.closed


async def test_metrics_cover_jobs_storage_and_media(tmp_path: Path) -> None:
    environ = {"STORAGE_URL": f"file://{tmp_path / 'files'}", "JOBS_BACKEND": "memory"}
    config = load_config("test", directory=tmp_path, environ=environ)
    infra = Infra.builder().with_config(config).with_storage().with_media().with_jobs().build()

    async def thumbnail(data: object) -> None:
        return None

    infra.jobs.register_processor("thumbnail", thumbnail)
    manager = ServerManager(app, infra=infra, config=QUICK)
    async with running(manager) as url, httpx.AsyncClient() as http:
        infra.jobs.stop_worker()
        await infra.jobs.pause_queue("thumbnail")
        await infra.jobs.add_job("thumbnail", {"path": "a.jpg"})
        await infra.storage.save_file("a.txt", b"abc")
        text = (await http.get(f"{url}/metrics")).text
        counts = await infra.jobs.get_stats("thumbnail")  # the store agrees
    assert counts.paused == 1
    assert 'infrakit_jobs{job_type="thumbnail",state="paused"} 1.0' in text
    assert "infrakit_storage_saves 1.0" in text
    assert "infrakit_storage_bytes_written 3.0" in text
    assert "infrakit_media_failures 0.0" in text
