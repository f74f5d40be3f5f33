"""A FastAPI service with infrakit's request context and problem+json errors, in one call.

Run: `cd examples && python fastapi_app.py` (no server needed: the app is called
in-process through httpx's ASGI transport). Each request prints its status, its
`X-Request-ID` and its body, then the JSON log lines it wrote: the handler's own line and
the error record carry the same `request_id` as the header, and every request ends with
one access line (method, path without the query string, status, duration).
"""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import fastapi
import httpx
import pydantic

import infrakit.web.starlette
from infrakit.errors import domain_errors
from infrakit.log import JsonTransport, configure_logging, get_logger, shutdown_logging

UserErrors = domain_errors("User")
log = get_logger("shop.api")


class Signup(pydantic.BaseModel):
    email: str = pydantic.Field(pattern=r"^[^@\s]+@[^@\s]+$")
    password: str = pydantic.Field(min_length=12)


def create_app() -> fastapi.FastAPI:
    app = fastapi.FastAPI()

    @app.get("/users/{user_id}")
    async def get_user(user_id: int) -> dict[str, Any]:
        log.info("looking up a user", user_id=user_id)
        if user_id != 1:
            raise UserErrors.NotFound(user_id)
        return {"id": 1, "name": "Ada"}

    @app.post("/signup")
    async def signup(body: Signup) -> dict[str, str]:
        return {"email": body.email}

    @app.get("/report")
    async def report() -> None:
        raise ZeroDivisionError("revenue / 0 while reading db password=s3cret")

    infrakit.web.starlette.install(app)  # request context + problem details, last
    return app


async def call(
    client: httpx.AsyncClient, lines: io.StringIO, method: str, path: str, **options: Any
) -> httpx.Response:
    """Send one request, print the answer and the log lines it wrote."""
    lines.seek(0)
    lines.truncate()
    response = await client.request(method, path, **options)
    print(
        f"{method} {path} -> {response.status_code} x-request-id={response.headers['x-request-id']}"
    )
    print("   ", response.text)
    for line in lines.getvalue().splitlines():
        record = json.loads(line)
        record.pop("time", None)
        record.pop("exception", None)  # the traceback is there, shortened for the demo
        print("    [log]", json.dumps(record))
    print()
    return response


def expect(condition: bool, what: str) -> None:
    if not condition:
        raise SystemExit(f"unexpected: {what}")


async def main() -> None:
    lines = io.StringIO()
    configure_logging("INFO", format="json", sinks=[JsonTransport(lines)])
    transport = httpx.ASGITransport(app=create_app())
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
            found = await call(
                client,
                lines,
                "GET",
                "/users/1?token=not-logged",
                headers={"X-Request-ID": "req-2024-0001"},
            )
            expect(found.headers["x-request-id"] == "req-2024-0001", "the id is reused")
            missing = await call(client, lines, "GET", "/users/2")
            expect(missing.json()["request_id"] == missing.headers["x-request-id"], "one id")
            expect(missing.json()["code"] == "USER_NOT_FOUND", "a domain error")
            unknown = await call(client, lines, "GET", "/nowhere")
            expect(unknown.json()["code"] == "NOT_FOUND", "a router 404 is a problem")
            wrong = await call(client, lines, "DELETE", "/signup")
            expect(wrong.json()["code"] == "METHOD_NOT_ALLOWED", "a router 405 is a problem")
            invalid = await call(
                client,
                lines,
                "POST",
                "/signup",
                json={"email": "ada-at-example", "password": "hunter2"},
            )
            expect(
                [e["pointer"] for e in invalid.json()["errors"]]
                == ["#/body/email", "#/body/password"],
                "pointers",
            )
            expect("hunter2" not in invalid.text, "no echo")
            malformed = await call(
                client,
                lines,
                "POST",
                "/signup",
                content=b'{"email": ',
                headers={"Content-Type": "application/json"},
            )
            expect(malformed.json()["errors"] == [], "malformed JSON has no pointer")
            crashed = await call(client, lines, "GET", "/report")
            expect(crashed.status_code == 500 and "s3cret" not in crashed.text, "hidden 500")
    finally:
        shutdown_logging()


if __name__ == "__main__":
    asyncio.run(main())
