"""Problem details from a raw ASGI app: domain errors, validation, a crash, debug mode.

Run: `cd examples && python errors_problem_details.py` (no server needed: the app is
called in-process with a tiny ASGI client).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import pydantic

from infrakit.errors import (
    ProblemDetailsMiddleware,
    RateLimitedError,
    ValidationError,
    domain_errors,
)

UserErrors = domain_errors("User")


class Signup(pydantic.BaseModel):
    email: str = pydantic.Field(pattern=r"^[^@]+@[^@]+$")
    password: str = pydantic.Field(min_length=12)


async def app(scope: MutableMapping[str, Any], receive: Any, send: Any) -> None:
    """A raw ASGI app with no framework: each path fails in its own way."""
    path = scope["path"]
    if path.startswith("/users/"):
        raise UserErrors.NotFound(path.removeprefix("/users/"))
    if path == "/signup":
        try:
            Signup(email="not-an-email", password="hunter2")
        except pydantic.ValidationError as error:
            raise ValidationError.from_pydantic(error) from error
    if path == "/search":
        raise RateLimitedError(retry_after=30)
    if path == "/report":
        raise ZeroDivisionError("revenue / 0 while reading db password=s3cret")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def call(asgi_app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> None:
    """Send one GET request to `asgi_app` and print the status, headers and JSON body."""
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": path, "headers": headers}
    await asgi_app(scope, receive, send)
    start, body = sent[0], b"".join(message.get("body", b"") for message in sent[1:])
    shown = {k.decode(): v.decode() for k, v in start["headers"] if k != b"content-length"}
    print(f"GET {path} -> {start['status']} {shown}")
    if shown.get("content-type") == "application/problem+json":
        problem = json.loads(body)
        if "traceback" in problem:
            problem["traceback"] = problem["traceback"].splitlines()[-1] + " (...)"
        print(json.dumps(problem, indent=2))
    else:
        print(body.decode())
    print()


async def main() -> None:
    # The middleware logs to the stdlib logger "infrakit.errors"; in a service, call
    # infrakit.log.intercept_stdlib() to route it into the structured pipeline instead.
    logging.basicConfig(
        stream=sys.stdout,
        level=logging.INFO,
        format="    [server log] %(levelname)s %(message)s",
    )
    production = ProblemDetailsMiddleware(app)
    print("== production ==")
    await call(production, "/users/42", [])
    await call(production, "/signup", [])
    await call(production, "/search", [])
    await call(production, "/report", [(b"x-request-id", b"req-2024-0001")])
    await call(production, "/", [])
    print("== debug=True (development only) ==")
    await call(ProblemDetailsMiddleware(app, debug=True), "/report", [])


if __name__ == "__main__":
    asyncio.run(main())
