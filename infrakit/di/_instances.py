"""What the container built: singletons made once under concurrency, and closed in reverse."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from infrakit.di._compile import Node, start_generator
from infrakit.di._errors import (
    AsyncResolutionRequiredError,
    CircularDependencyError,
    ContainerClosedError,
)
from infrakit.di._lifecycle import (
    Resource,
    close_resource,
    close_resource_sync,
    needs_async_close,
    resource_for,
)
from infrakit.di._plan import Kind
from infrakit.di._registration import MISSING

if TYPE_CHECKING:
    from infrakit.log import Logger

__all__ = ["Instances"]


class Instances:
    """Built singletons by key, plus the resources to close, newest last.

    `built` is read without a lock on the hot path; it is only written under `lock`
    (shared with the container) or under the per-key lock of the singleton being built.
    """

    def __init__(self, lock: threading.RLock, logger: Logger | None) -> None:
        self.built: dict[Any, Any] = {}
        self.resources: list[Resource] = []
        self.closed = False
        self._lock = lock
        self._logger = logger
        self._pending: dict[Any, asyncio.Future[Any]] = {}
        self._key_locks: dict[Any, threading.RLock] = {}
        self._building: set[Any] = set()

    def ensure_open(self) -> None:
        if self.closed:
            raise ContainerClosedError(
                "the container is closed; create a new one instead of resolving from it"
            )

    # -- building -------------------------------------------------------------------

    def getter(self, node: Node) -> Callable[[], Any]:
        """The sync getter of a singleton: a dict hit once built."""
        built, key, create = self.built, node.key, self._create

        def get() -> Any:
            try:
                return built[key]
            except KeyError:
                return create(node)

        return get

    def async_getter(self, node: Node) -> Callable[[], Awaitable[Any]]:
        """The async getter of a singleton: concurrent first calls share one build task."""
        built, pending, key = self.built, self._pending, node.key

        async def aget() -> Any:
            try:
                return built[key]
            except KeyError:
                pass
            task = pending.get(key)
            if task is None:
                self.ensure_open()
                task = asyncio.ensure_future(self._acreate(node))
                pending[key] = task
                task.add_done_callback(lambda done: _forget(pending, key, done))
            elif task is asyncio.current_task():
                raise _self_reference(node)
            return await asyncio.shield(task)  # a cancelled caller does not cancel the build

        return aget

    def _create(self, node: Node) -> Any:
        """Build a singleton once, even when several threads ask at the same moment."""
        with self._key_lock(node.key):
            if node.key in self.built:
                return self.built[node.key]
            self.ensure_open()
            if node.key in self._building:
                raise _self_reference(node)
            self._building.add(node.key)
            try:
                instance, raw = node.call(), None
                if node.kind is Kind.GENERATOR:
                    raw, instance = instance, start_generator(instance, node.name)
            finally:
                self._building.discard(node.key)
            resource = resource_for(node.name, node.kind, instance, raw)
            shared = self._keep(node.key, instance, resource)
            if shared is not instance:
                if resource is not None:
                    self._close_sync(resource)
                self.ensure_open()
            return shared

    async def _acreate(self, node: Node) -> Any:
        assert node.acall is not None
        instance, raw = await node.acall()
        resource = resource_for(node.name, node.kind, instance, raw)
        shared = self._keep(node.key, instance, resource)
        if shared is not instance:
            if resource is not None:
                await self._close(resource)
            self.ensure_open()
        return shared

    def _keep(self, key: Any, instance: Any, resource: Resource | None) -> Any:
        """Store a new singleton; return the instance every caller shares.

        When that is not `instance`, the caller closes what it just built, then raises
        `ContainerClosedError` if the container closed meanwhile (nothing opened during
        shutdown outlives it). The other case is a thread and a task building the same
        singleton at once (the sync and async paths do not share a lock): the first one
        stored wins, so callers still share one instance.
        """
        with self._lock:
            if self.closed:
                return MISSING
            if key in self.built:
                return self.built[key]
            self.built[key] = instance
            if resource is not None:
                self.resources.append(resource)
            return instance

    def _key_lock(self, key: Any) -> threading.RLock:
        lock = self._key_locks.get(key)
        if lock is None:
            with self._lock:
                lock = self._key_locks.setdefault(key, threading.RLock())
        return lock

    # -- closing --------------------------------------------------------------------

    async def aclose(self) -> None:
        for resource in reversed(self._shut()):
            await self._close(resource)

    def close(self) -> None:
        with self._lock:
            blocking = [resource.name for resource in self.resources if needs_async_close(resource)]
            if blocking:
                raise AsyncResolutionRequiredError(
                    f"{', '.join(blocking)} can only be closed asynchronously; "
                    "use `await container.aclose()`",
                    details={"components": blocking},
                )
            resources = self._shut()
        for resource in reversed(resources):
            self._close_sync(resource)

    def _shut(self) -> list[Resource]:
        with self._lock:
            if self.closed:
                return []
            self.closed = True
            resources, self.resources = self.resources, []
            self.built.clear()
            return resources

    async def _close(self, resource: Resource) -> None:
        try:
            await close_resource(resource)
        except Exception:
            self.report("component failed to close", resource.name)

    def _close_sync(self, resource: Resource) -> None:
        try:
            if needs_async_close(resource):
                raise AsyncResolutionRequiredError(f"{resource.name} needs aclose()")
            close_resource_sync(resource)
        except Exception:
            self.report("component failed to close", resource.name)

    def report(self, message: str, component: str) -> None:
        """Log the exception being handled; called from `except` blocks only."""
        if self._logger is None:
            from infrakit.log import get_logger

            self._logger = get_logger("infrakit.di")
        self._logger.exception(message, component=component)


def _self_reference(node: Node) -> CircularDependencyError:
    return CircularDependencyError(
        f"{node.name} asked for itself while being built (its factory resolves it)",
        details={"component": node.name},
    )


def _forget(pending: dict[Any, asyncio.Future[Any]], key: Any, done: asyncio.Future[Any]) -> None:
    if pending.get(key) is done:
        del pending[key]
    if not done.cancelled():
        done.exception()  # retrieved here so an abandoned failure is not reported twice
