"""Whatever an error carries, both middlewares answer with a well-formed problem and log it."""

from __future__ import annotations

import asyncio
import datetime
import decimal
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

import pytest

from infrakit.errors import (
    AppError,
    ConflictError,
    ProblemDetailsMiddleware,
    RateLimitedError,
    ServiceError,
    WSGIProblemDetailsMiddleware,
    problem_response,
)
from tests.errors.helpers import call_asgi, fetch, http_scope, raising_app, uvicorn_server
from tests.errors.test_wsgi import call_wsgi

SECRET = "hunter2-very-secret"
MAX_BODY = 256 * 1024


class Unprintable:
    """A value whose `str()` and `repr()` both raise."""

    def __str__(self) -> str:
        raise RuntimeError(SECRET)

    def __repr__(self) -> str:
        raise RuntimeError(SECRET)


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError(SECRET)

    def __repr__(self) -> str:
        raise RuntimeError(SECRET)


class BrokenProblemError(AppError):
    code = "BROKEN_PROBLEM"
    status_code = 400

    def to_problem(self, instance: str | None = None, **options: Any) -> dict[str, Any]:
        raise RuntimeError(SECRET)


class BrokenHeadersError(AppError):
    code = "BROKEN_HEADERS"
    status_code = 409

    @property
    def headers(self) -> dict[str, str]:
        raise RuntimeError(SECRET)


class WrongStatusError(AppError):
    code = "WRONG_STATUS"
    status_code = 400

    def to_problem(self, instance: str | None = None, **options: Any) -> dict[str, Any]:
        return {**super().to_problem(instance), "status": "teapot"}


def nested_dicts(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"child": value}
    return value


def nested_lists(depth: int) -> list[Any]:
    value: list[Any] = []
    for _ in range(depth):
        value = [value]
    return value


def cycle() -> dict[str, Any]:
    value: dict[str, Any] = {"name": "loop"}
    value["self"] = value
    return value


FAULTS: dict[str, Callable[[], BaseException]] = {
    "nested-dicts-10000": lambda: ConflictError("Taken.", details=nested_dicts(10_000)),
    "nested-lists-100000": lambda: ConflictError("Taken.", details={"x": nested_lists(100_000)}),
    "wide-list": lambda: ConflictError("Taken.", details={"rows": list(range(1_000_000))}),
    "wide-dict": lambda: ConflictError("Taken.", details={str(i): i for i in range(100_000)}),
    "long-string": lambda: ConflictError("Taken.", details={"text": "x" * 10_000_000}),
    "cycle": lambda: ConflictError("Taken.", details=cycle()),
    "huge-int": lambda: ConflictError("Taken.", details={"n": 10**5000}),
    "nan-inf": lambda: ConflictError("Taken.", details={"a": float("nan"), "b": float("-inf")}),
    "unjsonable": lambda: ConflictError(
        "Taken.",
        details={
            "set": {1},
            "bytes": b"\xff\xfe",
            "when": datetime.datetime(2024, 1, 2),
            "price": decimal.Decimal("1.10"),
            "complex": 1j,
            (1, 2): "tuple key",  # type: ignore[dict-item]
            None: "none key",  # type: ignore[dict-item]
        },
    ),
    "unprintable-detail": lambda: ConflictError("Taken.", details={"who": Unprintable()}),
    "unprintable-key": lambda: ConflictError("Taken.", details={Unprintable(): 1}),  # type: ignore[dict-item]
    "unprintable-message": lambda: ConflictError(Unprintable()),  # type: ignore[arg-type]
    "unprintable-exception": UnprintableError,
    "lone-surrogate": lambda: ConflictError("caf\ud800", details={"name": "\udcff"}),
    "broken-to-problem": BrokenProblemError,
    "broken-headers": BrokenHeadersError,
    "wrong-status": WrongStatusError,
    "retry-after-huge": lambda: RateLimitedError(retry_after=1e308),
    "retry-after-int-beyond-float": lambda: RateLimitedError(retry_after=10**5000),
    "retry-after-inf": lambda: RateLimitedError(retry_after=float("inf")),
    "retry-after-nan": lambda: RateLimitedError(retry_after=float("nan")),
    "retry-after-string": lambda: RateLimitedError(retry_after="soon"),  # type: ignore[arg-type]
    "secrets-in-details": lambda: ConflictError(
        "Taken.",
        details={
            "password": SECRET,
            "nested": {"api_key": SECRET, "list": [{"accessToken": SECRET}]},
            "Authorization": f"Bearer {SECRET}",
        },
    ),
    "secrets-in-5xx-details-debug": lambda: ServiceError("x", details={"db_password": SECRET}),
}


