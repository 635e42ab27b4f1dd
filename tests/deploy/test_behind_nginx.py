"""The reference deployment on loopback (issue 9): nginx in front of two `palabre serve`
processes on one PostgreSQL and one Redis, every client through nginx on the websocket
transport, no sticky sessions. Each client's events are compared with the store's log."""

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from tests.deploy.arrangement import (
    RECONNECT_EVERY_SECONDS,
    RECONNECT_TRIES,
    Deployment,
    Person,
    assemble,
    caught_up,
    received_exactly_the_log,
    turns,
)
from tests.server.harness import WAIT_SECONDS

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

# A small W1: rooms of jurors with a facilitator each, and observers, everyone through nginx.
ROOMS, JURORS, OBSERVERS = 3, 4, 2
# A command refused for contention between the processes is sent again, this many times at most.
CONTENTION_TRIES = 3
# After the rooms set off again, the kill comes this soon: their commands are on the way.
IN_FLIGHT_SECONDS = 0.05


async def test_two_processes_behind_nginx_deliver_every_event_once_in_one_order(
    deployment: Deployment,
) -> None:
    assembly = await assemble(deployment, rooms=ROOMS, jurors=JURORS, observers=OBSERVERS)
    everyone = assembly.everyone()
    # The work is shared: nginx spread the sockets over both processes, evenly.
    held = await deployment.connections()
    assert held == dict(Counter(person.process for person in everyone))
    assert set(held) == {"a", "b"} and abs(held["a"] - held["b"]) <= 1, held
    # Each room's commands arrive on both processes.
    for room, (chair, jurors, _) in assembly.rooms.items():
        assert {person.process for person in (chair, *jurors)} == {"a", "b"}, room

    received_before = await deployment.commands()
    sent: Counter[str] = Counter()
    seqs: dict[str, list[int]] = {room: [] for room in assembly.rooms}

    async def send(person: Person, command: str, **fields: Any) -> dict[str, Any]:
        for _ in range(CONTENTION_TRIES):
            ack = await person.client.send(command, **fields)
            # Lost the race to the other process too often: nothing was written, and the
            # protocol says to send it again (docs/protocol.md, "When the server cannot answer").
            if ack.get("detail") != "too much contention":
                break
            await asyncio.sleep(0.1)
        assert ack["ok"], (person.name, command, fields, ack)
        sent[person.process] += 1
        seqs[fields["room"]].append(ack["seq"])
        return ack

    await asyncio.gather(
        *(
            turns(room, chair, jurors, 4, send)
            for room, (chair, jurors, _) in assembly.rooms.items()
        )
    )
    received_after = await deployment.commands()
    assert {name: received_after[name] - received_before[name] for name in received_after} == sent

    log = await caught_up(deployment, assembly)
    for room, acked in seqs.items():
        # One order with no gap in the log, and every acknowledged command in it.
        assert [seq for seq, _ in log[room]] == list(range(1, len(log[room]) + 1))
        assert set(acked) <= {seq for seq, _ in log[room]}
    for person in everyone:
        received_exactly_the_log(person, log)


async def reconnect_the_dropped(people: list[Person], stop: asyncio.Event) -> None:
    """Each client whose process died comes back through nginx, resuming from its last seq,
    as the pages do; bounded in tries."""
    for _ in range(RECONNECT_TRIES * 10):
        if stop.is_set():
            return
        for person in people:
            if person.client.sio.connected:
                continue
            try:
                await person.client.reconnect()
                person.reconnections += 1
            except Exception:
                # Not in yet (nginx still trying the dead process, or the sync cut short):
                # dropped again, so the next round tries anew.
                with contextlib.suppress(Exception):
                    await person.client.drop()
        await asyncio.sleep(RECONNECT_EVERY_SECONDS)


async def test_a_process_killed_mid_session_its_clients_resume_on_the_survivor_with_the_same_log(
    deployment: Deployment,
) -> None:
    assembly = await assemble(deployment, rooms=ROOMS, jurors=JURORS, observers=OBSERVERS)
    everyone = assembly.everyone()
    victim, survivor = deployment.processes
    on_victim = [person for person in everyone if person.process == victim.name]
    cut_off = {person.name for person in on_victim}
    assert 0 < len(on_victim) < len(everyone)

    killed = asyncio.Event()
    stop = asyncio.Event()

    async def send(person: Person, command: str, **fields: Any) -> dict[str, Any]:
        """A client cut off waits (bounded) for its reconnection, then sends; a command in
        flight at the kill may go unanswered: the log, not the ack, says what happened."""
        deadline = time.monotonic() + RECONNECT_TRIES * RECONNECT_EVERY_SECONDS
        while not person.client.sio.connected and time.monotonic() < deadline:
            await asyncio.sleep(RECONNECT_EVERY_SECONDS)
        try:
            ack = await person.client.send(command, **fields)
        except Exception as problem:
            ack = {"ok": False, "error": type(problem).__name__}
        person.acks.append({**ack, "after_kill": killed.is_set()})
        return ack

    # Every room does two turns, then all start their third at once and the victim dies while
    # those commands are on their way; four turns follow in every room.
    at_two: set[str] = set()
    everyone_at_two, go = asyncio.Event(), asyncio.Event()

    def pause_after_two(room: str) -> Callable[[int], Awaitable[None]]:
        async def after_turn(turn: int) -> None:
            if turn == 1:
                at_two.add(room)
                if len(at_two) == ROOMS:
                    everyone_at_two.set()
                await asyncio.wait_for(go.wait(), WAIT_SECONDS * 3)

        return after_turn

    async def kill_mid_session() -> None:
        await asyncio.wait_for(everyone_at_two.wait(), WAIT_SECONDS * 3)
        go.set()
        await asyncio.sleep(IN_FLIGHT_SECONDS)
        victim.kill()
        killed.set()

    comeback = asyncio.create_task(reconnect_the_dropped(everyone, stop))
    try:
        await asyncio.gather(
            kill_mid_session(),
            *(
                turns(room, chair, jurors, 6, send, pause_after_two(room))
                for room, (chair, jurors, _) in assembly.rooms.items()
            ),
        )
        log = await caught_up(deployment, assembly)
    finally:
        stop.set()
        await comeback

    assert killed.is_set()
    # The victim's clients, and only they, were cut off; each came back, through nginx, to
    # the survivor, which now holds every socket.
    assert {p.name for p in everyone if p.reconnections} == cut_off
    assert await deployment.connections() == {survivor.name: len(everyone)}
    for person in on_victim:
        # Back on the survivor, they kept deliberating.
        if person.role == "juror":
            assert any(a["ok"] and a["after_kill"] for a in person.acks), person.acks
        # They resumed from their last seq: no fresh snapshot, only the events they missed.
        for stream, start in person.start.items():
            assert person.client.snapshots[stream]["seq"] == start, (person.name, stream)
    for room in assembly.rooms:
        assert [seq for seq, _ in log[room]] == list(range(1, len(log[room]) + 1))
    # Everyone, cut off or not, ends with the same log: the store's.
    for person in everyone:
        received_exactly_the_log(person, log)
