"""Fills in flight, by key, so that an invalidation keeps their result out of the cache.

A `get_or_set` miss computes, then stores. An invalidation of the key (`delete`, `set`,
`clear`, ...) made while it computes means the result may predate the change: the fill
is then stale. It still answers its waiters, but it is not stored, so the cache never
serves data older than the invalidation. Only keys with a fill in flight have a ticket.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["FillTicket", "InFlightFills"]


class FillTicket:
    """One fill's mark: `stale` once an invalidation of its key came after it started."""

    __slots__ = ("stale",)

    def __init__(self) -> None:
        self.stale = False


class InFlightFills:
    """The tickets of the fills under way (at most one live ticket per key).

    The in-process caches call these with their own lock held where they have one,
    so marking and the store's check cannot interleave. `discarded` counts the stale
    results kept out (`CacheStats.stale_fills_discarded`).
    """

    __slots__ = ("discarded", "tickets")

    def __init__(self) -> None:
        self.tickets: dict[str, FillTicket] = {}
        self.discarded = 0

    def open(self, key: str) -> FillTicket:
        """A ticket for a fill starting now; an older fill of the key is superseded (stale)."""
        ticket = FillTicket()
        previous = self.tickets.get(key)
        if previous is not None:
            previous.stale = True
        self.tickets[key] = ticket
        return ticket

    def close(self, key: str, ticket: FillTicket) -> None:
        if self.tickets.get(key) is ticket:
            del self.tickets[key]

    def invalidate(self, key: str) -> bool:
        """Mark the key's fill stale and forget it; True when there was one."""
        ticket = self.tickets.pop(key, None)
        if ticket is None:
            return False
        ticket.stale = True
        return True

    def invalidate_many(self, keys: Iterable[str]) -> list[str]:
        """Mark the fills of `keys` stale; the keys that had one."""
        return [key for key in keys if self.invalidate(key)]

    def invalidate_all(self) -> None:
        for ticket in self.tickets.values():
            ticket.stale = True
        self.tickets.clear()

    def refuses(self, ticket: FillTicket) -> bool:
        """True (and counted) when the fill's result must not be stored."""
        if ticket.stale:
            self.discarded += 1
        return ticket.stale
