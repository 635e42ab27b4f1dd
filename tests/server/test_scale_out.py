"""Several palabre processes on one PostgreSQL and one Redis act as one server."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.server.harness import Client, LiveServer, connected, demo_people, settings_for


@pytest.fixture
async def two_nodes(
    postgres_url: str, redis_url: str, tmp_path: Path
) -> AsyncIterator[tuple[LiveServer, LiveServer]]:
    first = LiveServer(settings_for(postgres_url, tmp_path / "a", redis_url=redis_url))
    second = LiveServer(settings_for(postgres_url, tmp_path / "b", redis_url=redis_url))
    await first.start()
    await second.start()
    try:
        yield first, second
    finally:
        await second.stop()
        await first.stop()


async def test_people_on_two_processes_see_the_same_room(
    two_nodes: tuple[LiveServer, LiveServer],
) -> None:
    first, second = two_nodes
    tokens = await demo_people(first.organiser, "twonodes")
    async with (
        connected(first.url, token=tokens["j1"]) as juror,
        connected(second.url, token=tokens["f1"]) as facilitator,
        connected(second.url, token=tokens["j2"]) as other_juror,
    ):
        assert (await juror.send("raise_hand"))["ok"]
        assert (await facilitator.send("grant_floor", room="plenary"))["ok"]
        ack = await juror.send("speak", text="Rents went up by a third.")
        assert ack["ok"], ack
        assert (await other_juror.send("raise_hand"))["ok"]
        head = juror.last["plenary"] + 1
        for client in (juror, facilitator, other_juror):
            await client.wait_seq("plenary", head)
        assert (
            juror.types("plenary") == facilitator.types("plenary") == other_juror.types("plenary")
        )
        assert juror.types("plenary") == [
            "hand_raised",
            "floor_granted",
            "statement_made",
            "hand_raised",
        ]


async def test_commands_racing_on_two_processes_are_all_kept_in_one_order(
    two_nodes: tuple[LiveServer, LiveServer],
) -> None:
    first, second = two_nodes
    tokens = await demo_people(first.organiser, "race", jurors=6)
    juror_ids = [f"j{n}" for n in range(1, 7)]
    clients = []
    try:
        for index, juror in enumerate(juror_ids):
            node = first if index % 2 == 0 else second
            client = Client(node.url)
            await client.connect(token=tokens[juror])
            clients.append(client)
        acks = await asyncio.gather(*(client.send("raise_hand") for client in clients))
        assert all(ack["ok"] for ack in acks), acks
        assert sorted(ack["seq"] for ack in acks) == list(range(1, 7))
        for client in clients:
            await client.wait_seq("plenary", 6)
        orders = {tuple(p["participant"] for p in c.applied["plenary"]) for c in clients}
        assert len(orders) == 1 and sorted(orders.pop()) == juror_ids
    finally:
        for client in clients:
            await client.drop()
