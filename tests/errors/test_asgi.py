"""ProblemDetailsMiddleware over a real uvicorn server on loopback, and edge cases in-process."""

from __future__ import annotations

import asyncio
import http.client
import logging
from collections.abc import MutableMapping
from typing import Any

import pytest

from infrakit.errors import (
    AppError,
    ConflictError,
    NotFoundError,
    ProblemDetailsMiddleware,
    RateLimitedError,
    UnauthorizedError,
    ValidationError,
    domain_errors,
)
from tests.errors.helpers import (
    call_asgi,
    fetch,
    http_scope,
    make_error,
    raising_app,
    uvicorn_server,
    wrap,
)
from tests.errors.test_core import SENT_CLASSES
from tests.recording import RecordingLogger

PROBLEM_JSON = "application/problem+json"


async def routed_app(scope: Any, receive: Any, send: Any) -> None:
    """A tiny raw ASGI app: a few routes that fail in different ways."""
    path = scope["path"]
    if path == "/ok":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"fine"})
    elif path.startswith("/users/"):
        raise domain_errors("User").NotFound(path.rsplit("/", 1)[1])
    elif path == "/crash":
        raise RuntimeError("database password=hunter2 rejected")
    elif path == "/slow-down":
        raise RateLimitedError(retry_after=30)
    elif path in ("/half", "/half-chunked"):
        length = [(b"content-length", b"100")] if path == "/half" else []
        await send({"type": "http.response.start", "status": 200, "headers": length})
        await send({"type": "http.response.body", "body": b"partial", "more_body": True})
        raise RuntimeError("broke mid-stream")
    else:
        raise NotFoundError("No route.")


async def test_app_error_over_http(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="infrakit.errors")
    async with uvicorn_server(ProblemDetailsMiddleware(routed_app)) as port:
        response = await asyncio.to_thread(fetch, port, "/users/42?token=abc")
    assert response.status == 404
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert problem == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "User not found: 42",
        "code": "USER_NOT_FOUND",
        "instance": "/users/42",
        "request_id": response.headers["x-request-id"],
    }
    (record,) = [r for r in caplog.records if r.name == "infrakit.errors"]
    assert record.levelno == logging.DEBUG
    assert record.exc_info is None
    assert record.request_id == problem["request_id"]  # type: ignore[attr-defined]


async def test_unhandled_exception_over_http(caplog: pytest.LogCaptureFixture) -> None:
    async with uvicorn_server(ProblemDetailsMiddleware(routed_app)) as port:
        response = await asyncio.to_thread(fetch, port, "/crash", {"X-Request-ID": "req-7f3a"})
        healthy = await asyncio.to_thread(fetch, port, "/ok")
    assert response.status == 500
    assert response.headers["content-type"] == PROBLEM_JSON
    assert response.headers["x-request-id"] == "req-7f3a"
    assert response.json() == {
        "type": "about:blank",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "An internal error occurred.",
        "code": "INTERNAL_ERROR",
        "instance": "/crash",
        "request_id": "req-7f3a",
    }
    for leak in (b"hunter2", b"RuntimeError", b"Traceback", b"password"):
        assert leak not in response.body
    (record,) = [r for r in caplog.records if r.name == "infrakit.errors"]
    assert record.levelno == logging.ERROR
    assert record.request_id == "req-7f3a"  # type: ignore[attr-defined]
    assert "req-7f3a" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
    assert "hunter2" in caplog.text  # the full traceback is in the server log
    assert (healthy.status, healthy.body) == (200, b"fine")


async def test_debug_mode_over_http() -> None:
    async with uvicorn_server(ProblemDetailsMiddleware(routed_app, debug=True)) as port:
        response = await asyncio.to_thread(fetch, port, "/crash")
    problem = response.json()
    assert response.status == 500
    assert problem["exception_type"] == "RuntimeError"
    assert problem["exception_message"] == "database password=hunter2 rejected"
    assert "Traceback (most recent call last)" in problem["traceback"]
    assert "routed_app" in problem["traceback"]
    assert problem["detail"] == "An internal error occurred."
    assert len(problem["request_id"]) == 32


