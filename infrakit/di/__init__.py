"""Dependency injection: register by interface, resolve with constructor injection.

Registrations are compiled into closures on first resolve, singletons are built once
(also under concurrent threads or tasks), and what the container built is closed in
reverse order by `aclose()`. Only the names in `__all__` are public; see `docs/di.md`.
"""

from infrakit.di._container import create_container
from infrakit.di._errors import (
    AsyncResolutionRequiredError,
    CircularDependencyError,
    ContainerClosedError,
    FactoryError,
    NotRegisteredError,
    RegistrationError,
    ResolutionError,
)
from infrakit.di._protocol import ComponentHealth, Container, ContainerStats, HealthCheck, Scope

__all__ = [
    "AsyncResolutionRequiredError",
    "CircularDependencyError",
    "ComponentHealth",
    "Container",
    "ContainerClosedError",
    "ContainerStats",
    "FactoryError",
    "HealthCheck",
    "NotRegisteredError",
    "RegistrationError",
    "ResolutionError",
    "Scope",
    "create_container",
]
