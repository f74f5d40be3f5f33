"""Drive ASGI apps in-process and through a real uvicorn server on loopback."""

from __future__ import annotations

import asyncio
import http.client
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from infrakit.errors import AppError, MissingDependencyError, ProblemDetailsMiddleware


@dataclass
class Captured:
    """Every message an ASGI app sent, and the decoded response."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    @property
    def status(self) -> int:
        starts = [m for m in self.messages if m["type"] == "http.response.start"]
        assert len(starts) == 1, self.messages
        return int(starts[0]["status"])

    @property
    def headers(self) -> dict[str, str]:
        start = next(m for m in self.messages if m["type"] == "http.response.start")
        return {name.decode(): value.decode() for name, value in start["headers"]}

    @property
    def body(self) -> bytes:
        return b"".join(
            m.get("body", b"") for m in self.messages if m["type"] == "http.response.body"
        )

    def json(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.body)
        return decoded


def http_scope(
    path: str = "/items/1", headers: list[tuple[bytes, bytes]] | None = None
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"token=secret-query",
        "root_path": "",
        "headers": headers or [],
        "server": ("127.0.0.1", 80),
        "client": ("127.0.0.1", 5000),
    }


async def call_asgi(app: Any, scope: dict[str, Any] | None = None) -> Captured:
    captured = Captured()

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        captured.messages.append(message)

    await app(scope or http_scope(), receive, send)
    return captured


def raising_app(error: BaseException) -> Any:
    """An ASGI app that fails before sending anything (as if routing failed)."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise error

    return app


def make_error(cls: type[AppError]) -> AppError:
    """One instance of any AppError class, with a message that must not leak when internal."""
    if issubclass(cls, MissingDependencyError):
        return cls("redis", "redis")
    return cls("internal detail: password=hunter2")


@dataclass
class Fetched:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, Any]:
        decoded: dict[str, Any] = json.loads(self.body)
        return decoded


def fetch(port: int, path: str, headers: dict[str, str] | None = None) -> Fetched:
    """A real HTTP/1.1 request over loopback (run it in a thread)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        body = response.read()
        return Fetched(response.status, {k.lower(): v for k, v in response.getheaders()}, body)
    finally:
        connection.close()


@asynccontextmanager
async def uvicorn_server(app: Any) -> AsyncIterator[int]:
    """Serve `app` with uvicorn in this event loop on an ephemeral loopback port."""
    config = uvicorn.Config(
        app, host="127.0.0.1", port=0, lifespan="off", ws="none", log_config=None
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
                await asyncio.sleep(0.01)
        yield server.servers[0].sockets[0].getsockname()[1]
    finally:
        server.should_exit = True
        await task


def wrap(app: Any, **options: Any) -> ProblemDetailsMiddleware:
    return ProblemDetailsMiddleware(app, **options)
