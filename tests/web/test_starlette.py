"""infrakit.web.starlette.install on real Starlette and FastAPI apps, served by uvicorn."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import fastapi
import pydantic
import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

import infrakit.web.starlette
from infrakit.errors import REQUEST_ID_KEY, ConflictError, NotFoundError
from infrakit.log import get_logger
from tests.web.helpers import VALID_ID, Collected, request, uvicorn_server

PROBLEM_JSON = "application/problem+json"
SECRET = "hunter2-Sup3rS3cret"
app_logger = get_logger("app.handlers")


async def hello(request: Request) -> PlainTextResponse:
    app_logger.info("hello", seen_id=request.scope[REQUEST_ID_KEY])
    return PlainTextResponse("hello")


async def forbidden(request: Request) -> PlainTextResponse:
    raise HTTPException(403, "Members only.", headers={"X-Reason": "members"})


async def unavailable(request: Request) -> PlainTextResponse:
    raise HTTPException(503, f"database at {SECRET} is down")


async def missing_user(request: Request) -> PlainTextResponse:
    raise NotFoundError("No such user.")


async def crash(request: Request) -> PlainTextResponse:
    raise RuntimeError(f"password={SECRET}")


def starlette_app() -> Starlette:
    app = Starlette(
        routes=[
            Route("/hello", hello),
            Route("/only-post", hello, methods=["POST"]),
            Route("/forbidden", forbidden),
            Route("/unavailable", unavailable),
            Route("/users/1", missing_user),
            Route("/crash", crash),
        ]
    )
    infrakit.web.starlette.install(app)
    return app


async def get(port: int, path: str, **options: Any) -> Any:
    return await asyncio.to_thread(request, port, path, **options)


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status
    assert response.headers["content-type"] == PROBLEM_JSON
    problem: dict[str, Any] = response.json()
    assert (problem["status"], problem["code"]) == (status, code)
    assert problem["request_id"] == response.headers["x-request-id"]
    assert [name for name, _ in response.header_lists].count("x-request-id") == 1
    assert SECRET not in response.body.decode()
    return problem


async def test_starlette_router_errors_become_problems(collected: Collected) -> None:
    async with uvicorn_server(starlette_app()) as port:
        unknown = await get(port, "/nowhere?token=x", headers={"X-Request-ID": VALID_ID})
        wrong_method = await get(port, "/only-post")
        forbidden = await get(port, "/forbidden")
        unavailable = await get(port, "/unavailable")
    problem = assert_problem(unknown, 404, "NOT_FOUND")
    assert problem == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found",
        "code": "NOT_FOUND",
        "instance": "/nowhere",
        "request_id": VALID_ID,
    }
    assert assert_problem(wrong_method, 405, "METHOD_NOT_ALLOWED")["detail"] == (
        "Method Not Allowed"
    )
    assert wrong_method.headers["allow"] == "POST"
    assert assert_problem(forbidden, 403, "FORBIDDEN")["detail"] == "Members only."
    assert forbidden.headers["x-reason"] == "members"
    problem = assert_problem(unavailable, 503, "SERVICE_UNAVAILABLE")
    assert problem["detail"] == "An internal error occurred."  # a 5xx detail stays hidden
    (error_record,) = [e for e in collected.named("infrakit.errors") if e.level == "ERROR"]
    assert error_record.context["request_id"] == unavailable.headers["x-request-id"]
    statuses = [entry.metadata["status"] for entry in collected.access()]
    assert statuses == [404, 405, 403, 503]


async def test_starlette_app_errors_and_success(collected: Collected) -> None:
    async with uvicorn_server(starlette_app()) as port:
        hello_response = await get(port, "/hello", headers={"X-Request-ID": VALID_ID})
        missing = await get(port, "/users/1")
        crashed = await get(port, "/crash")
    assert (hello_response.status, hello_response.body) == (200, b"hello")
    assert hello_response.headers["x-request-id"] == VALID_ID
    (hello_record,) = collected.named("app.handlers")
    assert hello_record.context["request_id"] == hello_record.metadata["seen_id"] == VALID_ID
    assert assert_problem(missing, 404, "NOT_FOUND")["detail"] == "No such user."
    problem = assert_problem(crashed, 500, "INTERNAL_ERROR")
    (crash_record,) = [e for e in collected.named("infrakit.errors") if e.level == "ERROR"]
    assert crash_record.context["request_id"] == problem["request_id"]
    assert isinstance(crash_record.exception, RuntimeError)


class Signup(pydantic.BaseModel):
    email: str = pydantic.Field(pattern=r"^[^@]+@[^@]+$")
    password: str = pydantic.Field(min_length=12)
    age: int = pydantic.Field(ge=18)

    @pydantic.field_validator("password")
    @classmethod
    def no_name(cls, value: str) -> str:
        if "hunter" in value:
            raise ValueError(f"{value} contains a name")
        return value


def fastapi_app() -> fastapi.FastAPI:
    app = fastapi.FastAPI()

    @app.post("/signup")
    async def signup(body: Signup) -> dict[str, str]:
        return {"email": body.email}

    @app.get("/items")
    async def items(limit: int = fastapi.Query(le=100)) -> dict[str, int]:
        return {"limit": limit}

    @app.get("/teapot")
    async def teapot() -> None:
        raise fastapi.HTTPException(418, detail={"brew": "tea", "api_key": SECRET})

    @app.get("/crash")
    async def crash_route() -> None:
        raise RuntimeError(SECRET)

    infrakit.web.starlette.install(app)
    return app


async def test_fastapi_validation_errors_are_422_problems_with_pointers(
    collected: Collected,
) -> None:
    bad = {"email": f"{SECRET}-no-at", "password": f"{SECRET}", "age": SECRET}
    async with uvicorn_server(fastapi_app()) as port:
        invalid = await get(
            port,
            "/signup",
            method="POST",
            body=json.dumps(bad).encode(),
            headers={"Content-Type": "application/json", "X-Request-ID": VALID_ID},
        )
        malformed = await get(
            port,
            "/signup",
            method="POST",
            body=b'{"email": "a@b.c", "password": ' + SECRET.encode(),
            headers={"Content-Type": "application/json"},
        )
        query = await get(port, "/items?limit=1000")
        good = await get(port, "/items?limit=5")
    problem = assert_problem(invalid, 422, "VALIDATION_ERROR")
    assert problem["request_id"] == VALID_ID
    assert problem["errors"] == [
        {"pointer": "#/body/email", "detail": "String should match pattern '^[^@]+@[^@]+$'"},
        {"pointer": "#/body/password", "detail": "Value error"},
        {
            "pointer": "#/body/age",
            "detail": ("Input should be a valid integer, unable to parse string as an integer"),
        },
    ]
    problem = assert_problem(malformed, 422, "VALIDATION_ERROR")
    assert (problem["detail"], problem["errors"]) == ("The body is not valid JSON.", [])
    problem = assert_problem(query, 422, "VALIDATION_ERROR")
    assert problem["errors"] == [
        {"pointer": "#/query/limit", "detail": "Input should be less than or equal to 100"}
    ]
    assert (good.status, good.json()) == (200, {"limit": 5})
    assert [entry.metadata["status"] for entry in collected.access()] == [422, 422, 422, 200]


async def test_fastapi_http_exception_details_and_crashes(collected: Collected) -> None:
    async with uvicorn_server(fastapi_app()) as port:
        teapot = await get(port, "/teapot")
        crashed = await get(port, "/crash")
        unknown = await get(port, "/nowhere")
    problem = assert_problem(teapot, 418, "HTTP_418")
    assert problem["details"] == {"detail": {"brew": "tea", "api_key": "***"}}
    assert_problem(crashed, 500, "INTERNAL_ERROR")
    assert_problem(unknown, 404, "NOT_FOUND")


async def test_install_composes_with_the_users_own_middleware(collected: Collected) -> None:
    seen: list[Any] = []

    class Tagging:
        def __init__(self, app: Any) -> None:
            self.app = app

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            seen.append(scope.get(REQUEST_ID_KEY))
            await self.app(scope, receive, send)

    app = Starlette(routes=[Route("/hello", hello)])
    app.add_middleware(Tagging)
    infrakit.web.starlette.install(app)  # after the user's: the context covers them
    async with uvicorn_server(app) as port:
        response = await get(port, "/hello")
    assert seen == [response.headers["x-request-id"]]


@pytest.mark.parametrize("status", [301, 304])
async def test_non_error_http_exceptions_answer_as_starlette_does(
    status: int, collected: Collected
) -> None:
    async def moved(request: Request) -> PlainTextResponse:
        raise HTTPException(status, headers={"Location": "/hello"})

    app = Starlette(routes=[Route("/old", moved)])
    infrakit.web.starlette.install(app)
    async with uvicorn_server(app) as port:
        response = await get(port, "/old")
    assert response.status == status
    assert response.headers["location"] == "/hello"
    assert response.body == b""


async def test_faulty_errors_still_answer_with_well_formed_problems(collected: Collected) -> None:
    class Unprintable:
        def __str__(self) -> str:
            raise RuntimeError(SECRET)

        __repr__ = __str__

    deep: dict[str, Any] = {}
    for _ in range(5_000):
        deep = {"child": deep}
    app = fastapi.FastAPI()

    @app.get("/conflict")
    async def conflict() -> None:
        raise ConflictError("Taken.", details={"password": SECRET, "deep": deep})

    @app.get("/odd-detail")
    async def odd_detail() -> None:
        raise fastapi.HTTPException(400, detail={"who": Unprintable(), "ratio": float("nan")})

    infrakit.web.starlette.install(app)
    async with uvicorn_server(app) as port:
        conflict_response = await get(port, "/conflict")
        odd = await get(port, "/odd-detail")
    problem = assert_problem(conflict_response, 409, "CONFLICT")
    assert problem["details"]["password"] == "***"
    problem = assert_problem(odd, 400, "BAD_REQUEST")
    assert problem["details"] == {"detail": {"who": "<unprintable Unprintable>", "ratio": "nan"}}


async def test_the_apps_own_status_handlers_answer_first(collected: Collected) -> None:
    async def own_404(request: Request, exc: Exception) -> PlainTextResponse:
        return PlainTextResponse("our own 404", status_code=404)

    app = Starlette(routes=[Route("/hello", hello)], exception_handlers={404: own_404})
    infrakit.web.starlette.install(app)
    async with uvicorn_server(app) as port:
        response = await get(port, "/nowhere")
    assert (response.status, response.body) == (404, b"our own 404")
    assert len(response.headers["x-request-id"]) == 32
