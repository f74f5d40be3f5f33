"""What can go wrong when registering or resolving: each case has its own stable code."""

from __future__ import annotations

from infrakit.errors import TechnicalError

__all__ = [
    "AsyncResolutionRequiredError",
    "CircularDependencyError",
    "ContainerClosedError",
    "FactoryError",
    "NotRegisteredError",
    "RegistrationError",
    "ResolutionError",
]


class RegistrationError(TechnicalError):
    """A `register` call cannot work as written (detected before anything is built)."""

    code = "DI_INVALID_REGISTRATION"
    default_message = "The registration is not valid."


class ResolutionError(TechnicalError):
    """The container could not hand out the requested component."""

    code = "DI_RESOLUTION_FAILED"
    default_message = "A dependency could not be resolved."


class NotRegisteredError(ResolutionError):
    """A type (or a dependency of it, named in the path) was never registered."""

    code = "DI_NOT_REGISTERED"
    default_message = "A dependency is not registered."


class CircularDependencyError(ResolutionError):
    """Two or more components need each other; the message shows the loop."""

    code = "DI_CYCLE"
    default_message = "The dependencies form a cycle."


class AsyncResolutionRequiredError(ResolutionError):
    """`resolve` met an async factory: only `await container.aresolve(...)` can build it."""

    code = "DI_ASYNC_REQUIRED"
    default_message = "An async factory must be resolved with aresolve()."


class ContainerClosedError(ResolutionError):
    """The container was closed: it hands out nothing more, so no resource is reopened."""

    code = "DI_CLOSED"
    default_message = "The container is closed."


class FactoryError(ResolutionError):
    """A constructor or factory raised something that is not an `AppError` (chained)."""

    code = "DI_FACTORY_FAILED"
    default_message = "A factory failed."