async def test_error_headers_are_sent_over_http() -> None:
    async with uvicorn_server(ProblemDetailsMiddleware(routed_app)) as port:
        response = await asyncio.to_thread(fetch, port, "/slow-down")
    assert response.status == 429
    assert response.headers["retry-after"] == "30"
    assert response.json()["code"] == "RATE_LIMITED"


@pytest.mark.parametrize("path", ["/half", "/half-chunked"])
async def test_broken_response_is_cut_not_doubled(
    caplog: pytest.LogCaptureFixture, path: str
) -> None:
    # Chunked too: ending that body cleanly would make the truncated response look whole.
    async with uvicorn_server(ProblemDetailsMiddleware(routed_app)) as port:
        with pytest.raises(http.client.IncompleteRead):
            await asyncio.to_thread(fetch, port, path)
    records = [r for r in caplog.records if r.name == "infrakit.errors"]
    assert len(records) == 1
    assert "after the response started" in records[0].getMessage()
    assert records[0].exc_info is not None


@pytest.mark.parametrize("cls", SENT_CLASSES, ids=lambda cls: cls.__name__)
async def test_sent_status_equals_problem_status(cls: type[AppError]) -> None:
    captured = await call_asgi(wrap(raising_app(make_error(cls))))
    assert captured.status == captured.json()["status"] == cls.status_code
    assert captured.headers["content-type"] == PROBLEM_JSON
    assert int(captured.headers["content-length"]) == len(captured.body)
    if cls.status_code >= 500:
        assert b"hunter2" not in captured.body


async def test_sent_status_follows_instance_override() -> None:
    captured = await call_asgi(wrap(raising_app(AppError("x", status_code=503))))
    assert captured.status == captured.json()["status"] == 503


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        (b"abc-123", True),
        (b"0f8fad5b-d9cb-469f-a165-70867728950e", True),
        (b"x" * 128, True),
        (b"x" * 129, False),
        (b"", False),
        (b"bad id", False),
        (b"evil\\nINFO forged", False),
        (b"\xc3\xa9t\xc3\xa9", False),
    ],
)
async def test_request_id_is_validated(incoming: bytes, kept: bool) -> None:
    scope = http_scope(headers=[(b"x-request-id", incoming)])
    captured = await call_asgi(wrap(raising_app(RuntimeError())), scope)
    request_id = captured.json()["request_id"]
    assert request_id == captured.headers["x-request-id"]
    if kept:
        assert request_id == incoming.decode()
    else:
        assert len(request_id) == 32
        assert int(request_id, 16) >= 0


async def test_custom_request_id_header() -> None:
    scope = http_scope(headers=[(b"x-correlation-id", b"corr-1")])
    app = wrap(raising_app(NotFoundError()), request_id_header="X-Correlation-ID")
    captured = await call_asgi(app, scope)
    assert captured.headers["x-correlation-id"] == "corr-1"
    assert captured.json()["request_id"] == "corr-1"
    assert "x-request-id" not in captured.headers


async def test_unauthorized_header_and_malformed_headers_dropped() -> None:
    class LeakyError(AppError):
        code = "LEAKY"
        status_code = 400

        @property
        def headers(self) -> dict[str, str]:
            return {"X-Ok": "yes", "X-Bad": "a\r\nSet-Cookie: x=1", "Content-Type": "text/html"}

    captured = await call_asgi(wrap(raising_app(LeakyError())))
    assert captured.headers["x-ok"] == "yes"
    assert "x-bad" not in captured.headers
    assert "set-cookie" not in captured.headers
    assert captured.headers["content-type"] == PROBLEM_JSON
    captured = await call_asgi(wrap(raising_app(UnauthorizedError())))
    assert captured.headers["www-authenticate"] == "Bearer"


async def test_instance_is_the_quoted_path_without_query() -> None:
    captured = await call_asgi(wrap(raising_app(NotFoundError())), http_scope(path="/café/a b"))
    assert captured.json()["instance"] == "/caf%C3%A9/a%20b"
    assert "secret-query" not in captured.body.decode()


