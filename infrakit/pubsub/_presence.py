"""Presence across connections and nodes, deduplicated by counting sources.

A source is one local connection, or one remote node (as its last heartbeat said).
A `(user, channel)` pair is present while at least one source holds it; the channel
`None` stands for "online". Joins and leaves are the 0 -> 1 and 1 -> 0 transitions, so
a user with three tabs joins once and leaves once. Remote nodes hold a lease: a node
whose heartbeat is older than the TTL is dropped with all its pairs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

__all__ = ["Pair", "Presence", "parse_heartbeat"]

Pair = tuple[str, str | None]
Change = Callable[[str, str | None, bool], None]


class Presence:
    """Counts of sources per `(user, channel)`, with a callback on joins and leaves."""

    def __init__(self, on_change: Change) -> None:
        self._counts: dict[Pair, int] = {}
        self._metadata: dict[str, Mapping[str, Any]] = {}
        self._remote: dict[str, tuple[float, frozenset[Pair]]] = {}
        self._on_change = on_change

    def add(self, pair: Pair) -> None:
        count = self._counts.get(pair, 0) + 1
        self._counts[pair] = count
        if count == 1:
            self._on_change(pair[0], pair[1], True)

    def remove(self, pair: Pair) -> None:
        count = self._counts.get(pair, 0) - 1
        if count > 0:
            self._counts[pair] = count
            return
        if self._counts.pop(pair, None) is not None:
            self._on_change(pair[0], pair[1], False)

    def set_metadata(self, user_id: str, metadata: Mapping[str, Any] | None) -> None:
        if metadata is not None:
            self._metadata[user_id] = dict(metadata)

    def metadata(self, user_id: str) -> Mapping[str, Any]:
        return self._metadata.get(user_id, {})

    def users(self, channel: str | None) -> dict[str, Mapping[str, Any]]:
        """The present users of a channel (or every online user when None)."""
        return {
            user_id: self.metadata(user_id)
            for (user_id, where), _ in self._counts.items()
            if where == channel
        }

    def __len__(self) -> int:
        return sum(1 for _, where in self._counts if where is None)

    # -- remote nodes ---------------------------------------------------------------

    def remote_heartbeat(
        self, node_id: str, pairs: Iterable[Pair], metadata: Mapping[str, Any], ttl: float
    ) -> None:
        """Replace what a node holds with its latest snapshot; renew its lease."""
        new = frozenset(pairs)
        old = self._remote.get(node_id, (0.0, frozenset()))[1]
        self._remote[node_id] = (time.monotonic() + ttl, new)
        for user_id, data in metadata.items():
            if isinstance(data, dict):
                self._metadata.setdefault(user_id, data)
        for pair in new - old:
            self.add(pair)
        for pair in old - new:
            self.remove(pair)

    def remote_gone(self, node_id: str) -> None:
        _, held = self._remote.pop(node_id, (0.0, frozenset()))
        for pair in held:
            self.remove(pair)

    def expire(self) -> list[str]:
        """Drop the nodes whose lease ran out; returns their ids."""
        now = time.monotonic()
        gone = [node for node, (expires, _) in self._remote.items() if expires < now]
        for node in gone:
            self.remote_gone(node)
        return gone

    @property
    def remote_nodes(self) -> int:
        return len(self._remote)


def parse_heartbeat(
    payload: Mapping[str, Any], default_ttl: float
) -> tuple[list[Pair], Mapping[str, Any], float] | None:
    """A remote node's snapshot (pairs, metadata, ttl), or None when it is malformed."""
    pairs = payload.get("pairs")
    if not isinstance(pairs, list):
        return None
    checked: list[Pair] = [
        (pair[0], pair[1])
        for pair in pairs
        if isinstance(pair, list)
        and len(pair) == 2
        and isinstance(pair[0], str)
        and (pair[1] is None or isinstance(pair[1], str))
    ]
    metadata = payload.get("metadata")
    ttl = payload.get("ttl")
    seconds = float(ttl) if isinstance(ttl, int | float) and ttl > 0 else default_ttl
    return checked, metadata if isinstance(metadata, dict) else {}, seconds
