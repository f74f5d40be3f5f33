"""One connected client: its transport, channels, bounded send queue and rate limit.

Messages go straight to the socket while the client keeps up (the hub batches those
into one `websockets.broadcast`); once its write buffer is past the high-water mark
they wait in a bounded queue drained by the client's own writer task, so a slow client
never slows the others. A full queue applies the policy: `drop_oldest` (counted) or
`disconnect` (close 1008).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Literal, Protocol

from infrakit.pubsub._protocol import User

__all__ = ["Client", "SlowConsumerPolicy", "TokenBucket", "Transport"]

SlowConsumerPolicy = Literal["drop_oldest", "disconnect"]


class Transport(Protocol):
    """What the hub needs of a socket (a websockets connection or an ASGI websocket)."""

    def writable_socket(self, high_water: int) -> Any:
        """The websockets connection when it can take a write now, else None."""
        ...

    async def send(self, text: str) -> None: ...

    async def close(self, code: int, reason: str) -> None: ...

    def abort(self) -> None:
        """Drop the connection at once (a close that could not be sent in time)."""
        ...


class TokenBucket:
    """`rate` commands a second on average, `burst` at once."""

    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int) -> None:
        self.rate, self.burst = rate, burst
        self._tokens, self._stamp = float(burst), time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens < 1.0:
            return False
        self._tokens -= 1.0
        return True


class Client:
    """A connection's state; the hub owns every instance."""

    __slots__ = (
        "_max_queue",
        "_on_drop",
        "_pending",
        "_policy",
        "_wake",
        "_writer",
        "bucket",
        "catching_up",
        "channels",
        "client_id",
        "closed",
        "errors",
        "transport",
        "user",
    )

    def __init__(
        self,
        client_id: str,
        transport: Transport,
        *,
        max_queue: int,
        policy: SlowConsumerPolicy,
        bucket: TokenBucket,
        on_drop: Callable[[Client, bool], None],
    ) -> None:
        self.client_id, self.transport = client_id, transport
        self.user: User | None = None
        self.channels: set[str] = set()
        self.catching_up: dict[str, list[tuple[int, str]]] = {}
        self.bucket, self.errors = bucket, 0
        self.closed = False
        self._pending: deque[str] = deque()
        self._max_queue, self._policy, self._on_drop = max_queue, policy, on_drop
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"Client({self.client_id!r}, channels={len(self.channels)})"

    @property
    def idle(self) -> bool:
        """Nothing queued: a message may go straight to the socket without reordering."""
        return not self._pending and not self._wake.is_set()

    def enqueue(self, text: str) -> bool:
        """Queue a message for the writer; False when the policy disconnected the client."""
        if self.closed:
            return False
        if len(self._pending) >= self._max_queue:
            if self._policy == "disconnect":
                self._on_drop(self, True)
                return False
            self._pending.popleft()
            self._on_drop(self, False)
        self._pending.append(text)
        self._wake.set()
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write())
        return True

    async def _write(self) -> None:
        """Drain the queue in order, waiting on the socket (its flow control) for each."""
        while not self.closed:
            await self._wake.wait()
            while self._pending and not self.closed:
                text = self._pending.popleft()
                try:
                    await self.transport.send(text)
                except Exception:  # a closed socket: the reader sees it and cleans up
                    self.closed = True
                    return
            self._wake.clear()

    async def stop(self) -> None:
        """End the writer (bounded: a cancelled send returns at once)."""
        self.closed = True
        writer, self._writer = self._writer, None
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()
            with contextlib.suppress(BaseException):
                await asyncio.wait({writer}, timeout=1.0)
