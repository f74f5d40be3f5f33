"""Real servers on loopback, a real HTTP client, and the real infrakit.log pipeline captured.

Logs are asserted after the server context exits: uvicorn's shutdown waits for every
request task and wsgiref serves one request at a time, so by then each access line (written
just after the client got its last byte) is in.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from infrakit.log import LogEntry, configure_logging, shutdown_logging
from tests.errors.helpers import uvicorn_server
from tests.errors.test_wsgi import wsgi_server

__all__ = ["Collected", "Response", "request", "uvicorn_server", "wsgi_server"]

VALID_ID = "req-2024.01_a:b+c/d=e"


class Collected:
    """A `LogTransport` keeping every record the infrakit pipeline writes."""

    def __init__(self) -> None:
        self.entries: list[LogEntry] = []

    def log(self, entry: LogEntry) -> None:
        self.entries.append(entry)

    def named(self, logger: str) -> list[LogEntry]:
        return [entry for entry in self.entries if entry.logger == logger]

    def access(self) -> list[LogEntry]:
        return self.named("infrakit.web.access")


@pytest.fixture
def collected() -> Iterator[Collected]:
    """The whole infrakit.log pipeline writing into a `Collected` (DEBUG and up)."""
    sink = Collected()
    configure_logging("DEBUG", sinks=[sink])
    try:
        yield sink
    finally:
        shutdown_logging()


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    header_lists: list[tuple[str, str]]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    path: str,
    *,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """One real HTTP/1.1 request over loopback (call it in a thread from async tests)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        content = response.read()
        pairs = [(name.lower(), value) for name, value in response.getheaders()]
        return Response(response.status, dict(pairs), pairs, content)
    finally:
        connection.close()
