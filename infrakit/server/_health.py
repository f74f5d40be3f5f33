"""`/livez` and `/readyz`: a status code for machines, a JSON body for humans."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

__all__ = ["Readiness"]

HealthSource = Callable[[], Awaitable[Mapping[str, Any]]]
"""A coroutine function giving `{name: healthy}`; values are bools or `ComponentHealth`."""

_CHECK_TIMEOUT = 5.0


class Readiness:
    """Ready when started, not draining, and every dependency of every source is healthy."""

    def __init__(self) -> None:
        self.sources: list[HealthSource] = []
        self.started = False
        self.draining = False

    async def live(self) -> tuple[int, dict[str, Any]]:
        """Always 200 while the event loop answers: the process is alive."""
        return 200, {"status": "alive", "pid": os.getpid()}

    async def ready(self) -> tuple[int, dict[str, Any]]:
        """200 with every check when ready; 503 naming why not."""
        if self.draining:
            return 503, {"status": "draining"}
        if not self.started:
            return 503, {"status": "starting"}
        checks = await self.checks()
        healthy = all(check["healthy"] for check in checks.values())
        return (200 if healthy else 503), {
            "status": "ready" if healthy else "unavailable",
            "checks": checks,
        }

    async def checks(self) -> dict[str, dict[str, Any]]:
        """Every dependency's health, each source bounded; a failing source counts as unhealthy."""
        results = await asyncio.gather(*(_bounded(source) for source in self.sources))
        merged: dict[str, dict[str, Any]] = {}
        for result in results:
            merged.update(result)
        return merged


async def _bounded(source: HealthSource) -> dict[str, dict[str, Any]]:
    name = getattr(source, "__name__", "health")
    try:
        async with asyncio.timeout(_CHECK_TIMEOUT):
            answers = await source()
    except Exception:
        return {name: {"healthy": False, "error": "the health check failed or timed out"}}
    return {key: _entry(value) for key, value in answers.items()}


def _entry(value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        return {"healthy": value}
    entry: dict[str, Any] = {"healthy": bool(getattr(value, "healthy", False))}
    latency = getattr(value, "latency_ms", None)
    if latency is not None:
        entry["latency_ms"] = round(float(latency), 2)
    error = getattr(value, "error", None)
    if error:
        entry["error"] = str(error)
    return entry
