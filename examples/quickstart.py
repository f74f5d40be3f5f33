"""Quickstart: the builder on embedded defaults.

Configuration comes from `examples/.env`, logs are structured, the cache is the
in-memory one, and a domain error travels through the ASGI problem-details
middleware to become an RFC 9457 response. Run it with `make demo`.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from infrakit import Infra
from infrakit.errors import ProblemDetailsMiddleware, domain_errors

UserErrors = domain_errors("User")


async def users_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A raw ASGI app standing in for any framework: the user is never there."""
    user_id = scope["path"].rsplit("/", 1)[-1]
    raise UserErrors.NotFound(user_id)


async def call_asgi(app: Any, path: str) -> tuple[int, dict[str, Any]]:
    """Call an ASGI app in-process, as a server would, and return status and JSON body."""
    scope = {"type": "http", "method": "GET", "path": path, "headers": [], "query_string": b""}
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    body = b"".join(message.get("body", b"") for message in sent[1:])
    return sent[0]["status"], json.loads(body)


async def main() -> None:
    infra = Infra.builder(directory=".").with_config().with_logging().with_cache().build()
    async with infra:
        greeting = infra.config.get_str("GREETING")
        infra.log.info("started", app=infra.config.get_str("APP_NAME"), greeting=greeting)

        await infra.cache.set("greeting", greeting, ttl=60)
        assert await infra.cache.get("greeting") == greeting

        health = await infra.health()
        print("health:", {name: status.healthy for name, status in health.items()})

        status, problem = await call_asgi(ProblemDetailsMiddleware(users_app), "/users/42")
        print(f"GET /users/42 -> {status}", json.dumps(problem))
        assert status == 404
        assert problem["code"] == "USER_NOT_FOUND"


if __name__ == "__main__":
    asyncio.run(main())
