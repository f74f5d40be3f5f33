"""Quickstart: the builder on embedded defaults, in a second or two.

Configuration comes from `examples/.env`; logs are JSON lines (as in production) with
the request's context and a secret masked by value; the in-memory cache memoizes a
slow call and reports its counters; a domain error travels through the ASGI
problem-details middleware to become an RFC 9457 response. Run it with `make demo`.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

from infrakit import Infra
from infrakit.errors import ProblemDetailsMiddleware, domain_errors
from infrakit.log import log_context, register_secret

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


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)


async def main() -> None:
    infra = (
        Infra.builder(directory=".")
        .with_config()
        .with_logging(format="json")  # what production writes; `pretty` is for terminals
        .with_cache()
        .build()
    )
    async with infra:
        greeting = infra.config.get_str("GREETING")
        print(f"env={infra.config.env} greeting={greeting!r}", flush=True)

        section("JSON log lines (on stderr) with context, and secrets masked by value")
        # A token obtained at run time (from a vault, an OAuth exchange...) is registered
        # once; from then on every log line masks it, wherever it shows up. Secrets the
        # configuration loaded (API_TOKEN in .env) are registered by config itself.
        token = f"tok_{secrets.token_hex(12)}"
        register_secret(token)
        with log_context(request_id="req-42", user="ann"):
            infra.log.info(f"calling the payments API with {token}", attempt=1)
            configured = infra.config.get_secret("API_TOKEN").get_secret_value()
            infra.log.warning(f"upstream rejected {configured}", status=401)

        section("a memoized call and the cache's counters")
        calls: list[int] = []

        @infra.cache.memoize(ttl=60)
        async def exchange_rate(currency: str) -> float:
            calls.append(1)
            await asyncio.sleep(0.05)  # stands in for a slow upstream call
            return {"EUR": 1.08, "GBP": 1.27}[currency]

        rates = [await exchange_rate("EUR") for _ in range(3)]
        stats = infra.cache.get_stats()
        print(f"exchange_rate('EUR') x3 = {rates}, computed {len(calls)} time(s)")
        print(f"cache stats: hits={stats.hits} misses={stats.misses} size={stats.size}")
        assert len(calls) == 1

        section("a problem-details error")
        status, problem = await call_asgi(ProblemDetailsMiddleware(users_app), "/users/42")
        print(f"GET /users/42 -> {status}", json.dumps(problem))
        assert status == 404
        assert problem["code"] == "USER_NOT_FOUND"

        health = await infra.health()
        section("health")
        print({name: status.healthy for name, status in health.items()}, flush=True)


if __name__ == "__main__":
    asyncio.run(main())
