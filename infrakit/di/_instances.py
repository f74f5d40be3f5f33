"""What the container built: singletons made once under concurrency, and closed in reverse."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from infrakit.di._chain import CHAIN, Step, WaitGraph, cycle_error, loop_in, waiting_build
from infrakit.di._compile import Node, start_generator
from infrakit.di._errors import AsyncResolutionRequiredError, ContainerClosedError
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
        self._waits = WaitGraph()
        self._closer: concurrent.futures.Future[None] | None = None

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
        """The async getter of a singleton: concurrent first calls share one build task.

        The build runs in its own task (a cancelled caller does not cancel it), which
        inherits the caller's resolution chain, so a factory that reaches itself again,
        through any number of tasks, is a `CircularDependencyError`, never a deadlock.
        """
        built, pending, key = self.built, self._pending, node.key

        async def aget() -> Any:
            try:
                return built[key]
            except KeyError:
                pass
            chain = self.enter_check(node)
            task = pending.get(key)
            if task is None:
                self.ensure_open()
                task = asyncio.ensure_future(self._acreate(node))
                pending[key] = task
                task.add_done_callback(lambda done: _forget(pending, key, done))
            return await self._await_build(chain, node, task)

        return aget

    def transient_getter(self, node: Node) -> Callable[[], Awaitable[Any]]:
        """The async getter of a transient: a new component each time, cycles refused."""
        acall = node.acall
        assert acall is not None

        async def aget() -> Any:
            step, token = self.push(self.enter_check(node), node)
            try:
                instance, _ = await acall()
            finally:
                step.done = True
                CHAIN.reset(token)
            return instance

        return aget

    def enter_check(self, node: Node) -> tuple[Step, ...]:
        """The current chain, after checking that `node` is not already being built in it.

        Raises:
            CircularDependencyError: this flow is inside the build of `node` already.
        """
        chain = CHAIN.get()
        loop = loop_in(chain, self, node.key)
        if loop is not None:
            raise cycle_error([*loop, node.name])
        return chain

    def push(
        self, chain: tuple[Step, ...], node: Node
    ) -> tuple[Step, contextvars.Token[tuple[Step, ...]]]:
        """Enter the build of `node` in this flow; the caller marks the step done after."""
        step = Step(self, node.key, node.name)
        return step, CHAIN.set((*chain, step))

    async def _await_build(
        self, chain: tuple[Step, ...], node: Node, task: asyncio.Future[Any]
    ) -> Any:
        waiter = waiting_build(chain, self)
        if waiter is None:
            return await asyncio.shield(task)  # a cancelled caller does not cancel the build
        self._waits.add(waiter, node.key, node.name)
        try:
            return await asyncio.shield(task)
        finally:
            self._waits.remove(waiter, node.key)

    def _create(self, node: Node) -> Any:
        """Build a singleton once, even when several threads ask at the same moment."""
        with self._key_lock(node.key):
            if node.key in self.built:
                return self.built[node.key]
            self.ensure_open()
            step, token = self.push(self.enter_check(node), node)
            try:
                instance, raw = node.call(), None
                if node.kind is Kind.GENERATOR:
                    raw, instance = instance, start_generator(instance, node.name)
            finally:
                step.done = True
                CHAIN.reset(token)
            resource = resource_for(node.name, node.kind, instance, raw)
            shared = self._keep(node.key, instance, resource)
            if shared is not instance:
                if resource is not None:
                    self._close_sync(resource)
                self.ensure_open()
            return shared

    async def _acreate(self, node: Node) -> Any:
        assert node.acall is not None
        step, _ = self.push(CHAIN.get(), node)  # this task's own context: nothing to reset
        try:
            instance, raw = await node.acall()
        finally:
            step.done = True
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
        """Close every resource once, newest first; a concurrent call waits for the first.

        A cancelled `aclose` leaves the resources it had not reached to the next call.
        """
        while True:
            with self._lock:
                self.closed = True
                self.built.clear()
                running = self._closer
                if running is None:
                    if not self.resources:
                        return
                    running = self._closer = concurrent.futures.Future()
                    mine = True
                else:
                    mine = False
            if not mine:
                await asyncio.shield(asyncio.wrap_future(running))
                continue
            try:
                while (resource := self._next_to_close()) is not None:
                    await self._close(resource)
            finally:
                with self._lock:
                    self._closer = None
                if not running.done():
                    running.set_result(None)

    def _next_to_close(self) -> Resource | None:
        with self._lock:
            return self.resources.pop() if self.resources else None

    def close(self) -> None:
        with self._lock:
            if self._closer is not None:  # an aclose() is closing them: it finishes the job
                self.closed = True
                self.built.clear()
                return
            blocking = [resource.name for resource in self.resources if needs_async_close(resource)]
            if blocking:
                raise AsyncResolutionRequiredError(
                    f"{', '.join(blocking)} can only be closed asynchronously; "
                    "use `await container.aclose()`",
                    details={"components": blocking},
                )
            self.closed = True
            self.built.clear()
            resources, self.resources = self.resources, []
        for resource in reversed(resources):
            self._close_sync(resource)

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
        self._log().exception(message, component=component)

    def note(self, message: str, component: str, *, warning: bool = False) -> None:
        """Log an event about a component (a health check failing or recovering)."""
        log = self._log()
        (log.warning if warning else log.info)(message, component=component)

    def _log(self) -> Logger:
        if self._logger is None:
            from infrakit.log import get_logger

            self._logger = get_logger("infrakit.di")
        return self._logger


def _forget(pending: dict[Any, asyncio.Future[Any]], key: Any, done: asyncio.Future[Any]) -> None:
    if pending.get(key) is done:
        del pending[key]
    if not done.cancelled():
        done.exception()  # retrieved here so an abandoned failure is not reported twice
