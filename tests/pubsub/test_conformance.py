"""One suite for every backplane (memory, Redis, PostgreSQL): two hubs are two nodes."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from infrakit.pubsub import Publisher, PubSubService
from tests.pubsub.conftest import BackplaneFactory, client, running, wait_for


async def test_a_subscriber_receives_numbered_messages(make_backplane: BackplaneFactory) -> None:
    hub = PubSubService(backplane=make_backplane())
    async with running(hub) as url, client(url) as ws:
        await ws.subscribe("room")
        results = [await hub.publish("room", "said", {"n": n}) for n in range(3)]
        received = [await ws.recv_until("message") for _ in range(3)]
    assert [int(r) for r in results] == [1, 1, 1]
    assert [r.delivered for r in results] == [1, 1, 1]
    assert [m["data"] for m in received] == [{"n": 0}, {"n": 1}, {"n": 2}]
    seqs = [m["seq"] for m in received]
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]
    assert [r.seq for r in results] == seqs
    assert received[0]["event"] == "said"
    assert received[0]["channel"] == "room"


async def test_two_hubs_deliver_to_each_others_clients(make_backplane: BackplaneFactory) -> None:
    node_a = PubSubService(backplane=make_backplane(), node_id="node-a")
    node_b = PubSubService(backplane=make_backplane(), node_id="node-b")
    async with (
        running(node_a) as url_a,
        running(node_b) as url_b,
        client(url_a) as on_a,
        client(url_b) as on_b,
    ):
        await on_a.subscribe("news")
        await on_b.subscribe("news")
        await wait_for(lambda: node_a.get_stats().nodes == 2)  # heartbeats seen
        result = await node_a.publish("news", "headline", "from a")
        assert result.delivered == 1
        assert result.nodes == 2
        assert (await on_b.recv_until("message"))["data"] == "from a"
        assert (await on_a.recv_until("message"))["data"] == "from a"
        await node_b.publish("news", "headline", "from b")
        assert (await on_a.recv_until("message"))["data"] == "from b"


async def test_presence_is_consistent_on_both_nodes(make_backplane: BackplaneFactory) -> None:
    node_a = PubSubService(backplane=make_backplane(), presence_ttl=3.0)
    node_b = PubSubService(backplane=make_backplane(), presence_ttl=3.0)
    async with running(node_a) as url_a, running(node_b):
        async with client(url_a) as on_a:
            (client_id,) = node_a._clients  # the one connection
            assert await node_a.authenticate_client(client_id, "alice", {"name": "Alice"})
            await on_a.subscribe("room")
            await wait_for(lambda: "alice" in node_b.get_presence("room"))
            assert node_b.get_presence()["alice"] == {"name": "Alice"}
            assert "alice" in node_a.get_presence("room")
        await wait_for(lambda: "alice" not in node_b.get_presence())
        assert "alice" not in node_a.get_presence()


async def test_reconnecting_with_since_gets_every_missed_message_once(
    make_backplane: BackplaneFactory,
) -> None:
    hub = PubSubService(backplane=make_backplane())
    async with running(hub) as url:
        async with client(url) as ws:
            await ws.subscribe("feed")
            await hub.publish("feed", "item", 0)
            last = (await ws.recv_until("message"))["seq"]
        for n in range(1, 6):
            await hub.publish("feed", "item", n)
        async with client(url) as ws:
            await ws.subscribe("feed", since=last)
            await hub.publish("feed", "item", 6)
            got = [await ws.recv_until("message") for _ in range(6)]
            await ws.send(type="ping")
            assert (await ws.recv())["type"] == "pong"  # nothing else came before the pong
    assert [m["data"] for m in got] == [1, 2, 3, 4, 5, 6]
    assert [m["seq"] for m in got] == list(range(last + 1, last + 7))


async def test_history_that_no_longer_reaches_back_sends_a_gap(
    make_backplane: BackplaneFactory,
) -> None:
    hub = PubSubService(backplane=make_backplane(history_size=2))
    async with running(hub) as url:
        first = await hub.publish("short", "item", 0)
        for n in range(1, 5):
            await hub.publish("short", "item", n)
        async with client(url) as ws:
            await ws.subscribe("short", since=first.seq)
            gap = await ws.recv_until("gap")
    assert gap == {"type": "gap", "channel": "short", "seq": first.seq}


async def test_history_is_bounded_by_size(make_backplane: BackplaneFactory) -> None:
    hub = PubSubService(backplane=make_backplane(history_size=3))
    async with hub:
        seqs = [(await hub.publish("sized", "item", n)).seq for n in range(5)]
        kept = await hub.backplane.history("sized", seqs[1])
        trimmed = await hub.backplane.history("sized", seqs[0])
        caught_up = await hub.backplane.history("sized", seqs[-1])
    assert [(m.seq, m.data) for m in kept or []] == [(seqs[n], n) for n in (2, 3, 4)]
    assert trimmed is None  # the message after `since` was trimmed: a gap
    assert caught_up == []


async def test_history_is_bounded_by_age(make_backplane: BackplaneFactory) -> None:
    age = 1.0
    hub = PubSubService(backplane=make_backplane(history_age=age))
    async with hub:
        first = await hub.publish("aged", "item", "old")
        await hub.publish("aged", "item", "old too")
        published = time.time()
        await wait_for(lambda: time.time() > published + age)
        fresh = await hub.publish("aged", "item", "new")
        kept = await hub.backplane.history("aged", fresh.seq - 1)
        expired = await hub.backplane.history("aged", first.seq)
    assert [(m.seq, m.data) for m in kept or []] == [(fresh.seq, "new")]
    assert expired is None  # the message after `since` aged out: a gap


async def test_payloads_above_notify_limit_travel(make_backplane: BackplaneFactory) -> None:
    node_a = PubSubService(backplane=make_backplane())
    node_b = PubSubService(backplane=make_backplane())
    big = "x" * 20_000
    async with running(node_a), running(node_b) as url_b, client(url_b) as ws:
        await ws.subscribe("big")
        await node_a.publish("big", "blob", big)
        assert (await ws.recv_until("message"))["data"] == big


async def test_a_publisher_without_sockets_reaches_the_hubs(
    make_backplane: BackplaneFactory,
) -> None:
    hub = PubSubService(backplane=make_backplane())
    async with running(hub) as url, client(url) as ws:
        await ws.subscribe("jobs")
        publisher = Publisher(make_backplane())
        result = await publisher.publish("jobs", "done", {"id": 7})
        assert result.delivered == 0
        assert (await ws.recv_until("message"))["data"] == {"id": 7}
        if make_backplane.kind != "memory":  # type: ignore[attr-defined]
            await publisher.close()


@pytest.mark.parametrize("channel", ["", "a b", "x" * 201])
async def test_bad_channel_names_are_refused(
    make_backplane: BackplaneFactory, channel: str
) -> None:
    from infrakit.pubsub import PubSubError

    hub = PubSubService(backplane=make_backplane())
    async with hub:
        with pytest.raises(PubSubError) as caught:
            await hub.publish(channel, "event", None)
    assert caught.value.details["field"] == "channel"


async def test_health_and_stats(make_backplane: BackplaneFactory) -> None:
    hub = PubSubService(backplane=make_backplane())
    async with running(hub) as url, client(url) as ws:
        await ws.subscribe("room")
        await hub.publish("room", "e", 1)
        await ws.recv_until("message")
        assert await hub.health()
        stats = hub.get_stats()
    assert stats.connections == 1
    assert stats.channels == 1
    assert stats.messages_out == 1
    assert stats.messages_in == 1


async def _cut_listener(kind: str, backplane: Any) -> None:
    """Kill the listener's own connection on the server (only connections we made)."""
    if kind == "redis":
        client = backplane.client
        for entry in await client.client_list():
            if entry.get("name") == backplane.client_name and "subscribe" in entry.get("cmd", ""):
                await client.client_kill_filter(_id=entry["id"])
        return
    await backplane.database.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = %s AND pid <> pg_backend_pid()",
        (f"infrakit-pubsub-{backplane.table}",),
    )