def assert_well_formed(status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    assert headers["content-type"] == "application/problem+json"
    assert int(headers["content-length"]) == len(body)
    assert len(body) < MAX_BODY
    problem: dict[str, Any] = json.loads(
        body.decode("utf-8"), parse_constant=lambda name: pytest.fail(f"not JSON: {name}")
    )
    assert status == problem["status"]
    assert 400 <= status <= 599
    assert SECRET not in body.decode("utf-8")
    return problem


def assert_logged(caplog: pytest.LogCaptureFixture, request_id: str) -> None:
    records = [record for record in caplog.records if record.name == "infrakit.errors"]
    assert len(records) == 1
    assert records[0].request_id == request_id  # type: ignore[attr-defined]


@pytest.mark.parametrize("fault", FAULTS)
async def test_asgi_always_answers(fault: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="infrakit.errors")
    scope = http_scope(headers=[(b"x-request-id", b"fault-1")])
    app = ProblemDetailsMiddleware(raising_app(FAULTS[fault]()), debug="debug" in fault)
    captured = await call_asgi(app, scope)
    problem = assert_well_formed(captured.status, captured.headers, captured.body)
    assert problem["request_id"] == "fault-1"
    assert_logged(caplog, "fault-1")


@pytest.mark.parametrize("fault", FAULTS)
def test_wsgi_always_answers(fault: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="infrakit.errors")

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise FAULTS[fault]()

    captured = call_wsgi(WSGIProblemDetailsMiddleware(app, debug="debug" in fault), "/x")
    status = int(captured["status"].split()[0])
    headers = {name.lower(): value for name, value in captured["headers"].items()}
    problem = assert_well_formed(status, headers, captured["body"])
    assert_logged(caplog, problem["request_id"])


def test_the_500_of_an_unprintable_exception_is_logged_at_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise UnprintableError

    captured = call_wsgi(WSGIProblemDetailsMiddleware(app), "/x")
    assert captured["json"]["status"] == 500
    (record,) = caplog.records
    assert record.levelno == logging.ERROR
    assert isinstance(record.exc_info and record.exc_info[1], UnprintableError)
    assert record.request_id == captured["json"]["request_id"]  # type: ignore[attr-defined]


def test_a_failing_logger_costs_neither_the_answer_nor_the_record(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class FailingLogger:
        name = "failing"

        def exception(self, message: str, /, **metadata: Any) -> None:
            raise OSError("disk full")

        def debug(self, message: str, /, **metadata: Any) -> None:
            raise OSError("disk full")

    def app(environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raise KeyError("boom")

    middleware = WSGIProblemDetailsMiddleware(app, logger=FailingLogger())  # type: ignore[arg-type]
    captured = call_wsgi(middleware, "/x")
    assert captured["json"]["status"] == 500
    (record,) = caplog.records
    assert record.name == "infrakit.errors"
    assert "the configured logger failed" in record.getMessage()
    assert captured["json"]["request_id"] in record.getMessage()


def test_details_are_cut_at_documented_bounds() -> None:
    error = ConflictError(
        "Taken.",
        details={"deep": nested_dicts(20), "rows": list(range(500)), "text": "y" * 5000},
    )
    problem = json.loads(problem_response(error).body)
    details = problem["details"]
    depth, node = 0, details["deep"]
    while isinstance(node, dict):
        node, depth = node["child"], depth + 1
    assert (depth, node) == (6, "...")  # problem > details > deep: 8 containers in all
    assert details["rows"] == [*range(100), "..."]
    assert details["text"] == "y" * 2000


def test_unjsonable_values_keep_their_text_and_secrets_are_masked() -> None:
    problem = json.loads(problem_response(FAULTS["unjsonable"]()).body)
    assert problem["details"] == {
        "set": [1],
        "bytes": "\ufffd\ufffd",
        "when": "2024-01-02 00:00:00",
        "price": "1.10",
        "complex": "1j",
        "(1, 2)": "tuple key",
        "None": "none key",
    }
    problem = json.loads(problem_response(FAULTS["secrets-in-details"]()).body)
    assert problem["details"] == {
        "password": "***",
        "nested": {"api_key": "***", "list": [{"accessToken": "***"}]},
        "Authorization": "***",
    }
    problem = json.loads(problem_response(FAULTS["unprintable-detail"]()).body)
    assert problem["details"] == {"who": "<unprintable Unprintable>"}


@pytest.mark.parametrize(
    ("retry_after", "header"),
    [
        (30, "30"),
        (0.2, "1"),
        (decimal.Decimal("2.5"), "3"),
        (-5, "0"),
        (1e308, "31536000"),
        (10**5000, None),
        (float("inf"), None),
        (float("nan"), None),
        (True, None),
        ("30", "30"),
        ("soon", None),
        (None, None),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, int) and value > 10**9 else None,
)
def test_retry_after_header(retry_after: Any, header: str | None) -> None:
    status, headers, _ = problem_response(RateLimitedError(retry_after=retry_after))
    assert status == 429
    assert dict(headers).get("retry-after") == header


def test_broken_error_classes_answer_with_safe_problems() -> None:
    status, _, body = problem_response(BrokenProblemError())
    assert (status, json.loads(body)["code"]) == (500, "INTERNAL_ERROR")
    status, headers, body = problem_response(BrokenHeadersError("Taken."))
    assert (status, json.loads(body)["detail"]) == (409, "Taken.")
    assert [name for name, _ in headers] == ["content-type", "content-length"]
    status, _, body = problem_response(WrongStatusError())
    assert status == json.loads(body)["status"] == 500


async def test_faults_over_a_real_server(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="infrakit.errors")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise FAULTS[scope["path"].strip("/")]()

    chosen = ["nested-lists-100000", "unprintable-exception", "lone-surrogate", "wide-list"]
    async with uvicorn_server(ProblemDetailsMiddleware(app)) as port:
        responses = [await asyncio.to_thread(fetch, port, f"/{name}") for name in chosen]
    for response in responses:
        assert_well_formed(response.status, response.headers, response.body)
    assert [record.levelno for record in caplog.records if record.name == "infrakit.errors"] == [
        logging.DEBUG,
        logging.ERROR,
        logging.DEBUG,
        logging.DEBUG,
    ]
