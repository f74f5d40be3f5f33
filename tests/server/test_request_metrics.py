"""The request metrics as Prometheus reads them, driven through the server's ASGI app."""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from typing import Any

import pytest

from infrakit.server import ServerConfig, ServerManager

Message = MutableMapping[str, Any]


async def answering(scope: Any, receive: Any, send: Any) -> None:
    if scope["path"] == "/crash":
        raise RuntimeError("boom")
    status = int(scope["path"].strip("/") or 200)
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b""})


async def call(app: Any, method: str, path: str) -> list[Message]:
    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": []}
    await app(scope, receive, send)
    return sent


async def scrape(app: Any) -> str:
    (start, body) = await call(app, "GET", "/metrics")
    assert start["status"] == 200
    return bytes(body["body"]).decode()


def samples(text: str) -> dict[str, float]:
    """`name{labels}` to value, for every sample line."""
    lines = (line.rsplit(" ", 1) for line in text.splitlines() if line and line[0] != "#")
    return {name: float(value) for name, value in lines}


@pytest.fixture
def app() -> Any:
    config = ServerConfig(port=0, access_log=False)
    return ServerManager(answering, config=config).configure_app()


async def test_requests_are_counted_by_method_and_status(app: Any) -> None:
    for method, path in [("GET", "/200"), ("GET", "/200"), ("POST", "/201"), ("GET", "/crash")]:
        await call(app, method, path)
    values = samples(await scrape(app))
    assert values['infrakit_http_requests_total{method="GET",status="200"}'] == 2
    assert values['infrakit_http_requests_total{method="POST",status="201"}'] == 1
    # The problem middleware answered the crash: the client got a 500.
    assert values['infrakit_http_requests_total{method="GET",status="500"}'] == 1
    assert values["infrakit_http_requests_in_flight"] == 0


async def test_the_latency_histogram_is_cumulative_and_ends_at_inf(app: Any) -> None:
    for _ in range(3):
        await call(app, "GET", "/204")
    text = await scrape(app)
    values = samples(text)
    buckets = re.findall(r'infrakit_http_request_duration_seconds_bucket\{le="([^"]+)"\}', text)
    assert buckets[0] == "0.005"
    assert buckets[-1] == "+Inf"
    counts = [
        values[f'infrakit_http_request_duration_seconds_bucket{{le="{le}"}}'] for le in buckets
    ]
    assert counts == sorted(counts)
    assert counts[-1] == values["infrakit_http_request_duration_seconds_count"] == 3
    assert values["infrakit_http_request_duration_seconds_sum"] >= 0


async def test_every_series_has_its_created_timestamp(app: Any) -> None:
    await call(app, "GET", "/200")
    values = samples(await scrape(app))
    assert values['infrakit_http_requests_created{method="GET",status="200"}'] > 0
    assert values["infrakit_http_request_duration_seconds_created"] > 0


async def test_probes_and_scrapes_are_not_counted(app: Any) -> None:
    await call(app, "GET", "/livez")
    await scrape(app)
    text = await scrape(app)
    assert "infrakit_http_requests_total{" not in text
    assert samples(text)["infrakit_http_request_duration_seconds_count"] == 0
