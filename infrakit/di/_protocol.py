"""The container contract: what the builder and other modules may rely on."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self, TypeVar, overload, runtime_checkable

__all__ = ["ComponentHealth", "Container", "ContainerStats", "HealthCheck", "Scope"]

T = TypeVar("T")

HealthCheck = Callable[[Any], object]
"""Takes the component; returns None/True (healthy), False, an awaitable of those, or raises."""


class Scope(enum.Enum):
    """How long a built component lives."""

    SINGLETON = "singleton"
    """Built once, on first resolve, shared, and closed by the container."""

    TRANSIENT = "transient"
    """Built on every resolve; the caller owns it (the container never closes it)."""


@dataclass(frozen=True, slots=True)
class ComponentHealth:
    """The result of one component's health check."""

    name: str
    healthy: bool
    latency_ms: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ContainerStats:
    """A snapshot of what the container holds."""

    registrations: int
    singletons_built: int
    resources_to_close: int
    plans_compiled: int
    closed: bool


@runtime_checkable
class Container(Protocol):
    """Registers components by interface and builds them with their dependencies.

    Sync methods never await; their async twins carry an `a` prefix
    (`resolve`/`aresolve`, `close`/`aclose`).
    """

    def register(
        self,
        interface: Any,
        provider: Any = ...,
        /,
        *,
        instance: Any = ...,
        scope: Scope = Scope.SINGLETON,
        health: HealthCheck | None = None,
        name: str | None = None,
        **arguments: Any,
    ) -> None:
        """Map `interface` to a class, a factory or an instance (`arguments`: fixed ones)."""
        ...

    def is_registered(self, interface: Any) -> bool:
        """True when `interface` has a registration."""
        ...

    @overload
    def resolve(self, interface: type[T], /, **overrides: Any) -> T: ...

    @overload
    def resolve(self, interface: object, /, **overrides: Any) -> Any: ...

    def resolve(self, interface: Any, /, **overrides: Any) -> Any:
        """Return the component registered for `interface`, building it if needed."""
        ...

    @overload
    async def aresolve(self, interface: type[T], /, **overrides: Any) -> T: ...

    @overload
    async def aresolve(self, interface: object, /, **overrides: Any) -> Any: ...

    async def aresolve(self, interface: Any, /, **overrides: Any) -> Any:
        """Like `resolve`, and also runs async and async-generator factories."""
        ...

    async def health(self, *, check_timeout: float | None = None) -> Mapping[str, ComponentHealth]:
        """Run every health check of a built component, each bounded by `check_timeout` seconds."""
        ...

    def get_stats(self) -> ContainerStats:
        """What the container holds right now: synchronous, cheap, a frozen snapshot."""
        ...

    def close(self) -> None:
        """Close what the container built, when none of it needs `aclose`."""
        ...

    async def aclose(self) -> None:
        """Close what the container built, in reverse creation order."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...
