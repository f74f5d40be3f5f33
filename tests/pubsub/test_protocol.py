"""The wire protocol over real websockets clients: auth, authorisation, acks, bad input."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from infrakit.pubsub import BEARER_SUBPROTOCOL, WIRE_CODES, PubSubService, User
from tests.pubsub.conftest import client, running, wait_for
from tests.recording import RecordingLogger

TOKENS = {"secret-token-alice": "alice", "secret-token-bob": "bob"}


class TokenAuthenticator:
    async def authenticate(self, token: str) -> User | None:
        user_id = TOKENS.get(token)
        return User(user_id, {"name": user_id.title()}) if user_id else None


class OwnRoomAuthorizer:
    """A user may use `room:<own id>`; anyone may use `public:*`."""

    async def can_subscribe(self, user: User | None, channel: str) -> bool:
        return channel.startswith("public:") or (
            user is not None and channel == f"room:{user.user_id}"
        )

    async def can_publish(self, user: User | None, channel: str) -> bool:
        return user is not None and channel == f"room:{user.user_id}"


def secured(**options: Any) -> PubSubService:
    return PubSubService(
        authenticator=TokenAuthenticator(), authorizer=OwnRoomAuthorizer(), **options
    )


async def test_unauthenticated_clients_reach_public_channels_only() -> None:
    async with running(secured()) as url, client(url) as ws:
        await ws.subscribe("public:lobby")
        command_id = await ws.send(type="subscribe", channel="room:alice")
        refused = await ws.recv_until_id(command_id)
    assert refused["type"] == "error"
    assert refused["code"] == "unauthorized"


@pytest.mark.parametrize("how", ["header", "subprotocol", "message"])
async def test_a_token_authenticates_in_every_documented_way(how: str) -> None:
    hub = secured()
    options: dict[str, Any] = {}
    if how == "header":
        options["additional_headers"] = {"Authorization": "Bearer secret-token-alice"}
    elif how == "subprotocol":
        options["subprotocols"] = [BEARER_SUBPROTOCOL, "secret-token-alice"]
    async with running(hub) as url, client(url, **options) as ws:
        if how == "message":
            command_id = await ws.send(type="auth", token="secret-token-alice")
            assert (await ws.recv_until_id(command_id))["data"] == {"user_id": "alice"}
        await ws.subscribe("room:alice")
        assert "alice" in hub.get_presence("room:alice")


async def test_the_authorizer_refuses_other_users_rooms() -> None:
    headers = {"Authorization": "Bearer secret-token-bob"}
    async with running(secured()) as url, client(url, additional_headers=headers) as ws:
        command_id = await ws.send(type="subscribe", channel="room:alice")
        assert (await ws.recv_until_id(command_id))["code"] == "forbidden"
        command_id = await ws.send(type="publish", channel="room:alice", data=1)
        assert (await ws.recv_until_id(command_id))["code"] == "forbidden"


async def test_a_refused_token_closes_the_connection_and_is_never_logged() -> None:
    logger = RecordingLogger()
    headers = {"Authorization": "Bearer wrong-secret-value"}
    async with running(secured(logger=logger)) as url:
        with pytest.raises(ConnectionClosed) as closed:
            async with client(url, additional_headers=headers) as ws:
                await ws.recv()
        async with client(url) as ws:
            command_id = await ws.send(type="auth", token="another-wrong-secret")
            assert (await ws.recv_until_id(command_id))["code"] == "auth_failed"
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008
    assert "wrong-secret" not in logger.text()


async def test_client_publish_reaches_other_subscribers_but_not_excluded() -> None:
    hub = PubSubService()
    async with running(hub) as url, client(url) as sender, client(url) as reader:
        await sender.subscribe("chat")
        await reader.subscribe("chat")
        command_id = await sender.send(type="publish", channel="chat", event="said", data="hi")
        reply = await sender.recv_until_id(command_id)
        assert reply["type"] == "publish"
        assert isinstance(reply["seq"], int)
        assert (await reader.recv_until("message"))["data"] == "hi"
        (sender_id,) = [c for c, s in hub._clients.items() if s.channels and c.endswith("-1")]
        result = await hub.publish("chat", "said", "not to you", exclude=sender_id)
        assert result.delivered == 1
        assert (await reader.recv_until("message"))["data"] == "not to you"
        await sender.send(type="ping")
        assert (await sender.recv_until("pong"))["type"] == "pong"


async def test_publish_with_ack_counts_acknowledgements_and_resends() -> None:
    hub = PubSubService(ack_retries=2)
    async with running(hub) as url, client(url) as acking, client(url) as silent:
        await acking.subscribe("orders")
        await silent.subscribe("orders")

        async def answer() -> dict[str, Any]:
            message = await acking.recv_until("message")
            await acking.send(type="ack", id=message["id"])
            return message

        answering = asyncio.create_task(answer())
        result = await hub.publish("orders", "placed", {"n": 1}, ack=True, timeout=1.5)
        message = await answering
        copies = [await silent.recv_until("message") for _ in range(3)]  # first + 2 resends
    assert int(result) == 1
    assert result.acknowledged == 1
    assert result.delivered == 2
    assert {copy["id"] for copy in copies} == {message["id"]}
    assert {copy["seq"] for copy in copies} == {message["seq"]}
    assert hub.get_stats().pending_acks == 0


async def test_forged_ack_ids_are_refused() -> None:
    async with running(PubSubService()) as url, client(url) as ws:
        await ws.connection.send(json.dumps({"type": "ack", "id": "forged"}))
        refused = await ws.recv()
    assert refused == {
        "type": "error",
        "id": "forged",
        "code": "unknown_ack",
        "message": "no pending acknowledgement has this id for this client",
    }


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("{not json", "invalid_json"),
        ("[1, 2]", "invalid_json"),
        ('{"type": "shout"}', "unknown_type"),
        ('{"id": 5}', "unknown_type"),
        ('{"type": "subscribe", "channel": ""}', "invalid_channel"),
        ('{"type": "subscribe", "channel": "a", "since": -1}', "invalid_envelope"),
        ('{"type": "publish", "channel": "a", "event": 7}', "invalid_envelope"),
        ('{"type": "auth"}', "invalid_envelope"),
        ('{"type": "unsubscribe", "channel": "never"}', "not_subscribed"),
        ('{"type": "subscribe", "id": [1], "channel": "a"}', "invalid_envelope"),
    ],
)
async def test_bad_frames_get_error_envelopes_with_stable_codes(frame: str, code: str) -> None:
    hub = PubSubService()
    async with running(hub) as url, client(url) as bad, client(url) as good:
        await good.subscribe("a")
        await bad.connection.send(frame)
        refused = await bad.recv()
        await hub.publish("a", "still", "up")
        assert (await good.recv_until("message"))["data"] == "up"
    assert refused["type"] == "error"
    assert refused["code"] == code
    assert code in WIRE_CODES
    assert "Traceback" not in refused["message"]


async def test_binary_frames_are_refused() -> None:
    async with running(PubSubService()) as url, client(url) as ws:
        await ws.connection.send(b'{"type": "ping"}')
        assert (await ws.recv())["code"] == "binary_frame"


async def test_oversized_frames_close_with_1009_and_others_go_on() -> None:
    hub = PubSubService(max_message_size=1024)
    async with running(hub) as url, client(url) as good:
        await good.subscribe("a")
        async with client(url) as big:
            await big.connection.send("x" * 5000)
            with pytest.raises(ConnectionClosed) as closed:
                await big.recv()
        await hub.publish("a", "still", "up")
        assert (await good.recv_until("message"))["data"] == "up"
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


async def test_repeated_abuse_closes_with_1008() -> None:
    async with running(PubSubService(max_errors=5)) as url, client(url) as ws:
        for _ in range(10):
            await ws.connection.send("garbage")
        with pytest.raises(ConnectionClosed) as closed:
            await _drain(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1008


async def _drain(ws: Any) -> None:
    while True:
        await ws.recv()


async def test_the_rate_limit_answers_rate_limited() -> None:
    async with running(PubSubService(rate=1.0, burst=3, max_errors=1000)) as url, client(url) as ws:
        for _ in range(10):
            await ws.send(type="ping")
        replies = [await ws.recv() for _ in range(10)]
    kinds = [reply.get("code", reply["type"]) for reply in replies]
    assert kinds[:3] == ["pong", "pong", "pong"]
    assert "rate_limited" in kinds[3:]


async def test_ten_thousand_rapid_subscribes_leave_the_server_up() -> None:
    hub = PubSubService(rate=1_000_000.0, burst=1_000_000)
    async with running(hub) as url, client(url) as noisy, client(url) as quiet:
        await quiet.subscribe("calm")
        for n in range(5000):
            await noisy.connection.send(json.dumps({"type": "subscribe", "channel": f"c{n % 7}"}))
            await noisy.connection.send(json.dumps({"type": "unsubscribe", "channel": f"c{n % 7}"}))
        await noisy.send(type="ping")
        await noisy.recv_until("pong", seconds=30.0)
        await hub.publish("calm", "only", "this")
        first = await quiet.recv()
        assert hub.get_client_channels(next(iter(hub._clients))) in (set(), {"calm"})
    assert first["data"] == "this"


async def test_presence_joins_and_leaves_once_per_user() -> None:
    hub = PubSubService()
    async with running(hub) as url, client(url) as watcher:
        await watcher.subscribe("room")
        async with client(url) as tab_one, client(url) as tab_two:
            for tab in (tab_one, tab_two):
                await tab.send(type="ping")
                await tab.recv_until("pong")
            ids = [c for c in hub._clients if c != next(iter(hub._clients))]
            for client_id in ids:
                await hub.authenticate_client(client_id, "carol")
                hub.subscribe(client_id, "room")
            joined = await watcher.recv_until("presence")
            assert set(hub.get_presence("room")) == {"carol"}
        left = await watcher.recv_until("presence")
        await hub.set_presence("dave", "online", {"via": "api"})
        assert hub.get_presence()["dave"] == {"via": "api"}
        await hub.set_presence("dave", "offline")
        await watcher.send(type="ping")
        after = await watcher.recv()
    assert (joined["event"], joined["data"]["user_id"]) == ("join", "carol")
    assert (left["event"], left["data"]["user_id"]) == ("leave", "carol")
    assert after["type"] == "pong"  # one join and one leave, no duplicates
    assert "dave" not in hub.get_presence()


async def test_server_side_surface() -> None:
    hub = PubSubService()
    async with running(hub) as url, client(url) as ws:
        await ws.send(type="ping")
        await ws.recv_until("pong")
        (client_id,) = hub._clients
        assert hub.subscribe(client_id, "x")
        assert not hub.subscribe(client_id, "x")
        assert hub.get_client_channels(client_id) == {"x"}
        assert hub.get_channel_clients("x") == {client_id}
        assert hub.unsubscribe(client_id, "x")
        assert not hub.unsubscribe(client_id, "x")
        assert not await hub.authenticate_client("nobody", "u")
        assert await hub.disconnect(client_id, 4000, "bye")
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
        await wait_for(lambda: not hub._clients)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 4000
    assert not await hub.disconnect(client_id)


async def test_close_is_bounded_and_says_1001() -> None:
    hub = PubSubService()
    async with running(hub) as url, client(url) as ws:
        await ws.subscribe("x")
        await hub.close(timeout=2.0)
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1001


async def test_an_ack_wait_ends_when_its_last_client_leaves() -> None:
    hub = PubSubService()
    async with running(hub) as url:
        async with client(url) as leaving:
            await leaving.subscribe("orders")
            publishing = asyncio.create_task(hub.publish("orders", "e", 1, ack=True, timeout=30))
            await leaving.recv_until("message")
        async with asyncio.timeout(10):  # far less than the 30 s timeout
            result = await publishing
    assert result.delivered == 1
    assert result.acknowledged == 0
