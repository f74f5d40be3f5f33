"""A channel's bounded history in memory (size and age), shared by the memory backplane."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from infrakit.pubsub._errors import PubSubError
from infrakit.pubsub._protocol import ChannelMessage

__all__ = ["History", "check_history"]


def check_history(size: int, age: float) -> tuple[int, float]:
    """Validate the history bounds every backplane takes (`history_size`, `history_age`)."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise PubSubError("history_size must be an integer >= 0", details={"field": "history_size"})
    if isinstance(age, bool) or not isinstance(age, int | float) or age <= 0:
        raise PubSubError(
            "history_age must be a number of seconds > 0", details={"field": "history_age"}
        )
    return size, float(age)


class History:
    """Numbered messages per channel; the oldest go when the size or the age is passed."""

    def __init__(self, size: int, age: float) -> None:
        self.size, self.age = check_history(size, age)
        self._channels: dict[str, deque[ChannelMessage]] = {}
        self._last: dict[str, int] = {}

    def append(self, channel: str, event: str, data: Any) -> ChannelMessage:
        seq = self._last.get(channel, 0) + 1
        self._last[channel] = seq
        message = ChannelMessage(channel, seq, event, data, time.time())
        if self.size:
            kept = self._channels.setdefault(channel, deque(maxlen=self.size))
            kept.append(message)
        return message

    def since(self, channel: str, since: int) -> list[ChannelMessage] | None:
        """Messages after `since`, or None when the oldest one kept is past `since + 1`."""
        last = self._last.get(channel, 0)
        if since >= last:
            return []
        kept = self._channels.get(channel, deque())
        horizon = time.time() - self.age
        while kept and kept[0].published_at < horizon:
            kept.popleft()
        if not kept or kept[0].seq > since + 1:
            return None
        return [message for message in kept if message.seq > since]
