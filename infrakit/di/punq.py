"""punq's surface on infrakit.di: a punq user switches by changing one import.

```python
import punq                   # before
from infrakit.di import punq  # after: the same calls, on infrakit.di's container
```

`Container()` takes punq's defaults (transient scope, `register` returns the container
so calls chain), `Scope.transient` / `Scope.singleton` are spelled as in punq, and the
two errors a punq user catches keep their names. Everything else is infrakit.di's
container: compiled resolves, async factories, `aclose()`, health checks. See
`docs/di.md` ("Coming from punq") for what differs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infrakit.di._container import DependencyContainer as _DependencyContainer
from infrakit.di._errors import NotRegisteredError as _NotRegisteredError
from infrakit.di._errors import RegistrationError as _RegistrationError
from infrakit.di._protocol import Scope as _Scope
from infrakit.di._registration import MISSING as _MISSING

if TYPE_CHECKING:
    from typing import Self

__all__ = ["Container", "InvalidRegistrationError", "MissingDependencyError", "Scope"]

MissingDependencyError = _NotRegisteredError
"""punq's name for a service (or a dependency of it) that was never registered."""

InvalidRegistrationError = _RegistrationError
"""punq's name for a `register` call that cannot work."""


class Scope:
    """punq's spelling of the two scopes: `Scope.transient` (punq's default), `Scope.singleton`."""

    transient = _Scope.TRANSIENT
    singleton = _Scope.SINGLETON


class Container(_DependencyContainer):
    """infrakit.di's container with punq's defaults: transient, and `register` chains."""

    def register(  # type: ignore[override]
        self,
        service: Any,
        factory: Any = _MISSING,
        instance: Any = _MISSING,
        scope: _Scope = _Scope.TRANSIENT,
        **kwargs: Any,
    ) -> Self:
        """Register as punq does: `register(service, factory=..., instance=..., scope=...)`.

        Args:
            service: the key callers resolve (a class, or any hashable value such as a
                string).
            factory: the implementation class or factory function; omitted, `service`
                is its own implementation.
            instance: a ready object (a singleton the caller owns).
            scope: `Scope.transient` (default, as in punq) or `Scope.singleton`.
            **kwargs: fixed constructor arguments, passed on every build (any name,
                `name` and `health` included, as in punq).

        Returns:
            The container, so registrations chain as in punq 0.9.

        Raises:
            InvalidRegistrationError: the registration cannot work (`RegistrationError`).
        """
        if instance is not _MISSING:
            scope = _Scope.SINGLETON  # punq's instances are singletons whatever the scope
        self.add_registration(service, factory, instance, scope, None, None, kwargs)
        return self
