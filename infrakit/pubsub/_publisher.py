"""Publishing from a process that runs no socket server (a job worker, a script)."""

from __future__ import annotations

import uuid
from typing import Any

from infrakit.pubsub._errors import PubSubBackplaneError, PubSubError
from infrakit.pubsub._protocol import Backplane, PublishResult
from infrakit.pubsub._wire import WireError, check_channel, encode

__all__ = ["Publisher"]


class Publisher:
    """Sends events through a backplane to the hubs on it, without clients of its own.

    Args:
        backplane: the same kind of backplane (same Redis prefix, same PostgreSQL
            schema) the hubs use; `close()` closes it.
    """

    def __init__(self, backplane: Backplane) -> None:
        self.backplane = backplane
        self.node_id = f"publisher-{uuid.uuid4().hex[:12]}"
        self._started = False

    def __repr__(self) -> str:
        return f"Publisher({self.backplane!r})"

    async def publish(self, channel: str, event_type: str, data: Any) -> PublishResult:
        """Publish on every node; `delivered` is 0 (no clients here), `nodes` as the engine says.

        Raises:
            PubSubError: a bad channel, event or data.
            PubSubBackplaneError: the backplane refused or timed out.
        """
        try:
            check_channel(channel)
        except WireError as error:
            raise PubSubError(error.message, details={"field": "channel"}) from None
        if not isinstance(event_type, str) or not event_type:
            raise PubSubError(
                "event_type must be a non-empty string", details={"field": "event_type"}
            )
        try:
            encode({"data": data})
        except (TypeError, ValueError) as error:
            raise PubSubError("data must be a JSON value", details={"field": "data"}) from error
        try:
            message, nodes = await self.backplane.publish(
                self.node_id, channel, event_type, data, ()
            )
        except PubSubError:
            raise
        except Exception as error:
            raise PubSubBackplaneError(
                f"the backplane refused the publish ({type(error).__name__})"
            ) from error
        return PublishResult(delivered=0, acknowledged=None, nodes=nodes or 0, seq=message.seq)

    async def close(self) -> None:
        await self.backplane.close()

    async def __aenter__(self) -> Publisher:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
