"""Real-time channels over WebSocket: one hub, several transports, several backplanes.

Only the names in `__all__` are public; see `docs/pubsub.md` and `docs/pubsub-protocol.md`.
"""

from infrakit.pubsub._client import SlowConsumerPolicy
from infrakit.pubsub._errors import WIRE_CODES, PubSubBackplaneError, PubSubError
from infrakit.pubsub._hub import PubSubService
from infrakit.pubsub._protocol import (
    Authenticator,
    Authorizer,
    Backplane,
    BackplaneMessage,
    ChannelMessage,
    PresenceStatus,
    PublishResult,
    PubSubStats,
    User,
)
from infrakit.pubsub._publisher import Publisher
from infrakit.pubsub._server import BEARER_SUBPROTOCOL
from infrakit.pubsub._settings import PubSubSettings
from infrakit.pubsub.memory import MemoryBackplane

__all__ = [
    "BEARER_SUBPROTOCOL",
    "WIRE_CODES",
    "Authenticator",
    "Authorizer",
    "Backplane",
    "BackplaneMessage",
    "ChannelMessage",
    "MemoryBackplane",
    "PostgresBackplane",
    "PresenceStatus",
    "PubSubBackplaneError",
    "PubSubError",
    "PubSubService",
    "PubSubSettings",
    "PubSubStats",
    "PublishResult",
    "Publisher",
    "RedisBackplane",
    "SlowConsumerPolicy",
    "User",
]


def __getattr__(name: str) -> object:
    """The Redis and PostgreSQL backplanes load their extras only when first named."""
    if name == "RedisBackplane":
        from infrakit.pubsub.redis import RedisBackplane

        return RedisBackplane
    if name == "PostgresBackplane":
        from infrakit.pubsub.postgres import PostgresBackplane

        return PostgresBackplane
    raise AttributeError(f"module 'infrakit.pubsub' has no attribute {name!r}")
