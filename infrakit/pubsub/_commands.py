"""The hub's answers to client commands (auth, subscribe, unsubscribe, publish, ack, ping).

Every refusal is an `error` envelope with a stable code and the command's `id`;
nothing a client sends can raise out of here. A client that earns `max_errors`
refusals is closed with 1008.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from infrakit.pubsub import _wire
from infrakit.pubsub._client import Client
from infrakit.pubsub._errors import WIRE_CODES, PubSubError

if TYPE_CHECKING:
    from infrakit.pubsub._hub import PubSubService

__all__ = ["authenticate_token", "handle_frame"]


async def handle_frame(hub: PubSubService, client: Client, frame: str | bytes) -> None:
    """Answer one frame from a client; never raises."""
    hub._messages_in += 1
    try:
        if isinstance(frame, bytes):
            raise _wire.WireError("binary_frame", WIRE_CODES["binary_frame"])
        if not client.bucket.take():
            raise _wire.WireError("rate_limited", WIRE_CODES["rate_limited"])
        command = _wire.parse(frame)
        await _COMMANDS[command.type](hub, client, command)
    except _wire.WireError as refused:
        await refuse(hub, client, refused.code, refused.message, refused.command_id)
    except PubSubError as error:
        await refuse(hub, client, "invalid_envelope", error.message, None)
    except Exception as error:
        hub._get_logger().warning("pubsub command failed", error=type(error).__name__)
        await refuse(hub, client, "internal", WIRE_CODES["internal"], None)


async def authenticate_token(hub: PubSubService, client: Client, token: str) -> bool:
    """Check a token given at connect or in an `auth` message; never logs it."""
    if hub.authenticator is None:
        return True
    try:
        user = await hub.authenticator.authenticate(token)
    except Exception as error:
        hub._get_logger().warning("pubsub authenticator failed", error=type(error).__name__)
        user = None
    if user is None:
        return False
    hub._attach_user(client, user)
    return True


async def refuse(
    hub: PubSubService, client: Client, code: str, message: str, command_id: Any
) -> None:
    hub._errors_sent += 1
    client.errors += 1
    client.enqueue(_wire.error(code, message, command_id))
    if client.errors >= hub.max_errors and not client.closed:
        await hub._close_client(client, 1008, "too many errors")


async def allowed(hub: PubSubService, client: Client, channel: str, action: str) -> None:
    user = client.user
    if hub.authenticator is not None and user is None and not hub.is_public(channel):
        raise _wire.WireError("unauthorized", WIRE_CODES["unauthorized"])
    if hub.authorizer is None:
        return
    check = hub.authorizer.can_subscribe if action == "subscribe" else hub.authorizer.can_publish
    if not await check(user, channel):
        raise _wire.WireError("forbidden", WIRE_CODES["forbidden"])


async def _auth(hub: PubSubService, client: Client, command: _wire.Command) -> None:
    assert command.token is not None
    if not await hub.authenticate_token(client, command.token):
        raise _wire.WireError("auth_failed", WIRE_CODES["auth_failed"], command.id)
    user_id = client.user.user_id if client.user is not None else None
    client.enqueue(_wire.reply("auth", command.id, data={"user_id": user_id}))


async def _subscribe(hub: PubSubService, client: Client, command: _wire.Command) -> None:
    channel = command.channel
    assert channel is not None
    await _checked(hub, client, channel, "subscribe", command.id)
    if command.since is not None:
        client.catching_up[channel] = []
    hub.subscribe(client.client_id, channel)
    client.enqueue(_wire.reply("subscribe", command.id, channel=channel))
    if command.since is not None:
        await _recover(hub, client, channel, command.since)


async def _recover(hub: PubSubService, client: Client, channel: str, since: int) -> None:
    """Send what the client missed, then what arrived meanwhile, none twice."""
    try:
        missed = await hub.backplane.history(channel, since)
    except Exception as error:
        hub._get_logger().warning("pubsub history failed", error=type(error).__name__)
        missed = None
    last = since
    if missed is None:
        client.enqueue(_wire.encode({"type": "gap", "channel": channel, "seq": since}))
    else:
        for message in missed:
            client.enqueue(_wire.encode_message(message, None))
            last = message.seq
    for seq, text in client.catching_up.pop(channel, []):
        if seq > last:
            client.enqueue(text)


async def _unsubscribe(hub: PubSubService, client: Client, command: _wire.Command) -> None:
    assert command.channel is not None
    if not hub.unsubscribe(client.client_id, command.channel):
        raise _wire.WireError("not_subscribed", WIRE_CODES["not_subscribed"], command.id)
    client.enqueue(_wire.reply("unsubscribe", command.id, channel=command.channel))


async def _publish(hub: PubSubService, client: Client, command: _wire.Command) -> None:
    channel = command.channel
    assert channel is not None
    assert command.event is not None
    if not hub.client_publish:
        raise _wire.WireError("forbidden", WIRE_CODES["forbidden"], command.id)
    await _checked(hub, client, channel, "publish", command.id)
    result = await hub.publish(channel, command.event, command.data)
    client.enqueue(_wire.reply("publish", command.id, channel=channel, seq=result.seq))


async def _ack(hub: PubSubService, client: Client, command: _wire.Command) -> None:
    if not hub.acknowledge(client, command.id):
        raise _wire.WireError("unknown_ack", WIRE_CODES["unknown_ack"], command.id)


async def _ping(hub: PubSubService, client: Client, command: _wire.Command) -> None:
    client.enqueue(_wire.reply("pong", command.id))


async def _checked(
    hub: PubSubService, client: Client, channel: str, action: str, command_id: Any
) -> None:
    try:
        await allowed(hub, client, channel, action)
    except _wire.WireError as refused:
        refused.command_id = command_id
        raise


_COMMANDS = {
    "auth": _auth,
    "subscribe": _subscribe,
    "unsubscribe": _unsubscribe,
    "publish": _publish,
    "ack": _ack,
    "ping": _ping,
}
