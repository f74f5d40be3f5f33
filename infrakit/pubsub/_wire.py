"""The wire protocol without I/O: parse a client's frame, build the server's envelopes.

Envelopes are JSON objects `{type, id, channel, event, data, seq}` (docs/pubsub-protocol.md).
A frame that cannot be used raises `WireError` with one of the stable codes of
`WIRE_CODES`; the hub answers it with an `error` envelope, never a traceback.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from infrakit.pubsub._protocol import ChannelMessage

__all__ = [
    "COMMANDS",
    "Command",
    "WireError",
    "check_channel",
    "encode",
    "encode_message",
    "error",
    "parse",
    "reply",
]

COMMANDS = frozenset({"auth", "subscribe", "unsubscribe", "publish", "ack", "ping"})
_CHANNEL = re.compile(r"[A-Za-z0-9_.:\-@/]{1,200}\Z")
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode


class WireError(Exception):
    """A frame the server refuses; `code` is one of `WIRE_CODES`."""

    def __init__(self, code: str, message: str, command_id: Any = None) -> None:
        super().__init__(message)
        self.code, self.message, self.command_id = code, message, command_id


@dataclass(frozen=True, slots=True)
class Command:
    """One parsed client command."""

    type: str
    id: str | int | None
    channel: str | None
    event: str | None
    data: Any
    since: int | None
    token: str | None


def check_channel(channel: object) -> str:
    """The channel name, or `WireError('invalid_channel')`: 1-200 of `A-Za-z0-9_.:-@/`."""
    if not isinstance(channel, str) or not _CHANNEL.match(channel):
        raise WireError("invalid_channel", "channel must be 1-200 characters of A-Za-z0-9_.:-@/")
    return channel


def parse(frame: str) -> Command:
    """Parse one text frame; raises `WireError` naming the field, never echoing its value."""
    try:
        envelope = json.loads(frame)
    except (ValueError, RecursionError):
        raise WireError("invalid_json", "the frame is not valid JSON") from None
    if not isinstance(envelope, dict):
        raise WireError("invalid_json", "the frame must be a JSON object")
    command_id = envelope.get("id")
    if command_id is not None and (
        isinstance(command_id, bool) or not isinstance(command_id, str | int)
    ):
        raise WireError("invalid_envelope", "id must be a string or an integer")
    kind = envelope.get("type")
    if kind not in COMMANDS:
        raise WireError(
            "unknown_type", "type must be one of " + ", ".join(sorted(COMMANDS)), command_id
        )
    return Command(
        type=kind,
        id=command_id,
        channel=_channel_of(kind, envelope, command_id),
        event=_event_of(kind, envelope, command_id),
        data=envelope.get("data"),
        since=_since_of(envelope, command_id),
        token=_token_of(kind, envelope, command_id),
    )


def _channel_of(kind: str, envelope: dict[str, Any], command_id: Any) -> str | None:
    if kind not in {"subscribe", "unsubscribe", "publish"}:
        return None
    try:
        return check_channel(envelope.get("channel"))
    except WireError as error:
        error.command_id = command_id
        raise


def _event_of(kind: str, envelope: dict[str, Any], command_id: Any) -> str | None:
    event = envelope.get("event", "message" if kind == "publish" else None)
    if event is not None and (not isinstance(event, str) or not 0 < len(event) <= 200):
        raise WireError(
            "invalid_envelope", "event must be a string of 1-200 characters", command_id
        )
    return event


def _since_of(envelope: dict[str, Any], command_id: Any) -> int | None:
    since = envelope.get("since")
    if since is not None and (isinstance(since, bool) or not isinstance(since, int) or since < 0):
        raise WireError("invalid_envelope", "since must be a non-negative integer", command_id)
    return since


def _token_of(kind: str, envelope: dict[str, Any], command_id: Any) -> str | None:
    if kind != "auth":
        return None
    token = envelope.get("token")
    if not isinstance(token, str) or not token:
        raise WireError("invalid_envelope", "token must be a non-empty string", command_id)
    return token


def encode(envelope: dict[str, Any]) -> str:
    """One envelope as compact JSON text (None fields left out)."""
    return _dumps({key: value for key, value in envelope.items() if value is not None})


def encode_message(message: ChannelMessage, ack_id: str | None) -> str:
    """The `message` envelope every subscriber of the channel receives, encoded once."""
    return encode(
        {
            "type": "message",
            "id": ack_id,
            "channel": message.channel,
            "event": message.event,
            "data": message.data,
            "seq": message.seq,
        }
    )


def reply(kind: str, command_id: Any, **fields: Any) -> str:
    """A reply envelope echoing the command's `id`."""
    return encode({"type": kind, "id": command_id, **fields})


def error(code: str, message: str, command_id: Any = None) -> str:
    return encode({"type": "error", "id": command_id, "code": code, "message": message})
