"""The bus only signals; the store is the truth. Three processes on one PostgreSQL and one Redis
end with the same log however the bus mangles its messages: late, reversed, twice, or never."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from facilitation import ASSEMBLY_STREAM, Assembly, replay
from facilitation.codec import encode_state
from tests.server.harness import (
    WAIT_SECONDS,
    Client,
    LiveServer,
    acked,
    connected,
    demo_people,
    event_stream,
    settings_for,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
async def three_nodes(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[list[LiveServer]]:
    nodes = [
        LiveServer(settings_for(postgres_url, tmp_path / name, redis_url=redis_url))
        for name in "abc"
    ]
    for node in nodes:
        await node.start()
    try:
        yield nodes
    finally:
        for node in reversed(nodes):
            await node.stop()


class HeldBus:
    """What one node's bus receives, held back by the test and handed over as it chooses."""

    def __init__(self, node: LiveServer) -> None:
        bus = node.palabre.bus
        assert bus is not None
        self._receive: Callable[[Any], Awaitable[None]] = bus._receive
        self.held: list[Any] = []
        bus._receive = self._hold  # type: ignore[method-assign]

    async def _hold(self, raw: Any) -> None:
        self.held.append(raw)

    async def wait_held(self, count: int) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while len(self.held) < count:
            assert time.monotonic() < deadline, f"only {len(self.held)} bus messages came"
            await asyncio.sleep(0.02)

    async def hand_over(self, messages: list[Any]) -> None:
        for raw in messages:
            await self._receive(raw)


async def committed(node: LiveServer, assembly_id: str) -> dict[str, Any]:
    state = await node.palabre.hub.look(assembly_id, encode_state)
    assert state is not None
    return state


async def log_replayed(node: LiveServer, assembly_id: str) -> dict[str, Any]:
    records = await node.palabre.store.events(assembly_id)
    return encode_state(replay(record.event for record in records))


async def all_agree(nodes: list[LiveServer], assembly_id: str) -> None:
    """Every node's committed state becomes the replay of the log, within the usual wait."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        truth = await log_replayed(nodes[0], assembly_id)
        states = [await committed(node, assembly_id) for node in nodes]
        if all(state == truth for state in states):
            return
        assert time.monotonic() < deadline, "a process never caught up with the log"
        await asyncio.sleep(0.05)


async def test_bus_messages_out_of_order_twice_or_lost_leave_every_process_with_the_log(
    three_nodes: list[LiveServer],
) -> None:
    first, second, third = three_nodes
    tokens = await demo_people(first.organiser, "order")
    await all_agree(three_nodes, "order")
    held = HeldBus(third)
    async with (
        connected(first.url, token=tokens["lead"]) as lead,
        connected(second.url, token=tokens["j1"]) as juror,
        connected(third.url, token=tokens["j2"]) as watcher,
    ):
        # X on the assembly stream from the first process, then Y in the plenary from the second.
        x = await acked(lead, "broadcast", text="Ten minutes to the break.")
        await held.wait_held(1)
        y = await acked(juror, "raise_hand")
        await held.wait_held(2)
        # The third process hears of Y before X, then of Y again, then of nothing more.
        await held.hand_over([held.held[1], held.held[0], held.held[1]])
        await watcher.wait_seq(ASSEMBLY_STREAM, x)
        await watcher.wait_seq("plenary", y)
        # Lost outright: the third process still finds these in the store.
        z = await acked(lead, "broadcast", text="Five minutes to the break.")
        await watcher.wait_seq(ASSEMBLY_STREAM, z)
        await all_agree(three_nodes, "order")
        assert watcher.types(ASSEMBLY_STREAM)[-2:] == [
            "announcement_broadcast",
            "announcement_broadcast",
        ]


async def test_a_garbled_bus_message_is_ignored_and_hurts_nobody(
    three_nodes: list[LiveServer],
) -> None:
    first, _, third = three_nodes
    tokens = await demo_people(first.organiser, "garble")
    held = HeldBus(third)
    await held.hand_over(
        [b"not json", b"[]", b'{"assembly": 3, "position": "x"}', b'{"invite": 7}', b"{}"]
    )
    async with connected(first.url, token=tokens["j1"]) as juror:
        await acked(juror, "raise_hand")
    await held.hand_over(held.held)
    await all_agree(three_nodes, "garble")


async def test_a_withdrawn_invite_shows_its_users_out_on_every_process(
    three_nodes: list[LiveServer],
) -> None:
    first, second, third = three_nodes
    tokens = await demo_people(first.organiser, "revoke", public=False)
    links = {link.participant: link for link in await first.organiser.links("revoke")}
    juror = Client(second.url)
    await juror.connect(token=tokens["j1"])
    stream_url = f"{third.url}/assemblies/revoke/streams/plenary"
    async with event_stream(stream_url, token=tokens["obs"]) as stream:
        assert stream.status == 200
        assert await first.organiser.revoke(links["j1"].invite_id)
        assert await first.organiser.revoke(links["obs"].invite_id)
        await juror.wait_for(lambda: not juror.sio.connected, "the juror to be shown out")
        await stream.wait_ended()


def test_states_compare_whole() -> None:
    # The comparison above is only as good as encode_state: it covers every field of the state.
    assert encode_state(Assembly()) != encode_state(Assembly(title="x"))
