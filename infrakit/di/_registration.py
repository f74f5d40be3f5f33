"""One `register` call, validated: everything that can be checked early is checked here."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from infrakit.di._errors import RegistrationError
from infrakit.di._plan import Kind, Parameter, describe, kind_of
from infrakit.di._protocol import HealthCheck, Scope

__all__ = ["MISSING", "Registration", "make_registration"]

MISSING: Any = object()
"""Marks an argument of `register` that was not passed."""


@dataclass(slots=True, eq=False)
class Registration:
    """One `register` call, before compilation."""

    key: Any
    name: str
    provider: Any
    kind: Kind
    scope: Scope
    health: HealthCheck | None
    arguments: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    parameters: tuple[Parameter, ...] | None = field(default=None)


def make_registration(
    interface: Any,
    provider: Any,
    instance: Any,
    scope: Scope,
    health: HealthCheck | None,
    name: str | None,
    arguments: Mapping[str, Any] | None = None,
) -> Registration:
    """Validate one `register` call; everything that can be checked early is checked here."""
    label = name or describe(interface)
    arguments = dict(arguments or {})
    if not isinstance(scope, Scope):
        raise RegistrationError(f"{label}: scope must be Scope.SINGLETON or Scope.TRANSIENT")
    if health is not None and not callable(health):
        raise RegistrationError(f"{label}: health must be a callable taking the component")
    if provider is not MISSING and instance is not MISSING:
        raise RegistrationError(f"{label}: pass a provider or instance=, not both")
    if instance is MISSING and provider is not MISSING and not callable(provider):
        instance = provider
    if instance is not MISSING:
        if scope is not Scope.SINGLETON:
            raise RegistrationError(f"{label}: an instance is a singleton by nature")
        if arguments:
            raise RegistrationError(f"{label}: an instance takes no constructor arguments")
        return Registration(interface, label, instance, Kind.INSTANCE, scope, health)
    if provider is MISSING:
        if not isinstance(interface, type):
            raise RegistrationError(
                f"{label} is not a class; pass an implementation, a factory or instance="
            )
        if inspect.isabstract(interface) or getattr(interface, "_is_protocol", False):
            raise RegistrationError(
                f"{label} is abstract; pass an implementation, a factory or instance="
            )
        provider = interface
    kind = kind_of(provider)
    if scope is Scope.TRANSIENT and kind in (Kind.GENERATOR, Kind.ASYNC_GENERATOR):
        raise RegistrationError(
            f"{label}: a {kind.value} factory needs Scope.SINGLETON, since its teardown "
            "runs when the container closes"
        )
    if scope is Scope.TRANSIENT and health is not None:
        raise RegistrationError(f"{label}: health checks need a singleton (one instance to ping)")
    _check_arguments(label, provider, arguments)
    return Registration(
        interface, label, provider, kind, scope, health, MappingProxyType(arguments)
    )


def _check_arguments(label: str, provider: Any, arguments: Mapping[str, Any]) -> None:
    """Fixed constructor arguments must name parameters (read without evaluating hints)."""
    if not arguments:
        return
    try:
        names = set(inspect.signature(provider).parameters)
    except (TypeError, ValueError):
        names = set()
    unknown = sorted(set(arguments) - names)
    if unknown:
        raise RegistrationError(
            f"{label}: {describe(provider)} has no parameter named {', '.join(unknown)}",
            details={"component": label, "unknown": unknown},
        )