@pytest.mark.parametrize("make_backplane", ["redis", "postgres"], indirect=True)
async def test_a_lost_backplane_connection_is_restored(make_backplane: BackplaneFactory) -> None:
    kind = make_backplane.kind  # type: ignore[attr-defined]
    options = {"client_name": f"pubsub-test-{uuid.uuid4().hex[:8]}"} if kind == "redis" else {}
    listening = make_backplane(**options)
    node_a = PubSubService(backplane=make_backplane())
    node_b = PubSubService(backplane=listening)
    async with running(node_a), running(node_b) as url_b, client(url_b) as on_b:
        await on_b.subscribe("resilient")
        first = await node_a.publish("resilient", "e", "before")
        assert (await on_b.recv_until("message"))["seq"] == first.seq
        await _cut_listener(kind, listening)
        await wait_for(lambda: listening.restarts >= 1 and listening._listener.ready.is_set())
        after = await node_a.publish("resilient", "e", "after")
        message = await on_b.recv_until("message")
    assert message["data"] == "after"
    assert message["seq"] == after.seq
    assert node_b.get_stats().backplane_restarts >= 1


async def _send_garbage(kind: str, backplane: Any) -> int:
    """Put malformed items on the bus the way a buggy or hostile peer could."""
    if kind == "redis":
        bus = f"{backplane.prefix}bus"
        for junk in (b"\xff\xfe", b"0 not json", b"7 [1, 2]", b'3 {"o": "x"}', b"x {}"):
            await backplane.client.publish(bus, junk)
        return 5
    for junk in ("garbage", "999999999"):
        await backplane.database.execute(
            "SELECT pg_notify(%s, %s)", (f"{backplane.table}_bus", junk)
        )
    return 2


@pytest.mark.parametrize("make_backplane", ["redis", "postgres"], indirect=True)
async def test_the_listener_survives_malformed_messages(make_backplane: BackplaneFactory) -> None:
    kind = make_backplane.kind  # type: ignore[attr-defined]
    listening = make_backplane()
    node_a = PubSubService(backplane=make_backplane())
    node_b = PubSubService(backplane=listening)
    async with running(node_a), running(node_b) as url_b, client(url_b) as on_b:
        await on_b.subscribe("sturdy")
        sent = await _send_garbage(kind, listening)
        await wait_for(lambda: listening.malformed >= sent)
        await node_a.publish("sturdy", "e", "still listening")
        assert (await on_b.recv_until("message"))["data"] == "still listening"
    assert listening.restarts == 0
