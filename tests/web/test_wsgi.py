"""WSGIRequestContextMiddleware behind wsgiref on loopback, checked by wsgiref.validate."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any
from wsgiref.validate import validator

import pytest

from infrakit.errors import REQUEST_ID_KEY, NotFoundError, WSGIProblemDetailsMiddleware
from infrakit.log import get_logger
from infrakit.web import WSGIRequestContextMiddleware
from tests.web.helpers import VALID_ID, Collected, request, wsgi_server

StartResponse = Callable[..., Any]
app_logger = get_logger("app.handlers")


def streamed(start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    for part in (b"one ", b"two"):
        app_logger.info("streaming", part=part.decode())
        yield part


def broken_stream(start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b""
    raise KeyError("while streaming")


def routed(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    app_logger.info("handling", seen_id=environ.get(REQUEST_ID_KEY))
    path = environ["PATH_INFO"]
    if path == "/missing":
        raise NotFoundError("No such order.")
    if path == "/crash":
        raise RuntimeError("boom")
    if path == "/stream":
        return streamed(start_response)
    if path == "/broken-stream":
        return broken_stream(start_response)
    headers = [("Content-Type", "text/plain"), ("X-Request-ID", "the-app-set-this")]
    start_response("200 OK", headers)
    return [b"ok"]


@pytest.fixture
def port() -> Iterator[int]:
    app = WSGIRequestContextMiddleware(WSGIProblemDetailsMiddleware(routed))
    with wsgi_server(validator(app)) as bound:
        yield bound


def test_id_header_log_context_and_access_line(collected: Collected) -> None:
    app = validator(WSGIRequestContextMiddleware(WSGIProblemDetailsMiddleware(routed)))
    with wsgi_server(app) as port:
        plain = request(port, "/plain?token=secret-query", headers={"X-Request-ID": VALID_ID})
        fresh = request(port, "/plain", headers={"X-Request-ID": "bad id"})
    assert (plain.status, plain.body) == (200, b"ok")
    assert plain.headers["x-request-id"] == VALID_ID
    assert [name for name, _ in plain.header_lists].count("x-request-id") == 1
    assert len(fresh.headers["x-request-id"]) == 32
    handled = collected.named("app.handlers")
    assert [entry.context["request_id"] for entry in handled] == [
        VALID_ID,
        fresh.headers["x-request-id"],
    ]
    assert [entry.metadata["seen_id"] for entry in handled] == [
        VALID_ID,
        fresh.headers["x-request-id"],
    ]
    first, second = collected.access()
    assert first.context["request_id"] == VALID_ID
    assert (first.metadata["method"], first.metadata["path"], first.metadata["status"]) == (
        "GET",
        "/plain",
        200,
    )
    assert first.metadata["duration_ms"] >= 0
    assert second.context["request_id"] == fresh.headers["x-request-id"]
    assert "secret-query" not in repr(collected.entries)


def test_the_body_is_iterated_inside_the_context(collected: Collected, port: int) -> None:
    response = request(port, "/stream", headers={"X-Request-ID": "stream-1"})
    assert response.body == b"one two"
    streaming = [entry for entry in collected.named("app.handlers") if entry.message == "streaming"]
    assert [entry.context["request_id"] for entry in streaming] == ["stream-1", "stream-1"]


def test_problems_share_the_id(collected: Collected, port: int) -> None:
    missing = request(port, "/missing", headers={"X-Request-ID": VALID_ID})
    crash = request(port, "/crash")
    broken = request(port, "/broken-stream")
    assert missing.status == 404
    assert missing.json()["request_id"] == missing.headers["x-request-id"] == VALID_ID
    for response in (crash, broken):
        assert response.status == 500
        assert response.json()["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize("order", ["context-outside", "problems-outside"])
def test_access_status_is_the_status_sent(collected: Collected, order: str) -> None:
    if order == "context-outside":
        app: Any = WSGIRequestContextMiddleware(WSGIProblemDetailsMiddleware(routed))
    else:
        app = WSGIProblemDetailsMiddleware(WSGIRequestContextMiddleware(routed))
    with wsgi_server(validator(app)) as port:
        missing = request(port, "/missing", headers={"X-Request-ID": VALID_ID})
        crash = request(port, "/crash")
    assert missing.json()["request_id"] == VALID_ID
    assert [name for name, _ in crash.header_lists].count("x-request-id") == 1
    statuses = {
        entry.context["request_id"]: entry.metadata["status"] for entry in collected.access()
    }
    assert statuses == {VALID_ID: 404, crash.headers["x-request-id"]: 500}


def test_an_error_leaving_the_app_is_logged_and_reraised(collected: Collected) -> None:
    environ = {"REQUEST_METHOD": "DELETE", "PATH_INFO": "/crash", "SCRIPT_NAME": ""}
    with pytest.raises(RuntimeError, match="boom"):
        WSGIRequestContextMiddleware(routed)(environ, lambda *args: None)  # type: ignore[arg-type]
    (access,) = collected.access()
    assert (access.metadata["method"], access.metadata["status"]) == ("DELETE", 500)
    assert access.metadata["error"] == "RuntimeError"
    assert access.context["request_id"] == environ[REQUEST_ID_KEY]


def test_the_body_is_closed_and_logged_once(collected: Collected) -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"a"

        def close(self) -> None:
            app_logger.info("closing")
            closed.append(True)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body()

    with wsgi_server(validator(WSGIRequestContextMiddleware(app))) as port:
        response = request(port, "/", headers={"X-Request-ID": "close-1"})
    assert response.body == b"a"
    assert closed == [True]
    (closing,) = collected.named("app.handlers")
    assert closing.context["request_id"] == "close-1"
    assert len(collected.access()) == 1


def test_non_ascii_paths_are_logged_percent_encoded(collected: Collected, port: int) -> None:
    request(port, "/caf%C3%A9/a%20b")
    (access,) = collected.access()
    assert access.metadata["path"] == "/caf%C3%A9/a%20b"


def test_a_list_body_is_returned_as_it_is_so_the_server_can_size_it(collected: Collected) -> None:
    body = [b"fine"]

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    middleware = WSGIRequestContextMiddleware(app)
    assert middleware({"PATH_INFO": "/"}, lambda *args: None) is body  # type: ignore[arg-type]
    with wsgi_server(middleware) as port:
        response = request(port, "/")
    assert response.headers["content-length"] == "4"
