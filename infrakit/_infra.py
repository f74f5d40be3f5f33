"""`Infra`: the composed components' one lifecycle (start in order, stop in reverse).

The builder (`infrakit._builder`) decides what the components are; this module only
runs them: rollback on a failed start, one stop at a time, registration and health.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from infrakit._internal.blocking import drive
from infrakit.config import ConfigReader
from infrakit.di import ComponentHealth, Container
from infrakit.errors import InitializationError
from infrakit.log import Logger

if TYPE_CHECKING:
    from infrakit._builder import InfraBuilder
    from infrakit.cache import Cache
    from infrakit.db import Database
    from infrakit.jobs import JobQueue
    from infrakit.media import MediaProcessor
    from infrakit.pubsub import PubSubService
    from infrakit.storage import StorageProvider

__all__ = ["Component", "Hook", "Infra", "settled"]

Hook = Callable[[Any], Awaitable[object]]
"""A component's start, stop or health: a coroutine function called with the instance."""


@dataclass(frozen=True, slots=True)
class Component:
    """A service the builder adds: created at build time, started and stopped by `Infra`."""

    name: str
    interface: type[Any]
    create: Callable[[ConfigReader, Logger], Any]
    start: Hook | None = None
    stop: Hook | None = None
    health: Hook | None = None

    @classmethod
    def service(
        cls,
        name: str,
        interface: type[Any],
        create: Callable[[ConfigReader, Logger], Any],
        start: Hook | None = None,
        stop: Hook | None = None,
    ) -> Component:
        """A component stopped by its `close()` (unless `stop`) and pinged by `health()`.

        Either form: the blocking one's methods return their result, not a coroutine.
        """
        close: Hook = stop or (lambda instance: settled(instance.close()))
        return cls(name, interface, create, start, close, lambda one: settled(one.health()))


class Infra:
    """The composed infrastructure: an async context manager that starts and stops it.

    Components start in the order they were added and stop in reverse; a component
    that fails to start stops the ones already started and raises `InitializationError`.
    """

    def __init__(
        self,
        config: ConfigReader,
        logger: Logger,
        container: Container,
        components: list[Component],
        instances: dict[str, Any],
    ) -> None:
        self.config = config
        self.log = logger
        self.container = container
        self._components = components
        self._instances = instances
        self._started: list[Component] = []
        # One stop at a time: a signal handler and `__aexit__` may both call stop(), and
        # two interleaved stops would close components out of order.
        self._stopping = asyncio.Lock()

    @staticmethod
    def builder(env: str | None = None, *, directory: str | Path = ".") -> InfraBuilder:
        """Start composing: `Infra.builder(env="production").with_logging().build()`."""
        from infrakit._builder import InfraBuilder

        return InfraBuilder(env, directory=directory)

    @property
    def database(self) -> Database:
        """The `Database` added with `with_database()`."""
        return self.component("database")  # type: ignore[no-any-return]

    @property
    def cache(self) -> Cache:
        """The `Cache` added with `with_cache()`."""
        return self.component("cache")  # type: ignore[no-any-return]

    @property
    def storage(self) -> StorageProvider:
        """The `StorageProvider` added with `with_storage()`."""
        return self.component("storage")  # type: ignore[no-any-return]

    @property
    def jobs(self) -> JobQueue:
        """The `JobQueue` added with `with_jobs()`."""
        return self.component("jobs")  # type: ignore[no-any-return]

    @property
    def media(self) -> MediaProcessor:
        """The `MediaProcessor` added with `with_media()`."""
        return self.component("media")  # type: ignore[no-any-return]

    @property
    def pubsub(self) -> PubSubService:
        """The `PubSubService` added with `with_pubsub()`."""
        return self.component("pubsub")  # type: ignore[no-any-return]

    def component(self, name: str) -> Any:
        """The component added under `name`.

        Raises:
            InitializationError: nothing was added under that name.
        """
        try:
            return self._instances[name]
        except KeyError:
            raise InitializationError(
                f"no {name} was added to the builder; add it (with_{name}()) before build()",
                details={"component": name},
            ) from None

    async def start(self) -> None:
        """Open every component in order; on failure, close what was opened."""
        for component in self._components:
            instance = self._instances[component.name]
            try:
                if component.start is not None:
                    await component.start(instance)
            except Exception as error:
                await self.stop()
                raise InitializationError(
                    f"{component.name} failed to start", details={"component": component.name}
                ) from error
            self._started.append(component)
            self._register(component, instance)
        self.log.info("infrastructure started", components=[c.name for c in self._started])

    async def stop(self) -> None:
        """Close the started components in reverse order; one failure does not stop the rest.

        Logs one line, `infrastructure stopped`, naming what stopped, what failed to stop
        (each failure is also logged with its traceback) and how many resources the
        container closed. A concurrent call waits for the first; a later one does nothing.
        """
        async with self._stopping:
            if not self._started:
                await self.container.aclose()
                return
            stopped, failed = await self._stop_components()
            closed = self.container.get_stats().resources_to_close
            await self.container.aclose()
            self.log.info(
                "infrastructure stopped",
                components=stopped,
                failed=failed,
                resources_closed=closed,
            )

    async def _stop_components(self) -> tuple[list[str], list[str]]:
        stopped: list[str] = []
        failed: list[str] = []
        while self._started:
            component = self._started.pop()
            try:
                if component.stop is not None:
                    await component.stop(self._instances[component.name])
            except Exception:
                self.log.exception("component failed to stop", component=component.name)
                failed.append(component.name)
            else:
                stopped.append(component.name)
        return stopped, failed

    async def health(self) -> Mapping[str, ComponentHealth]:
        """Ping every started component (bounded by the container's health timeout)."""
        return await self.container.health()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    def start_sync(self) -> None:
        """`start()` for a WSGI app or a script whose components are blocking (`sync=True`).

        Raises:
            InitializationError: a component failed, or needs an event loop.
        """
        _drive(self.start())

    def stop_sync(self) -> None:
        """`stop()` without an event loop; see `start_sync()`."""
        _drive(self.stop())

    def __enter__(self) -> Self:
        self.start_sync()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop_sync()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    def _register(self, component: Component, instance: Any) -> None:
        self.container.register(
            component.interface, instance=instance, health=component.health, name=component.name
        )


async def settled(outcome: Any) -> Any:
    """The result of a call to a component of either form (awaited when it is a coroutine)."""
    return await outcome if inspect.isawaitable(outcome) else outcome


def _drive(coroutine: Coroutine[Any, Any, Any]) -> None:
    """Run `start()` / `stop()` without an event loop: blocking components never suspend."""
    drive(coroutine, _needs_loop)


def _needs_loop() -> InitializationError:
    return InitializationError(
        "a component needs an event loop: use `async with infra` (or add it with sync=True)",
        details={"component": "*"},
    )
