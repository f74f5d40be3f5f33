"""The error-code table in docs/design.md lists every AppError subclass infrakit defines."""

from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path

import infrakit
from infrakit.errors import AppError

DESIGN = Path(__file__).resolve().parent.parent / "docs" / "design.md"


def infrakit_error_classes() -> list[type[AppError]]:
    """Every AppError subclass defined in an infrakit module (importing them all first)."""
    for module in pkgutil.walk_packages(infrakit.__path__, "infrakit."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    found: list[type[AppError]] = []
    pending: list[type[AppError]] = [AppError]
    while pending:
        cls = pending.pop()
        if _defined_in_infrakit(cls) and cls not in found:
            found.append(cls)
        pending.extend(cls.__subclasses__())
    return sorted(found, key=lambda cls: (cls.code, cls.__name__))


def _defined_in_infrakit(cls: type[AppError]) -> bool:
    """True for classes a module defines, not ones made at run time (domain_errors)."""
    module = sys.modules.get(cls.__module__)
    return cls.__module__.startswith("infrakit.") and getattr(module, cls.__name__, None) is cls


def error_codes_table() -> str:
    rows = ["| code | class | HTTP status |", "|---|---|---|"]
    for cls in infrakit_error_classes():
        module = cls.__module__.rsplit("._", 1)[0]
        rows.append(f"| `{cls.code}` | `{module}.{cls.__name__}` | {cls.status_code} |")
    return "\n".join(rows)


def test_design_lists_every_error_code() -> None:
    text = DESIGN.read_text(encoding="utf-8")
    missing = [row for row in error_codes_table().splitlines() if row not in text]
    assert not missing, "docs/design.md error table is stale; regenerate with " + (
        "`python -c 'from tests.test_docs import error_codes_table as t; print(t())'`:\n"
        + "\n".join(missing)
    )