async def test_validation_problem_through_the_middleware() -> None:
    import pydantic

    class Login(pydantic.BaseModel):
        password: str = pydantic.Field(min_length=50)

    with pytest.raises(pydantic.ValidationError) as caught:
        Login(password="hunter2-hunter2")
    error = ValidationError.from_pydantic(caught.value)
    captured = await call_asgi(wrap(raising_app(error)))
    assert captured.status == 422
    assert captured.json()["errors"] == [
        {"pointer": "#/password", "detail": "String should have at least 50 characters"}
    ]
    assert b"hunter2" not in captured.body


async def test_response_already_started_is_reraised_without_second_start(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"par", "more_body": True})
        raise KeyError("late")

    captured_messages: list[MutableMapping[str, Any]] = []

    async def send(message: MutableMapping[str, Any]) -> None:
        captured_messages.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    scope = http_scope(headers=[(b"x-request-id", b"late-1")])
    with pytest.raises(KeyError):
        await ProblemDetailsMiddleware(app)(scope, receive, send)
    assert [m["type"] for m in captured_messages] == ["http.response.start", "http.response.body"]
    (record,) = caplog.records
    assert record.request_id == "late-1"  # type: ignore[attr-defined]
    assert "cut short" in record.getMessage()


async def test_error_after_complete_response_is_logged_and_swallowed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})
        raise RuntimeError("cleanup failed")

    captured = await call_asgi(wrap(app))
    assert captured.status == 204
    assert len(captured.messages) == 2
    (record,) = caplog.records
    assert "after the response was complete" in record.getMessage()
    assert record.exc_info is not None


@pytest.mark.parametrize("scope_type", ["websocket", "lifespan"])
async def test_non_http_scopes_pass_through(scope_type: str) -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))
        raise RuntimeError("not ours to handle")

    async def receive() -> dict[str, Any]:
        return {}

    async def send(message: Any) -> None:
        seen.append(message)

    scope = {"type": scope_type}
    with pytest.raises(RuntimeError, match="not ours"):
        await ProblemDetailsMiddleware(app)(scope, receive, send)
    assert seen == [(scope, receive, send)]


async def test_base_exceptions_are_not_caught() -> None:
    with pytest.raises(asyncio.CancelledError):
        await call_asgi(wrap(raising_app(asyncio.CancelledError())))


async def test_infrakit_logger_protocol_is_used(recording_logger: RecordingLogger) -> None:
    logger = recording_logger
    scope = http_scope(headers=[(b"x-request-id", b"log-1")])
    await call_asgi(wrap(raising_app(ValueError("boom")), logger=logger), scope)
    await call_asgi(wrap(raising_app(NotFoundError()), logger=logger), scope)
    (crash, missing) = logger.records
    assert crash.level == "exception"
    assert isinstance(crash.error, ValueError)
    assert crash.metadata == {
        "request_id": "log-1",
        "method": "GET",
        "path": "/items/1",
        "status": 500,
        "code": "INTERNAL_ERROR",
        "error_type": "ValueError",
    }
    assert missing.level == "debug"
    assert missing.metadata["code"] == "NOT_FOUND"


async def test_unencodable_details_still_answer_with_a_problem() -> None:
    error = ConflictError("Taken.", details={("a", "b"): 1})
    captured = await call_asgi(wrap(raising_app(error)))
    assert captured.status == captured.json()["status"] == 409
    assert captured.headers["content-type"] == PROBLEM_JSON


async def test_request_id_and_traceback_reach_the_infrakit_json_log() -> None:
    import io
    import json

    from infrakit.log import JsonTransport, configure_logging, get_logger, shutdown_logging

    stream = io.StringIO()
    configure_logging("INFO", format="json", sinks=[JsonTransport(stream)])
    try:
        app = wrap(raising_app(RuntimeError("pool password=hunter2")), logger=get_logger("app"))
        scope = http_scope(headers=[(b"x-request-id", b"trace-me-1")])
        captured = await call_asgi(app, scope)
    finally:
        shutdown_logging()
    assert b"hunter2" not in captured.body
    assert captured.json()["request_id"] == "trace-me-1"
    (record,) = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert (record["level"], record["logger"], record["request_id"]) == (
        "ERROR",
        "app",
        "trace-me-1",
    )
    assert record["exception"]["type"] == "RuntimeError"
    assert "Traceback (most recent call last)" in record["exception"]["traceback"]
    assert 'helpers.py", line' in record["exception"]["traceback"]  # where it was raised
