"""The Flask example under a real threaded WSGI server: the blocking db and cache at once.

50 clients at the same moment write a note each, read it twice (the second read from
the cache), and count a view on one shared row. Every answer must be right, and
afterwards no connection may be out of the pool, nor left on the server once closed.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from infrakit.cache import sync as cache_sync
from infrakit.db import sync as db_sync

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]

CLIENTS = 50
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "flask_app.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flask_app_example", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def served(
    database_url: str, redis_url: str, application_name: str
) -> Iterator[tuple[Any, int, str]]:
    from werkzeug.serving import make_server

    example, table = load_example(), f"wsgi_notes_{uuid.uuid4().hex[:10]}"
    database = db_sync.Database(
        database_url, min_size=2, max_size=8, application_name=application_name
    )
    cache = cache_sync.RedisCache(
        redis_url, prefix=f"infrakit-test:{uuid.uuid4().hex}:", client_name=application_name
    )
    infra = example.build_infra(database, cache)
    infra.start_sync()
    server = None
    try:
        example.create_tables(infra, table)
        server = make_server("127.0.0.1", 0, example.create_app(infra, table), threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield infra, server.server_port, table
    finally:
        if server is not None:
            server.shutdown()
        infra.stop_sync()  # nothing to do when the test stopped it already
        with db_sync.Database(database_url, min_size=1, max_size=1) as admin:
            admin.execute(f"DROP TABLE IF EXISTS {table}")
        with cache_sync.RedisCache(redis_url, prefix=cache.prefix) as leftovers:
            leftovers.clear()


def request(port: int, method: str, path: str, body: str = "") -> tuple[int, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, path, body=body.encode())
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def client_session(port: int, index: int, start: threading.Barrier) -> list[tuple[int, Any]]:
    start.wait(timeout=30)
    name = f"note{index}"
    return [
        request(port, "POST", f"/notes/{name}", f"text {index}"),
        request(port, "GET", f"/notes/{name}"),
        request(port, "GET", f"/notes/{name}"),
        request(port, "POST", "/notes/shared/views"),
    ]


def backends(database_url: str, application_name: str) -> int:
    with db_sync.Database(database_url, min_size=1, max_size=1) as observer:
        count = observer.fetch_value(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        )
    return int(count)


def test_fifty_concurrent_requests_through_the_blocking_db_and_cache(
    served: tuple[Any, int, str], database_url: str, application_name: str
) -> None:
    infra, port, _ = served
    assert request(port, "POST", "/notes/shared", "everyone counts here")[0] == 201
    start = threading.Barrier(CLIENTS)
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        sessions = list(pool.map(lambda index: client_session(port, index, start), range(CLIENTS)))
    for index, (written, first, second, viewed) in enumerate(sessions):
        assert written == (201, {"name": f"note{index}"})
        assert first == second == (200, {"name": f"note{index}", "text": f"text {index}"})
        assert viewed[0] == 200
    views = sorted(viewed[1]["views"] for *_, viewed in sessions)
    assert views == list(range(1, CLIENTS + 1))  # every increment counted once

    database_stats, cache_stats = infra.database.get_stats(), infra.cache.get_stats()
    assert database_stats.errors == 0
    assert database_stats.pool_idle == database_stats.pool_size  # nothing left checked out
    assert database_stats.pool_waiting == 0
    assert database_stats.pool.get("requests_errors", 0) == 0
    assert cache_stats.errors == 0
    assert cache_stats.hits >= CLIENTS
    assert 1 <= backends(database_url, application_name) <= 8

    infra.stop_sync()
    deadline = time.monotonic() + 10
    while backends(database_url, application_name):
        assert time.monotonic() < deadline, "connections stayed open after stop_sync()"
        time.sleep(0.05)
