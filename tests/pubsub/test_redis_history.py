"""The Redis backplane keeps each channel's history in a stream, bounded where it lives.

The conformance suite checks what replay returns; these look at the stream itself, so
a history that is only filtered on read (and grows without bound) fails here.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from infrakit.pubsub import PubSubService
from tests.pubsub.conftest import BackplaneFactory, wait_for

pytestmark = [
    pytest.mark.redis,
    pytest.mark.parametrize("make_backplane", ["redis"], indirect=True),
]


def _stream(backplane: Any, channel: str) -> str:
    return f"{backplane.prefix}stream:{channel}"


async def test_the_stream_is_trimmed_exactly_to_the_history_size(
    make_backplane: BackplaneFactory,
) -> None:
    backplane = make_backplane(history_size=3)
    async with PubSubService(backplane=backplane) as hub:
        seqs = [(await hub.publish("sized", "item", n)).seq for n in range(10)]
        entries = await backplane.client.xrange(_stream(backplane, "sized"))
        ttl = await backplane.client.pttl(_stream(backplane, "sized"))
    assert [entry_id for entry_id, _ in entries] == [f"{seq}-0".encode() for seq in seqs[-3:]]
    assert 0 < ttl <= backplane.history_age * 1000


async def test_entries_past_the_age_leave_the_stream_at_the_next_publish(
    make_backplane: BackplaneFactory,
) -> None:
    age = 1.0
    backplane = make_backplane(history_age=age)
    async with PubSubService(backplane=backplane) as hub:
        first = await hub.publish("aged", "item", "old")
        await hub.publish("aged", "item", "old too")
        published = time.time()
        await wait_for(lambda: time.time() > published + age)
        fresh = await hub.publish("aged", "item", "new")
        entries = await backplane.client.xrange(_stream(backplane, "aged"))
        replay = await backplane.history("aged", first.seq)
    assert [entry_id for entry_id, _ in entries] == [f"{fresh.seq}-0".encode()]
    assert replay is None


async def test_a_lost_counter_resumes_after_the_streams_last_id(
    make_backplane: BackplaneFactory,
) -> None:
    backplane = make_backplane()
    async with PubSubService(backplane=backplane) as hub:
        for n in range(3):
            last = await hub.publish("counted", "item", n)
        await backplane.client.delete(f"{backplane.prefix}seq:counted")  # as eviction would
        after = await hub.publish("counted", "item", "after")
        replay = await backplane.history("counted", last.seq)
    assert after.seq == last.seq + 1
    assert [(m.seq, m.data) for m in replay or []] == [(after.seq, "after")]


async def test_a_foreign_entry_in_the_stream_is_dropped_not_fatal(
    make_backplane: BackplaneFactory,
) -> None:
    backplane = make_backplane()
    stream = _stream(backplane, "foreign")
    await backplane.client.xadd(stream, {"junk": "x"}, id="0-1")
    async with PubSubService(backplane=backplane) as hub:
        first = await hub.publish("foreign", "item", "first")
        await backplane.client.xadd(stream, {"t": "junk"}, id=f"{first.seq}-1")
        second = await hub.publish("foreign", "item", "second")
        entries = await backplane.client.xrange(stream)
        replay = await backplane.history("foreign", 0)
    assert entries[0][0] == f"{first.seq}-0".encode()  # the head one was deleted at publish
    assert [(m.seq, m.data) for m in replay or []] == [(1, "first"), (2, "second")]
    assert second.seq == first.seq + 1
