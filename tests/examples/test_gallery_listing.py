"""The gallery's cached listing (examples/gallery/service.py `Listing`) never stays stale.

The race it is built against: a request loads the items, an item changes and the
cache is invalidated, then the request stores what it loaded. The cache discards such
a fill (docs/cache.md), so the next read loads anew instead of serving the old listing
until its TTL.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from infrakit.cache import MemoryCache

GALLERY = Path(__file__).resolve().parents[2] / "examples" / "gallery"


def listing_class() -> Any:
    sys.path.insert(0, str(GALLERY))  # the demo's modules import each other by name
    try:
        import service
    finally:
        sys.path.remove(str(GALLERY))
    return service.Listing


async def test_a_listing_loaded_across_a_change_is_not_served_after_it() -> None:
    items = ["old"]
    loading, release = asyncio.Event(), asyncio.Event()

    async def load() -> list[dict[str, Any]]:
        seen = [{"name": name} for name in items]
        loading.set()
        await release.wait()
        return seen

    async with MemoryCache() as cache:
        listing = listing_class()(SimpleNamespace(cache=cache), load)
        reading = asyncio.create_task(listing.get())
        await loading.wait()
        items[:] = ["new"]  # the item changes while the first read is loading
        await listing.invalidate()
        release.set()
        assert await reading == [{"name": "old"}]  # that read began before the change
        assert await listing.get() == [{"name": "new"}]


async def test_a_listing_is_loaded_once_until_it_changes() -> None:
    loads = 0

    async def load() -> list[dict[str, Any]]:
        nonlocal loads
        loads += 1
        return [{"load": loads}]

    async with MemoryCache() as cache:
        listing = listing_class()(SimpleNamespace(cache=cache), load)
        first = await asyncio.gather(*(listing.get() for _ in range(10)))
        assert first == [[{"load": 1}]] * 10
        await listing.invalidate()
        assert await listing.get() == [{"load": 2}]
