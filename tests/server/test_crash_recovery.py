"""kill -9 in the middle of a session: the restarted server has every acknowledged event, the
floor and the queue as they were, and the deadlines still fire."""

import asyncio
import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from facilitation import PLENARY_ROOM
from facilitation.codec import encode
from facilitation.record import verify_chain
from server.store import Store
from tests.server.harness import (
    Client,
    ServerProcess,
    acked,
    connected,
    demo_people,
    serving,
    settings_for,
)

# The shortest turn a facilitator may set: the restarted server must end it on time.
TURN_LIMIT_MS = 10_000
WARNING_MS = 2_000
# Commands in flight when the server dies, and how many acks to see before killing it.
BURST_COMMANDS = 60
ACKED_BEFORE_KILL = 10
# The expiry is due at the deadline; allow this much for a restart on a slow machine.
EXPIRY_GRACE_SECONDS = 10.0


async def until(client: Client, what: str, seconds: float, condition: Callable[[], bool]) -> None:
    """Like `Client.wait_for`, with a bound longer than its own."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(AssertionError):
            await client.wait_for(condition, what)
            return
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_killed_server_restarts_with_every_acknowledged_event_and_its_deadlines(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The burst below is faster than a person's rate limit; snapshots every few events make
    # the restart load a snapshot and replay the tail after it.
    monkeypatch.setenv("PALABRE_RATE_BURST", "1000")
    monkeypatch.setenv("PALABRE_SNAPSHOT_EVERY_EVENTS", "7")
    settings = settings_for(database_url, tmp_path)
    async with serving(settings) as preparation:
        tokens = await demo_people(preparation.organiser, jurors=2)

    process = ServerProcess(settings)
    await asyncio.to_thread(process.start)
    try:
        async with (
            connected(process.url, token=tokens["f1"]) as f1,
            connected(process.url, token=tokens["j1"]) as j1,
            connected(process.url, token=tokens["j2"]) as j2,
        ):
            await acked(
                f1,
                "set_room_rules",
                room=PLENARY_ROOM,
                turn_limit_ms=TURN_LIMIT_MS,
                warning_ms=WARNING_MS,
            )
            await acked(j1, "raise_hand")
            await acked(j2, "raise_hand")
            await acked(f1, "grant_floor", room=PLENARY_ROOM)
            granted_at = time.monotonic()

            texts = {
                asyncio.create_task(
                    f1.send("interject", room=PLENARY_ROOM, text=f"Note {n}.")
                ): f"Note {n}."
                for n in range(BURST_COMMANDS)
            }
            pending = set(texts)
            while len(texts) - len(pending) < ACKED_BEFORE_KILL:
                _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            process.kill()
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            acknowledged = {
                task.result()["seq"]: text
                for task, text in texts.items()
                if not task.cancelled() and task.exception() is None and task.result()["ok"]
            }
            seen_live = list(j1.applied[PLENARY_ROOM])
        assert len(acknowledged) >= ACKED_BEFORE_KILL
        grant = next(e for e in seen_live if e["type"] == "floor_granted")

        await asyncio.to_thread(process.start)
        store = Store(settings.database_url)
        await store.start()
        try:
            stored = await store.stream_events("jury", PLENARY_ROOM)
            records = [record.record() for record in await store.events("jury")]
        finally:
            await store.close()
        by_seq = {record.event.seq: encode(record.event) for record in stored}

        # Every acknowledged command's event is on the record, as acknowledged.
        for seq, text in acknowledged.items():
            assert (by_seq[seq]["type"], by_seq[seq]["text"]) == ("statement_made", text)
        # What was shown live before the kill is what the log holds.
        for payload in seen_live:
            assert by_seq[payload["seq"]] == payload
        assert sorted(by_seq) == list(range(1, len(by_seq) + 1))
        assert verify_chain(records) == []

        async with connected(process.url, token=tokens["f1"]) as after:
            view = after.snapshots[PLENARY_ROOM]
            assert view["seq"] == max(by_seq)
            assert view["floor"]["turn_id"] == grant["turn_id"]
            assert view["floor"]["speaker"] == "j1"
            assert view["floor"]["deadline_ms"] == grant["deadline_ms"]
            assert [entry["participant"] for entry in view["queue"]] == ["j2"]
            assert view["rules"]["turn_limit_ms"] == TURN_LIMIT_MS
            assert [s["text"] for s in view["statements"]] == [
                by_seq[seq]["text"]
                for seq in sorted(by_seq)
                if by_seq[seq]["type"] == "statement_made"
            ]

            # The turn granted before the kill still ends at its deadline, after the restart.
            remaining = TURN_LIMIT_MS / 1000 - (time.monotonic() - granted_at)
            await until(
                after,
                "the turn to expire",
                max(remaining, 0) + EXPIRY_GRACE_SECONDS,
                lambda: any(e["type"] == "turn_ended" for e in after.applied[PLENARY_ROOM]),
            )
            (ended,) = [e for e in after.applied[PLENARY_ROOM] if e["type"] == "turn_ended"]
            assert (ended["turn_id"], ended["reason"], ended["actor"]) == (
                grant["turn_id"],
                "expired",
                "system",
            )
            assert ended["duration_ms"] == TURN_LIMIT_MS
    finally:
        process.stop()
