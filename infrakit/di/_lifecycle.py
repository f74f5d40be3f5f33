"""Closing what the container built, and running health checks with a time bound."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any

from infrakit.di._plan import Kind
from infrakit.di._protocol import ComponentHealth, HealthCheck
from infrakit.errors import AppError

__all__ = ["Resource", "check_health", "close_resource", "needs_async_close", "resource_for"]


@dataclass(frozen=True, slots=True)
class Resource:
    """Something the container must close: a generator to finish or an object to close."""

    name: str
    target: Any
    kind: Kind


def resource_for(name: str, kind: Kind, instance: Any, raw: Any) -> Resource | None:
    """The resource to remember for a new singleton, or None if it needs no closing."""
    if kind in (Kind.GENERATOR, Kind.ASYNC_GENERATOR):
        return Resource(name, raw, kind)
    if callable(getattr(instance, "aclose", None)) or callable(getattr(instance, "close", None)):
        return Resource(name, instance, Kind.PLAIN)
    return None


def needs_async_close(resource: Resource) -> bool:
    """True when only `aclose()` can close this resource."""
    if resource.kind is Kind.ASYNC_GENERATOR:
        return True
    if resource.kind is Kind.GENERATOR:
        return False
    close = getattr(resource.target, "close", None)
    return not callable(close) or inspect.iscoroutinefunction(close)


async def close_resource(resource: Resource) -> None:
    """Run the teardown: the code after `yield`, or `aclose()` / `close()` (awaited if async)."""
    target = resource.target
    if resource.kind is Kind.ASYNC_GENERATOR:
        await _finish_async_generator(target)
    elif resource.kind is Kind.GENERATOR:
        finish_generator(target)
    else:
        closer = getattr(target, "aclose", None) or target.close
        outcome = closer()
        if inspect.isawaitable(outcome):
            await outcome


def close_resource_sync(resource: Resource) -> None:
    """The sync twin of `close_resource`, for resources where `needs_async_close` is False."""
    if resource.kind is Kind.GENERATOR:
        finish_generator(resource.target)
    else:
        resource.target.close()


def finish_generator(generator: Generator[Any, None, None]) -> None:
    try:
        next(generator)
    except StopIteration:
        return
    generator.close()
    raise RuntimeError("a generator factory must yield exactly once")


async def _finish_async_generator(generator: AsyncGenerator[Any, None]) -> None:
    try:
        await anext(generator)
    except StopAsyncIteration:
        return
    await generator.aclose()
    raise RuntimeError("an async generator factory must yield exactly once")


async def check_health(
    name: str,
    instance: Any,
    check: HealthCheck,
    limit: float,
    report: Callable[[str, str], None],
) -> ComponentHealth:
    """Run one check: never raises, never takes (much) longer than `limit` seconds.

    `report(message, name)` is called inside the `except` block of a failed check, so
    the log gets the full exception while the result only carries a safe summary.
    """
    started = time.perf_counter()
    try:
        outcome = check(instance)
        if inspect.isawaitable(outcome):
            outcome = await _bounded(outcome, limit)
        healthy, error = _interpret(outcome), None
        if not healthy:
            error = "the health check reported the component unhealthy"
    except TimeoutError:
        healthy, error = False, f"the health check timed out after {limit:g} s"
        report("health check timed out", name)
    except Exception as failure:
        healthy, error = False, _summary(failure)
        report("health check failed", name)
    latency_ms = (time.perf_counter() - started) * 1000
    return ComponentHealth(name=name, healthy=healthy, latency_ms=latency_ms, error=error)


async def _bounded(awaitable: Awaitable[Any], limit: float) -> Any:
    """Await with a hard bound: a check that ignores cancellation is abandoned, not awaited."""
    task = asyncio.ensure_future(awaitable)
    try:
        done, _ = await asyncio.wait({task}, timeout=limit)
    finally:
        if not task.done():
            task.cancel()
            task.add_done_callback(_retrieve)
    if not done:
        raise TimeoutError
    return task.result()


def _retrieve(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


def _interpret(outcome: object) -> bool:
    """None or True mean healthy; so does a status object whose `healthy` is True."""
    if outcome is None:
        return True
    if isinstance(outcome, bool):
        return outcome
    healthy = getattr(outcome, "healthy", None)
    return healthy if isinstance(healthy, bool) else True


def _summary(error: Exception) -> str:
    """AppError messages are written to be safe; other messages may hold hosts or DSNs."""
    if isinstance(error, AppError):
        return f"{type(error).__name__} ({error.code}): {error.message}"
    return f"{type(error).__name__} raised by the health check (details in the log)"
