"""WSGIProblemDetailsMiddleware behind wsgiref's server on loopback, checked by wsgiref.validate."""

from __future__ import annotations

import http.client
import io
import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server
from wsgiref.validate import validator

import pytest

from infrakit.errors import (
    AppError,
    RateLimitedError,
    WSGIProblemDetailsMiddleware,
    domain_errors,
)
from tests.errors.helpers import fetch, make_error
from tests.errors.test_core import SENT_CLASSES

PROBLEM_JSON = "application/problem+json"
StartResponse = Callable[..., Any]


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """No access log on stderr during tests."""


def routed_app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    path = environ["PATH_INFO"]
    if path == "/ok":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"fine"]
    if path.startswith("/orders/"):
        raise domain_errors("Order").NotFound(path.rsplit("/", 1)[1])
    if path == "/crash":
        raise RuntimeError("token=hunter2 leaked")
    if path == "/lazy-crash":
        return lazy_crash(start_response)
    if path == "/half":
        return half_then_crash(start_response)
    raise RateLimitedError(retry_after=3)


def lazy_crash(start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b""
    raise KeyError("inside the body generator")


def half_then_crash(start_response: StartResponse) -> Iterator[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "100")])
    yield b"partial"
    raise KeyError("mid-stream")


class ServerErrorsCaptured(WSGIServer):
    """wsgiref prints aborted requests to stderr; keep them for the assertions instead."""

    failures: list[str]

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.failures.append("aborted")


@contextmanager
def wsgi_server(app: Any) -> Iterator[int]:
    server = make_server(
        "127.0.0.1", 0, app, server_class=ServerErrorsCaptured, handler_class=QuietHandler
    )
    server.failures = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def port() -> Iterator[int]:
    with wsgi_server(validator(WSGIProblemDetailsMiddleware(routed_app))) as bound:
        yield bound


def test_app_error(port: int) -> None:
    response = fetch(port, "/orders/9", {"X-Request-ID": "w-1"})
    assert response.status == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.json() == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Order not found: 9",
        "code": "ORDER_NOT_FOUND",
        "instance": "/orders/9",
        "request_id": "w-1",
    }
    assert response.headers["x-request-id"] == "w-1"


def test_unhandled_exception_is_hidden_and_logged(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    response = fetch(port, "/crash")
    assert response.status == 500
    problem = response.json()
    assert problem["detail"] == "An internal error occurred."
    assert b"hunter2" not in response.body
    assert b"RuntimeError" not in response.body
    request_id = response.headers["x-request-id"]
    assert problem["request_id"] == request_id
    assert len(request_id) == 32
    (record,) = [r for r in caplog.records if r.name == "infrakit.errors"]
    assert record.request_id == request_id  # type: ignore[attr-defined]
    assert record.exc_info is not None
    assert "hunter2" in caplog.text


def test_error_raised_while_iterating_the_body(port: int) -> None:
    response = fetch(port, "/lazy-crash")
    assert response.status == 500
    assert response.json()["code"] == "INTERNAL_ERROR"


def test_retry_after_header(port: int) -> None:
    response = fetch(port, "/anything")
    assert (response.status, response.headers["retry-after"]) == (429, "3")


def test_healthy_responses_pass_through(port: int) -> None:
    response = fetch(port, "/ok")
    assert (response.status, response.body) == (200, b"fine")


def test_a_list_body_is_returned_as_it_is_so_the_server_can_size_it() -> None:
    body = [b"fine"]

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    middleware = WSGIProblemDetailsMiddleware(app)
    assert middleware({"PATH_INFO": "/"}, lambda *args: None) is body
    with wsgi_server(middleware) as bound:
        response = fetch(bound, "/")
    assert (response.status, response.body, response.headers["content-length"]) == (
        200,
        b"fine",
        "4",
    )


def test_error_after_body_bytes_aborts(caplog: pytest.LogCaptureFixture) -> None:
    with (
        wsgi_server(WSGIProblemDetailsMiddleware(routed_app)) as bound,
        pytest.raises(http.client.IncompleteRead),
    ):
        fetch(bound, "/half")
    records = [r for r in caplog.records if r.name == "infrakit.errors"]
    assert len(records) == 1
    assert "cut short" in records[0].getMessage()


def test_debug_mode() -> None:
    captured = call_wsgi(WSGIProblemDetailsMiddleware(routed_app, debug=True), "/crash")
    problem = captured["json"]
    assert problem["exception_type"] == "RuntimeError"
    assert problem["exception_message"] == "token=hunter2 leaked"
    assert "routed_app" in problem["traceback"]


@pytest.mark.parametrize("cls", SENT_CLASSES, ids=lambda cls: cls.__name__)
def test_sent_status_equals_problem_status(cls: type[AppError]) -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        raise make_error(cls)

    captured = call_wsgi(validator(WSGIProblemDetailsMiddleware(app)), "/x")
    assert int(captured["status"].split()[0]) == captured["json"]["status"] == cls.status_code


def test_start_response_called_before_the_error_is_replaced() -> None:
    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        raise ValueError("after start_response, before any byte")

    captured = call_wsgi(validator(WSGIProblemDetailsMiddleware(app)), "/x")
    assert captured["status"] == "500 Internal Server Error"


def test_iterable_is_closed() -> None:
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"a"

        def close(self) -> None:
            closed.append(True)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body()

    captured = call_wsgi(validator(WSGIProblemDetailsMiddleware(app)), "/x")
    assert captured["body"] == b"a"
    assert closed == [True]


def call_wsgi(app: Any, path: str) -> dict[str, Any]:
    """Call a WSGI app in-process (wsgiref.util builds a complete environ)."""
    import json
    from wsgiref.util import setup_testing_defaults

    environ: dict[str, Any] = {
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": io.StringIO(),
    }
    setup_testing_defaults(environ)
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        captured["status"], captured["headers"] = status, dict(headers)
        return lambda data: None

    result = app(environ, start_response)
    try:
        captured["body"] = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    if captured["headers"].get("content-type") == PROBLEM_JSON:
        captured["json"] = json.loads(captured["body"])
    return captured


def test_log_records_go_to_a_given_stdlib_logger(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("myapp.errors")
    call_wsgi(WSGIProblemDetailsMiddleware(routed_app, logger=logger), "/crash")
    assert [r.name for r in caplog.records] == ["myapp.errors"]
