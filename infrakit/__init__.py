"""infrakit: the cross-cutting infrastructure layer for asyncio Python services.

Importing `infrakit` is cheap: the builder and the modules load when first used.
Only the names in `__all__` (and each module's own `__all__`) are public.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["Infra", "InfraBuilder", "__version__"]

if TYPE_CHECKING:
    from infrakit._builder import InfraBuilder
    from infrakit._infra import Infra


def __getattr__(name: str) -> Any:
    if name == "Infra":
        from infrakit._infra import Infra

        return Infra
    if name == "InfraBuilder":
        from infrakit._builder import InfraBuilder

        return InfraBuilder
    raise AttributeError(f"module 'infrakit' has no attribute {name!r}")
