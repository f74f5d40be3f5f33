"""The default container: registrations compiled into plain closures on first resolve."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self, TypeVar, overload

from infrakit.di._compile import Node, compile_async_call, compile_call, refuse_sync
from infrakit.di._errors import (
    CircularDependencyError,
    NotRegisteredError,
    RegistrationError,
    ResolutionError,
)
from infrakit.di._instances import Instances
from infrakit.di._lifecycle import (
    check_health,
)
from infrakit.di._plan import NO_KEY, Kind, Parameter, describe, parameters_of, split_arguments
from infrakit.di._protocol import ComponentHealth, Container, ContainerStats, HealthCheck, Scope
from infrakit.di._registration import MISSING, Registration, make_registration

if TYPE_CHECKING:
    from infrakit.log import Logger

__all__ = ["DependencyContainer", "create_container"]

T = TypeVar("T")


def create_container(*, logger: Logger | None = None, health_timeout: float = 5.0) -> Container:
    """Create an empty container.

    Args:
        logger: where close and health-check failures are logged; defaults to
            `infrakit.log.get_logger("infrakit.di")`, created on first use.
        health_timeout: seconds one health check may take before it counts as failed.

    Returns:
        A `Container`; register components, then `resolve` / `aresolve` them.
    """
    return DependencyContainer(logger=logger, health_timeout=health_timeout)


class DependencyContainer:
    """The default `Container`; see `docs/di.md` for lifecycle and thread-safety rules."""

    def __init__(self, *, logger: Logger | None = None, health_timeout: float = 5.0) -> None:
        self._registrations: dict[Any, Registration] = {}
        self._names: dict[str, Any] = {}  # class name -> class, for string annotations
        self._labels: dict[str, Any] = {}  # component name -> key
        self._nodes: dict[Any, Node] = {}
        self._lock = threading.RLock()
        self._instances = Instances(self._lock, logger)
        self._health_timeout = health_timeout
        # The last outcome per component: a failing check is logged when it starts
        # failing (with the traceback) and when it recovers, not on every probe.
        self._health_state: dict[str, bool] = {}

    # -- registration ---------------------------------------------------------------

    def register(
        self,
        interface: Any,
        provider: Any = MISSING,
        /,
        *,
        instance: Any = MISSING,
        scope: Scope = Scope.SINGLETON,
        health: HealthCheck | None = None,
        name: str | None = None,
        **arguments: Any,
    ) -> None:
        """Map `interface` to a class, a factory or a ready instance.

        Args:
            interface: the key callers resolve, usually an abstract class or Protocol.
            provider: a class (its constructor is injected), a factory function (its
                parameters are injected; sync, async, generator or async generator), or
                any non-callable value (used as the instance). Omitted: `interface`
                is its own implementation.
            instance: a ready object, even a callable one; the caller keeps ownership
                (the container never closes it).
            scope: `Scope.SINGLETON` (default) or `Scope.TRANSIENT`.
            health: called with the component by `health()`.
            name: the component's name in `health()` and messages (default: the
                interface's qualified name).
            **arguments: fixed constructor or factory arguments, passed on every build
                instead of being injected (punq's `register(Greeter, path="/tmp")`).

        Raises:
            RegistrationError: the combination cannot work (see the message).
            ContainerClosedError: the container is closed.
        """
        self.add_registration(interface, provider, instance, scope, health, name, arguments)

    def add_registration(
        self,
        interface: Any,
        provider: Any,
        instance: Any,
        scope: Scope,
        health: HealthCheck | None,
        name: str | None,
        arguments: Mapping[str, Any],
    ) -> None:
        """`register` with the fixed arguments as a mapping (they may be called `name`)."""
        registration = make_registration(
            interface, provider, instance, scope, health, name, arguments
        )
        with self._lock:
            self._instances.ensure_open()
            previous = self._registrations.pop(interface, None)
            if previous is not None:
                self._labels.pop(previous.name, None)
            registration.name = self._unique_name(registration.name, interface)
            self._labels[registration.name] = interface
            self._registrations[interface] = registration
            self._nodes.clear()  # compiled closures captured the previous wiring
            self._instances.built.pop(interface, None)
            if registration.kind is Kind.INSTANCE:
                self._instances.built[interface] = registration.provider
            for named in (interface, registration.provider):
                if isinstance(named, type):
                    self._names.setdefault(named.__name__, named)

    def is_registered(self, interface: Any) -> bool:
        """True when `interface` has a registration (whether or not it was built)."""
        return interface in self._registrations

    def _unique_name(self, name: str, interface: Any) -> str:
        owner = self._labels.get(name)
        if owner is None or owner is interface:
            return name
        qualified = f"{getattr(interface, '__module__', '')}.{name}"
        if qualified in self._labels:
            raise RegistrationError(
                f"the component name {name!r} is taken; pass name=... to register()",
                details={"name": name},
            )
        return qualified

    # -- resolution -----------------------------------------------------------------

    @overload
    def resolve(self, interface: type[T], /, **overrides: Any) -> T: ...
    @overload
    def resolve(self, interface: object, /, **overrides: Any) -> Any: ...
    def resolve(self, interface: Any, /, **overrides: Any) -> Any:
        """Return the component for `interface`, building it and its dependencies if needed.

        Args:
            interface: a registered key.
            **overrides: constructor arguments for this call only; the result is a new,
                untracked instance even for a singleton registration.

        Raises:
            NotRegisteredError: `interface` or a dependency is not registered.
            CircularDependencyError: the dependencies form a cycle.
            AsyncResolutionRequiredError: an async factory is involved; use `aresolve`.
            ContainerClosedError: the container is closed.
            FactoryError: a constructor or factory raised (the error is chained).
        """
        if overrides:
            return self._build_with_overrides(interface, overrides)
        instance = self._instances.built.get(interface, MISSING)
        if instance is not MISSING:
            return instance
        node = self._nodes.get(interface)
        if node is None:
            node = self._node(interface)
        return node.get()

    @overload
    async def aresolve(self, interface: type[T], /, **overrides: Any) -> T: ...
    @overload
    async def aresolve(self, interface: object, /, **overrides: Any) -> Any: ...
    async def aresolve(self, interface: Any, /, **overrides: Any) -> Any:
        """The async twin of `resolve`: also runs async and async-generator factories.

        Concurrent first calls for one singleton share a single build.
        """
        if overrides:
            return await self._abuild_with_overrides(interface, overrides)
        instance = self._instances.built.get(interface, MISSING)
        if instance is not MISSING:
            return instance
        node = self._nodes.get(interface)
        if node is None:
            node = self._node(interface)
        if node.aget is None:
            return node.get()
        return await node.aget()

    def _node(self, key: Any) -> Node:
        with self._lock:
            self._instances.ensure_open()
            return self._compile(key, ())

    def _compile(self, key: Any, path: tuple[Any, ...]) -> Node:
        node = self._nodes.get(key)
        if node is not None:
            return node
        registration = self._registrations.get(key)
        if registration is None:
            raise NotRegisteredError(
                self._missing_message(key, path), details=self._path_details(path, key)
            )
        if key in path:
            loop = [*path[path.index(key) :], key]
            raise CircularDependencyError(
                "circular dependency: " + " -> ".join(self._name(step) for step in loop),
                details={"path": [self._name(step) for step in loop]},
            )
        fixed = registration.arguments
        dependencies = [
            (parameter, _constant(fixed[parameter.name], parameter.name))
            if parameter.name in fixed
            else (parameter, self._compile(parameter.key, (*path, key)))
            for parameter in self._parameters(registration)
            if parameter.name in fixed or self._injected(parameter, (*path, key))
        ]
        node = self._make_node(registration, dependencies)
        self._nodes[key] = node
        return node

    def _injected(self, parameter: Parameter, path: tuple[Any, ...]) -> bool:
        """True to inject; False to keep the default; raises when there is neither."""
        if parameter.key is not NO_KEY and parameter.key in self._registrations:
            return True
        if parameter.has_default:
            return False
        raise NotRegisteredError(
            self._missing_message(parameter.key, path, parameter.name),
            details=self._path_details(path, parameter.key),
        )

    def _parameters(self, registration: Registration) -> tuple[Parameter, ...]:
        if registration.parameters is None:
            registration.parameters = parameters_of(registration.provider, self._names)
        return registration.parameters

    def _make_node(
        self, registration: Registration, dependencies: list[tuple[Parameter, Node]]
    ) -> Node:
        node = Node(registration.key, registration.name, registration.kind)
        if registration.kind is Kind.INSTANCE:
            value = self._instances.built[registration.key]
            node.get = lambda: value
            return node
        needs_async = registration.kind.is_async or any(
            dependency.aget is not None for _, dependency in dependencies
        )
        node.call = compile_call(
            registration.provider, dependencies, registration.name, registration.kind
        )
        if needs_async:
            node.acall = compile_async_call(
                registration.provider, dependencies, registration.name, registration.kind
            )
        if registration.scope is Scope.TRANSIENT:
            node.get = node.call
            if node.acall is not None:
                node.aget = self._instances.transient_getter(node)
            return node
        node.get = self._instances.getter(node)
        if needs_async:
            node.aget = self._instances.async_getter(node)
        return node

    # -- overrides ------------------------------------------------------------------

    def _prepare_overrides(
        self, interface: Any, overrides: Mapping[str, Any]
    ) -> tuple[Registration, list[tuple[Parameter, Node | None]], Mapping[str, Any]]:
        with self._lock:
            self._instances.ensure_open()
            registration = self._registrations.get(interface)
            if registration is None:
                raise NotRegisteredError(self._missing_message(interface, ()))
            overrides = {**registration.arguments, **overrides}
            if registration.kind not in (Kind.PLAIN, Kind.COROUTINE):
                raise ResolutionError(
                    f"{registration.name} is a {registration.kind.value} registration; "
                    "keyword overrides need a class or a plain or async factory",
                    details={"component": registration.name},
                )
            parameters = self._parameters(registration)
            unknown = sorted(set(overrides) - {parameter.name for parameter in parameters})
            if unknown:
                raise ResolutionError(
                    f"{registration.name} has no parameter named {', '.join(unknown)}",
                    details={"component": registration.name, "unknown": unknown},
                )
            sources: list[tuple[Parameter, Node | None]] = []
            for parameter in parameters:
                if parameter.name in overrides:
                    sources.append((parameter, None))
                elif self._injected(parameter, (interface,)):
                    sources.append((parameter, self._compile(parameter.key, (interface,))))
            return registration, sources, overrides

    def _build_with_overrides(self, interface: Any, overrides: Mapping[str, Any]) -> Any:
        registration, sources, overrides = self._prepare_overrides(interface, overrides)
        if registration.kind.is_async:
            refuse_sync(registration.name)
        values = [
            (parameter, overrides[parameter.name] if node is None else node.get())
            for parameter, node in sources
        ]
        return _invoke(registration, values)

    async def _abuild_with_overrides(self, interface: Any, overrides: Mapping[str, Any]) -> Any:
        registration, sources, overrides = self._prepare_overrides(interface, overrides)
        values = []
        for parameter, node in sources:
            if node is None:
                value = overrides[parameter.name]
            else:
                value = await node.aget() if node.aget is not None else node.get()
            values.append((parameter, value))
        result = _invoke(registration, values)
        return await result if registration.kind is Kind.COROUTINE else result

    # -- lifecycle ------------------------------------------------------------------

    async def health(self, *, check_timeout: float | None = None) -> Mapping[str, ComponentHealth]:
        """Check every built component registered with `health=`, concurrently.

        Components not built yet are left out: there is nothing to ping, and a health
        probe should not open connections as a side effect. A failing check is logged
        once when it starts failing (with the traceback) and once when it recovers,
        never on every probe.

        Args:
            check_timeout: seconds per check (default: the container's `health_timeout`); a
                check that does not finish in time counts as unhealthy and is cancelled.

        Returns:
            Component name -> `ComponentHealth`, in registration order.
        """
        limit = self._health_timeout if check_timeout is None else check_timeout
        with self._lock:
            targets = [
                (registration.name, self._instances.built[key], registration.health)
                for key, registration in self._registrations.items()
                if registration.health is not None and key in self._instances.built
            ]
        last = self._health_state
        reported: set[str] = set()

        def report_change(message: str, name: str) -> None:
            if last.get(name, True):  # healthy or never checked: this failure is news
                self._instances.report(message, name)
                reported.add(name)

        results = await asyncio.gather(
            *(
                check_health(name, instance, check, limit, report_change)
                for name, instance, check in targets
            )
        )
        for result in results:
            was = last.get(result.name)
            if result.healthy and was is False:
                self._instances.note("health check recovered", result.name)
            elif not result.healthy and was is not False and result.name not in reported:
                self._instances.note("health check failed", result.name, warning=True)
            last[result.name] = result.healthy
        return {result.name: result for result in results}

    def get_stats(self) -> ContainerStats:
        """Counts of registrations, built singletons and resources awaiting close.

        Synchronous and cheap (a few `len()` under the container lock), like every
        service's `get_stats()`.
        """
        with self._lock:
            instances = sum(1 for r in self._registrations.values() if r.kind is Kind.INSTANCE)
            return ContainerStats(
                registrations=len(self._registrations),
                singletons_built=len(self._instances.built) - instances,
                resources_to_close=len(self._instances.resources),
                plans_compiled=len(self._nodes),
                closed=self._instances.closed,
            )

    async def aclose(self) -> None:
        """Close what the container built, newest first; failures are logged, not raised.

        Instances passed with `instance=` are not closed: their owner closes them.
        Afterwards every resolve raises `ContainerClosedError`. Calling it twice is fine.
        """
        with self._lock:
            self._nodes.clear()
        await self._instances.aclose()

    def close(self) -> None:
        """The sync twin of `aclose`, for containers whose resources all close synchronously.

        Raises:
            AsyncResolutionRequiredError: a resource needs `aclose()` (nothing is closed).
        """
        with self._lock:
            self._instances.close()
            self._nodes.clear()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # -- messages -------------------------------------------------------------------

    def _name(self, key: Any) -> str:
        registration = self._registrations.get(key)
        return registration.name if registration is not None else describe(key)

    def _trail(self, path: tuple[Any, ...]) -> str:
        if len(path) < 2:
            return ""
        return "; resolution path: " + " -> ".join(self._name(step) for step in path)

    def _path_details(self, path: tuple[Any, ...], key: Any) -> dict[str, Any]:
        return {"missing": describe(key), "path": [self._name(step) for step in (*path, key)]}

    def _missing_message(self, key: Any, path: tuple[Any, ...], parameter: str = "") -> str:
        if key is NO_KEY:
            return (
                f"parameter {parameter!r} of {self._name(path[-1])} has no type hint and no "
                f"default; add one, or pass it with resolve(..., {parameter}=...)"
                + self._trail(path)
            )
        where = f" (parameter {parameter!r} of {self._name(path[-1])})" if parameter else ""
        return f"{describe(key)} is not registered{where}" + self._trail((*path, key))


def _constant(value: Any, name: str) -> Node:
    """A dependency that is a fixed `register(..., name=value)` argument."""
    node = Node(None, name, Kind.INSTANCE)
    node.get = lambda: value
    return node


def _invoke(registration: Registration, values: list[tuple[Parameter, Any]]) -> Any:
    positional, keyword = split_arguments(values, registration.name)
    return registration.provider(*positional, **dict(keyword))
