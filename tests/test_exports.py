"""The public surface is explicit: every `__all__` is complete, importable and documented."""

from __future__ import annotations

import importlib
import re
import types
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"

# module -> the docs page that documents its public names
MODULES = {
    "infrakit": "builder.md",
    "infrakit.errors": "errors.md",
    "infrakit.config": "config.md",
    "infrakit.log": "log.md",
    "infrakit.di": "di.md",
    "infrakit.di.punq": "di.md",
    "infrakit.db": "db.md",
    "infrakit.db.sync": "db.md",
    "infrakit.cache": "cache.md",
    "infrakit.cache.sync": "cache.md",
    "infrakit.web": "web.md",
    "infrakit.web.starlette": "web.md",
    "infrakit.web.flask": "web.md",
    "infrakit.storage": "storage.md",
    "infrakit.streams": "streams.md",
    "infrakit.media": "media.md",
    "infrakit.media.sync": "media.md",
    "infrakit.jobs": "jobs.md",
    "infrakit.jobs.sync": "jobs.md",
    "infrakit.pubsub": "pubsub.md",
    "infrakit.server": "server.md",
}


def _public_attributes(module: types.ModuleType) -> set[str]:
    return {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and name not in {"annotations", "TYPE_CHECKING", "Any"}
    }


@pytest.mark.parametrize("module_name", MODULES)
def test_all_is_unique_and_importable(module_name: str) -> None:
    """Order is ruff's job (RUF022); here: no duplicates, and every name resolves."""
    module = importlib.import_module(module_name)
    names = list(module.__all__)
    assert len(names) == len(set(names)), f"{module_name}.__all__ has duplicates"
    for name in names:
        assert getattr(module, name) is not None


@pytest.mark.parametrize("module_name", MODULES)
def test_no_public_name_outside_all(module_name: str) -> None:
    module = importlib.import_module(module_name)
    extra = _public_attributes(module) - set(module.__all__)
    assert not extra, f"{module_name} exposes names missing from __all__: {sorted(extra)}"


@pytest.mark.parametrize(("module_name", "page"), MODULES.items())
def test_every_public_name_is_documented(module_name: str, page: str) -> None:
    module = importlib.import_module(module_name)
    text = (DOCS / page).read_text(encoding="utf-8")
    documented = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)", text))
    missing = [name for name in module.__all__ if name not in documented]
    assert not missing, f"docs/{page} does not document {missing}"
