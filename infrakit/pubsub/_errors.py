"""The errors a caller of the hub can meet, and the stable codes of `error` envelopes."""

from __future__ import annotations

from typing import Final

from infrakit.errors import AppError

__all__ = ["WIRE_CODES", "PubSubBackplaneError", "PubSubError"]


class PubSubError(AppError):
    """A pub/sub call was refused: a bad channel name, a closed hub, a bad argument (500)."""

    code = "PUBSUB_ERROR"
    default_message = "The pub/sub operation failed."


class PubSubBackplaneError(PubSubError):
    """The backplane (Redis, PostgreSQL) could not take a publish in time (503)."""

    code = "PUBSUB_BACKPLANE_UNAVAILABLE"
    status_code = 503
    default_message = "The pub/sub backplane is unavailable."


WIRE_CODES: Final = {
    "invalid_json": "the frame is not a JSON object",
    "binary_frame": "binary frames are not accepted; send JSON text",
    "unknown_type": "the envelope's `type` is missing or unknown",
    "invalid_envelope": "a field has the wrong type or is missing",
    "invalid_channel": "the channel name is empty, too long or has forbidden characters",
    "unauthorized": "the channel needs an authenticated client",
    "forbidden": "the authorizer refused this user on this channel",
    "auth_failed": "the token was refused",
    "rate_limited": "too many commands; slow down",
    "unknown_ack": "no pending acknowledgement has this id for this client",
    "not_subscribed": "the client is not subscribed to this channel",
    "internal": "the server could not complete the command",
}
"""Every `code` an `error` envelope can carry, with its meaning (docs/pubsub-protocol.md)."""
