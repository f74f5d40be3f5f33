"""The in-process backplane (the default): several hubs of one process share it."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from infrakit.pubsub._history import History
from infrakit.pubsub._protocol import BackplaneMessage, ChannelMessage, Deliver

__all__ = ["MemoryBackplane"]


class MemoryBackplane:
    """Numbers messages and keeps history in memory; hubs sharing it see each other.

    Args:
        history_size: messages kept per channel for clients that reconnect with `since`.
        history_age: seconds a message stays in the history.
    """

    def __init__(self, *, history_size: int = 1000, history_age: float = 300.0) -> None:
        self._history = History(history_size, history_age)
        self._nodes: dict[str, Deliver] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __repr__(self) -> str:
        return f"MemoryBackplane(nodes={len(self._nodes)})"

    async def start(self, node_id: str, deliver: Deliver) -> None:
        self._nodes[node_id] = deliver

    async def publish(
        self, origin: str, channel: str, event: str, data: Any, exclude: tuple[str, ...]
    ) -> tuple[ChannelMessage, int | None]:
        message = self._history.append(channel, event, data)
        self._send(BackplaneMessage(origin, "message", message=message, exclude=exclude))
        return message, len(self._nodes) or 1

    async def send_control(self, origin: str, payload: Mapping[str, Any]) -> None:
        self._send(BackplaneMessage(origin, "control", control=payload))

    async def history(self, channel: str, since: int) -> list[ChannelMessage] | None:
        return self._history.since(channel, since)

    async def health(self) -> bool:
        return True

    async def stop(self, node_id: str) -> None:
        self._nodes.pop(node_id, None)

    async def close(self) -> None:
        if self._nodes:
            return  # another hub of this process still uses it
        tasks, self._tasks = self._tasks, set()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=5.0)

    def _send(self, message: BackplaneMessage) -> None:
        for node_id, deliver in list(self._nodes.items()):
            if node_id != message.origin:
                task = asyncio.ensure_future(deliver(message))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
