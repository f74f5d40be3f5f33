"""Acknowledgements in flight: who still owes an `ack` for which message id."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Callable

__all__ = ["Acks"]


class Acks:
    """Per ack id: the clients still waited for, how many answered, and a done event."""

    def __init__(self) -> None:
        self._waiting: dict[str, set[str]] = {}
        self._done: dict[str, asyncio.Event] = {}
        self._acked: dict[str, int] = {}

    @property
    def pending(self) -> int:
        """Acknowledgements still owed, over every message in flight."""
        return sum(len(waiting) for waiting in self._waiting.values())

    def open(self, client_ids: set[str]) -> str:
        ack_id = uuid.uuid4().hex
        self._waiting[ack_id], self._done[ack_id], self._acked[ack_id] = (
            set(client_ids),
            asyncio.Event(),
            0,
        )
        return ack_id

    def acknowledge(self, ack_id: object, client_id: str) -> bool:
        """Count one client's answer; False for an id it was not sent (forged, late)."""
        waiting = self._waiting.get(ack_id) if isinstance(ack_id, str) else None
        if waiting is None or client_id not in waiting:
            return False
        waiting.discard(client_id)
        self._acked[ack_id] += 1  # type: ignore[index]
        self._settle(ack_id)  # type: ignore[arg-type]
        return True

    def forget_client(self, client_id: str) -> None:
        """A client left: no acknowledgement will come from it."""
        for ack_id, waiting in self._waiting.items():
            if client_id in waiting:
                waiting.discard(client_id)
                self._settle(ack_id)

    async def wait(
        self, ack_id: str, seconds: float, rounds: int, resend: Callable[[set[str]], None]
    ) -> int:
        """Wait up to `seconds` in `rounds` slices, resending between them; the count acked."""
        try:
            for attempt in range(rounds):
                if not self._waiting[ack_id]:
                    break
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(seconds / rounds):
                        await self._done[ack_id].wait()
                        break
                if attempt + 1 < rounds:
                    resend(set(self._waiting[ack_id]))
        finally:
            self._waiting.pop(ack_id, None)
            self._done.pop(ack_id, None)
            acknowledged = self._acked.pop(ack_id, 0)
        return acknowledged

    def _settle(self, ack_id: str) -> None:
        if not self._waiting[ack_id]:
            self._done[ack_id].set()
