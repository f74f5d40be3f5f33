"""The Protocols at the edge of the hub: backplanes, authenticators, authorizers.

A backplane joins the hubs of several processes: it numbers each channel's messages
(`seq`), keeps a bounded history for clients that reconnect with `since`, and carries
messages and presence heartbeats between nodes. The hub never needs to know which
engine is underneath.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = [
    "Authenticator",
    "Authorizer",
    "Backplane",
    "BackplaneMessage",
    "ChannelMessage",
    "PresenceStatus",
    "PubSubStats",
    "PublishResult",
    "User",
]

PresenceStatus = Literal["online", "offline"]


@dataclass(frozen=True, slots=True)
class User:
    """Who a connection belongs to, as the `Authenticator` found it."""

    user_id: str
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ChannelMessage:
    """One numbered message of a channel, as stored in its history."""

    channel: str
    seq: int
    event: str
    data: Any
    published_at: float


@dataclass(frozen=True, slots=True)
class BackplaneMessage:
    """What travels between nodes: a channel message, or a control payload (`kind`)."""

    origin: str
    kind: Literal["message", "control"]
    message: ChannelMessage | None = None
    control: Mapping[str, Any] | None = None
    exclude: tuple[str, ...] = ()


Deliver = Callable[[BackplaneMessage], Awaitable[None]]


@runtime_checkable
class Backplane(Protocol):
    """Carries messages between hubs and keeps each channel's numbered history."""

    async def start(self, node_id: str, deliver: Deliver) -> None:
        """Begin receiving: `deliver` is called for every message of every other node."""
        ...

    async def publish(
        self, origin: str, channel: str, event: str, data: Any, exclude: tuple[str, ...]
    ) -> tuple[ChannelMessage, int | None]:
        """Number, store and send one message; returns it and the nodes it reached.

        The node count is None when the engine cannot tell (the hub then counts the
        nodes whose presence heartbeats it sees).
        """
        ...

    async def send_control(self, origin: str, payload: Mapping[str, Any]) -> None:
        """Send a small control payload (presence heartbeats) to every other node."""
        ...

    async def history(self, channel: str, since: int) -> list[ChannelMessage] | None:
        """Messages with `seq > since` in order, or None when history no longer reaches back."""
        ...

    async def health(self) -> bool:
        """A cheap ping of the engine underneath."""
        ...

    async def stop(self, node_id: str) -> None:
        """Stop delivering to this node (its hub is closing)."""
        ...

    async def close(self) -> None:
        """Release connections (bounded); a backplane other nodes still use stays open."""
        ...


@runtime_checkable
class Authenticator(Protocol):
    """Turns the token a client gave (header, subprotocol or `auth` message) into a user."""

    async def authenticate(self, token: str) -> User | None:
        """The user, or None when the token is refused. Never log the token."""
        ...


@runtime_checkable
class Authorizer(Protocol):
    """Decides, per channel, what an (authenticated or anonymous) client may do."""

    async def can_subscribe(self, user: User | None, channel: str) -> bool: ...

    async def can_publish(self, user: User | None, channel: str) -> bool: ...


class PublishResult(int):
    """What `publish` returns: an `int` (clients reached, or acknowledged with `ack=True`).

    Attributes:
        delivered: clients of this node the message was handed to.
        acknowledged: of those, how many acknowledged within the timeout (`ack=True`).
        nodes: nodes the backplane reached (this one included).
        seq: the channel's number for this message.
    """

    delivered: int
    acknowledged: int | None
    nodes: int
    seq: int

    def __new__(
        cls, *, delivered: int, acknowledged: int | None, nodes: int, seq: int
    ) -> PublishResult:
        value = delivered if acknowledged is None else acknowledged
        result = super().__new__(cls, value)
        result.delivered, result.acknowledged = delivered, acknowledged
        result.nodes, result.seq = nodes, seq
        return result

    def __repr__(self) -> str:
        return (
            f"PublishResult(delivered={self.delivered}, acknowledged={self.acknowledged}, "
            f"nodes={self.nodes}, seq={self.seq})"
        )


@dataclass(frozen=True, slots=True)
class PubSubStats:
    """The hub's own counters (`get_stats()`): no backplane round trip."""

    connections: int
    channels: int
    messages_in: int
    messages_out: int
    dropped: int
    slow_disconnects: int
    pending_acks: int
    presence: int
    errors_sent: int
    backplane_restarts: int
    nodes: int
