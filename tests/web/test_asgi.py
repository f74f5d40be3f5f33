"""RequestContextMiddleware over a real uvicorn server: one id per request, everywhere."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import MutableMapping
from typing import Any

import pytest

from infrakit.errors import REQUEST_ID_KEY, NotFoundError, ProblemDetailsMiddleware
from infrakit.log import get_logger
from infrakit.web import RequestContextMiddleware
from tests.web.helpers import VALID_ID, Collected, request, uvicorn_server

app_logger = get_logger("app.handlers")


async def routed(scope: Any, receive: Any, send: Any) -> None:
    path = scope["path"]
    app_logger.info("handling", seen_id=scope.get(REQUEST_ID_KEY))
    if path == "/missing":
        raise NotFoundError("No such thing.")
    if path == "/crash":
        raise RuntimeError("boom")
    if path == "/yield":
        await asyncio.sleep(0)  # let concurrent requests interleave
        app_logger.info("after a task switch")
    headers = [(b"content-type", b"text/plain"), (b"X-Request-ID", b"the-app-set-this")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


def context_app() -> RequestContextMiddleware:
    return RequestContextMiddleware(ProblemDetailsMiddleware(routed))


async def fetch(port: int, path: str, headers: dict[str, str] | None = None) -> Any:
    return await asyncio.to_thread(request, port, path, headers=headers)


async def call_directly(
    app: Any, scope: dict[str, Any], sent: list[MutableMapping[str, Any]] | None = None
) -> list[MutableMapping[str, Any]]:
    """Call `app` without a server; the messages it sent go to `sent` (kept if it raises)."""
    sent = [] if sent is None else sent

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


async def test_every_request_gets_an_id_in_header_logs_and_access_line(
    collected: Collected,
) -> None:
    async with uvicorn_server(context_app()) as port:
        response = await fetch(port, "/hello?token=secret-query")
    assert (response.status, response.body) == (200, b"ok")
    request_id = response.headers["x-request-id"]
    assert uuid.UUID(hex=request_id).hex == request_id  # a uuid4's hex: 32 digits
    assert uuid.UUID(hex=request_id).version == 4
    assert [name for name, _ in response.header_lists].count("x-request-id") == 1
    (handled,) = collected.named("app.handlers")
    assert handled.context["request_id"] == request_id
    assert handled.metadata["seen_id"] == request_id
    (access,) = collected.access()
    assert access.context["request_id"] == request_id
    assert access.level == "INFO"
    assert {key: access.metadata[key] for key in ("method", "path", "status")} == {
        "method": "GET",
        "path": "/hello",
        "status": 200,
    }
    assert isinstance(access.metadata["duration_ms"], float)
    assert access.metadata["duration_ms"] >= 0
    assert access.message.startswith("GET /hello 200 ")
    assert "secret-query" not in repr(collected.entries)


@pytest.mark.parametrize(
    ("incoming", "kept"),
    [
        (VALID_ID, True),
        ("a", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("has space", False),
        ("semi;colon", False),
        ('quote"d', False),
        ("caf\u00e9", False),
    ],
)
async def test_incoming_ids_are_reused_only_when_valid(
    collected: Collected, incoming: str, kept: bool
) -> None:
    async with uvicorn_server(context_app()) as port:
        response = await asyncio.to_thread(
            request, port, "/x", headers={"X-Request-ID": incoming.encode().decode("latin-1")}
        )
    request_id = response.headers["x-request-id"]
    assert (request_id == incoming) is kept
    if not kept:
        assert len(request_id) == 32
    assert collected.access()[0].context["request_id"] == request_id


@pytest.mark.parametrize("order", ["context-outside", "problems-outside"])
async def test_problem_body_header_and_logs_share_the_id(collected: Collected, order: str) -> None:
    if order == "context-outside":
        app: Any = RequestContextMiddleware(ProblemDetailsMiddleware(routed))
    else:
        app = ProblemDetailsMiddleware(RequestContextMiddleware(routed))
    async with uvicorn_server(app) as port:
        missing = await fetch(port, "/missing", {"X-Request-ID": VALID_ID})
        crash = await fetch(port, "/crash")
    assert missing.status == 404
    assert missing.json()["request_id"] == missing.headers["x-request-id"] == VALID_ID
    crash_id = crash.headers["x-request-id"]
    assert crash.status == 500
    assert crash.json()["request_id"] == crash_id
    assert [name for name, _ in crash.header_lists].count("x-request-id") == 1
    statuses = {
        entry.context["request_id"]: entry.metadata["status"] for entry in collected.access()
    }
    assert statuses == {VALID_ID: 404, crash_id: 500}


async def test_the_error_record_carries_the_request_context(collected: Collected) -> None:
    app = RequestContextMiddleware(
        ProblemDetailsMiddleware(routed, logger=get_logger("app.errors"))
    )
    async with uvicorn_server(app) as port:
        crash = await fetch(port, "/crash")
    (record,) = collected.named("app.errors")
    assert record.context["request_id"] == crash.headers["x-request-id"]
    assert record.metadata["request_id"] == crash.headers["x-request-id"]
    assert isinstance(record.exception, RuntimeError)


async def test_concurrent_requests_keep_their_own_ids(collected: Collected) -> None:
    async with uvicorn_server(context_app()) as port:
        responses = await asyncio.gather(
            *(fetch(port, "/yield", {"X-Request-ID": f"parallel-{n}"}) for n in range(8))
        )
    assert sorted(r.headers["x-request-id"] for r in responses) == [
        f"parallel-{n}" for n in range(8)
    ]
    for entry in collected.named("app.handlers"):
        if entry.message == "handling":
            assert entry.metadata["seen_id"] == entry.context["request_id"]
    switched = [
        e.context["request_id"] for e in collected.named("app.handlers") if e.message != "handling"
    ]
    assert sorted(switched) == [f"parallel-{n}" for n in range(8)]


async def test_an_error_with_no_problem_middleware_is_logged_as_500_and_propagates(
    collected: Collected,
) -> None:
    captured: list[MutableMapping[str, Any]] = []
    scope: dict[str, Any] = {"type": "http", "method": "POST", "path": "/crash", "headers": []}
    with pytest.raises(RuntimeError, match="boom"):
        await call_directly(RequestContextMiddleware(routed), scope, captured)
    (access,) = collected.access()
    assert (access.metadata["method"], access.metadata["status"]) == ("POST", 500)
    assert access.metadata["error"] == "RuntimeError"
    assert access.context["request_id"] == scope[REQUEST_ID_KEY]
    assert captured == []


@pytest.mark.parametrize("scope_type", ["lifespan", "websocket"])
async def test_other_scopes_pass_through(collected: Collected, scope_type: str) -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(scope)

    scope: dict[str, Any] = {"type": scope_type}
    await RequestContextMiddleware(app)(scope, None, None)  # type: ignore[arg-type]
    assert seen == [{"type": scope_type}]
    assert collected.access() == []


async def test_access_log_can_be_turned_off_or_sent_elsewhere(
    collected: Collected, recording_logger: Any
) -> None:
    quiet = RequestContextMiddleware(routed, access_log=False)
    elsewhere = RequestContextMiddleware(routed, logger=recording_logger)
    async with uvicorn_server(quiet) as first, uvicorn_server(elsewhere) as second:
        await fetch(first, "/a")
        await fetch(second, "/b")
    assert collected.access() == []
    (line,) = recording_logger.records
    assert (line.level, line.metadata["path"], line.metadata["status"]) == ("info", "/b", 200)


async def test_custom_header_name(collected: Collected) -> None:
    app = RequestContextMiddleware(
        ProblemDetailsMiddleware(routed, request_id_header="X-Correlation-ID"),
        request_id_header="X-Correlation-ID",
    )
    async with uvicorn_server(app) as port:
        response = await fetch(port, "/missing", {"X-Correlation-ID": "corr-9"})
    assert response.headers["x-correlation-id"] == "corr-9"
    assert response.json()["request_id"] == "corr-9"
    assert "x-request-id" not in response.headers


async def test_on_complete_gets_method_final_status_and_duration(collected: Collected) -> None:
    completed: list[tuple[str, int, float]] = []

    def on_complete(method: str, status: int, seconds: float) -> None:
        completed.append((method, status, seconds))

    app = RequestContextMiddleware(
        ProblemDetailsMiddleware(routed), access_log=False, on_complete=on_complete
    )
    async with uvicorn_server(app) as port:
        for path in ("/hello", "/missing", "/crash"):
            await fetch(port, path)
    assert [(method, status) for method, status, _ in completed] == [
        ("GET", 200),
        ("GET", 404),
        ("GET", 500),
    ]
    assert all(0 < seconds < 10 for _, _, seconds in completed)
    assert collected.access() == []


async def test_on_complete_and_the_access_line_agree_when_the_app_raises(
    collected: Collected,
) -> None:
    completed: list[tuple[str, int]] = []
    app = RequestContextMiddleware(routed, on_complete=lambda m, s, _: completed.append((m, s)))
    scope: dict[str, Any] = {"type": "http", "method": "DELETE", "path": "/missing"}
    with pytest.raises(NotFoundError):
        await call_directly(app, scope)
    (access,) = collected.access()
    assert completed == [("DELETE", 404)] == [("DELETE", access.metadata["status"])]


@pytest.mark.parametrize(
    "name",
    [b"x-request-id", b"X-Request-ID", b"X-REQUEST-ID", bytearray(b"X-Request-Id")],
    ids=["lower", "mixed", "upper", "bytearray"],
)
async def test_the_incoming_id_is_found_whatever_the_case_of_the_header_name(
    collected: Collected, name: bytes | bytearray
) -> None:
    headers = [(b"host", b"x"), (b"accept", b"*/*"), (name, b"from-the-client")]
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/", "headers": headers}
    sent = await call_directly(RequestContextMiddleware(routed), scope)
    assert (b"x-request-id", b"from-the-client") in sent[0]["headers"]
    assert collected.access()[0].context["request_id"] == "from-the-client"
