"""Optional dependencies: imported where used, failing with the exact install command."""

from __future__ import annotations

import importlib
from types import ModuleType

from infrakit.errors._core import TechnicalError

__all__ = ["MissingDependencyError", "import_optional"]


class MissingDependencyError(TechnicalError, ImportError):
    """A module needs an extra that is not installed; the message names the command."""

    code = "MISSING_DEPENDENCY"
    default_message = "An optional dependency is missing."

    def __init__(self, package: str, extra: str) -> None:
        super().__init__(
            f"{package!r} is not installed; install it with: pip install 'infrakit[{extra}]'",
            details={"package": package, "extra": extra},
        )
        self.package = package
        self.extra = extra


def import_optional(module: str, *, extra: str) -> ModuleType:
    """Import `module`, or raise `MissingDependencyError` naming `infrakit[extra]`."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingDependencyError(module.partition(".")[0], extra) from error
