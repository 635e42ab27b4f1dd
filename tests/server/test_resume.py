"""Coming back after a drop: exactly the missed events, each applied once, in order; or a fresh
snapshot when the gap is older than the server remembers, or makes no sense."""

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from facilitation import ASSEMBLY_STREAM, PLENARY_ROOM
from tests.server.harness import (
    WAIT_SECONDS,
    Client,
    acked,
    connected,
    demo_people,
    serving,
    settings_for,
)

# A resume window small enough to fall out of in a few commands.
RESUME_WINDOW_EVENTS = 5


def consecutive(client: Client, stream: str) -> None:
    seqs = [event["seq"] for event in client.applied[stream]]
    start = seqs[0] if seqs else 0
    assert seqs == list(range(start, start + len(seqs))), seqs
    assert not seqs or seqs[-1] == client.last[stream]


async def test_a_resumed_client_gets_exactly_what_it_missed(
    database_url: str, tmp_path: Path
) -> None:
    async with serving(settings_for(database_url, tmp_path)) as server:
        tokens = await demo_people(server.organiser, jurors=2)
        async with (
            connected(server.url, token=tokens["lead"]) as lead,
            connected(server.url, token=tokens["f1"]) as f1,
            connected(server.url, token=tokens["j1"]) as leaver,
            connected(server.url, token=tokens["j2"]) as stayer,
        ):
            await acked(leaver, "raise_hand")
            await acked(f1, "grant_floor", room=PLENARY_ROOM)
            before = await acked(leaver, "speak", text="Before the tunnel.")
            await leaver.wait_seq(PLENARY_ROOM, before)
            left_at = dict(leaver.last)

            await leaver.drop()
            await acked(stayer, "raise_hand")
            await acked(f1, "interject", room=PLENARY_ROOM, text="Where did they go?")
            await acked(lead, "broadcast", text="Five minutes left.")
            missed = {
                PLENARY_ROOM: await acked(f1, "extend_turn", room=PLENARY_ROOM, by_ms=10_000),
                ASSEMBLY_STREAM: await acked(lead, "broadcast", text="Four minutes left."),
            }
            for stream, head in missed.items():
                await stayer.wait_seq(stream, head)

            # What the server answers a resume: the missed events of each stream, in order.
            async with connected(server.url, token=tokens["j1"]) as probe:
                reply = await probe.raw("sync", {"resume": left_at})
            assert reply["ok"] and reply["snapshots"] == {}
            assert [(e["room"], e["seq"]) for e in reply["events"]] == [
                (stream, seq)
                for stream in sorted(missed)
                for seq in range(left_at[stream] + 1, missed[stream] + 1)
            ]

            leaver.snapshots.clear()
            await leaver.reconnect()
            live = await acked(leaver, "speak", text="Back again.")
            for client in (leaver, stayer):
                await client.wait_seq(PLENARY_ROOM, live)

        # No snapshot, nothing twice, nothing missing: as if it had never left.
        assert leaver.snapshots == {}
        assert leaver.duplicates == 0
        for stream in (PLENARY_ROOM, ASSEMBLY_STREAM):
            assert leaver.applied[stream] == stayer.applied[stream]
            consecutive(leaver, stream)


async def test_a_client_resuming_while_the_room_talks_applies_each_event_once(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path, rate_burst=1_000)
    async with serving(settings) as server:
        tokens = await demo_people(server.organiser, jurors=2)
        async with (
            connected(server.url, token=tokens["f1"]) as f1,
            connected(server.url, token=tokens["j1"]) as flaky,
            connected(server.url, token=tokens["j2"]) as steady,
        ):
            talking = asyncio.Event()
            acks: list[int] = []

            async def talk() -> None:
                for n in range(60):
                    acks.append(await acked(f1, "interject", room=PLENARY_ROOM, text=f"Point {n}."))
                    talking.set()

            talker = asyncio.create_task(talk())
            try:
                await asyncio.wait_for(talking.wait(), WAIT_SECONDS)
                for _ in range(4):
                    await flaky.drop()
                    await flaky.reconnect()
                await asyncio.wait_for(talker, WAIT_SECONDS)
            finally:
                talker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await talker
            for client in (flaky, steady):
                await client.wait_seq(PLENARY_ROOM, acks[-1])

        # Each event arrived once: live if fanned out after the socket joined, else in the reply.
        assert flaky.duplicates == 0, "an event came both live and in the sync reply"
        assert flaky.applied[PLENARY_ROOM] == steady.applied[PLENARY_ROOM]
        assert [e["seq"] for e in flaky.applied[PLENARY_ROOM]] == list(range(1, acks[-1] + 1))
        consecutive(flaky, PLENARY_ROOM)
        assert flaky.snapshots[PLENARY_ROOM]["seq"] == 0, "resumed, never re-snapshotted"


async def test_a_gap_older_than_the_resume_window_gets_a_snapshot(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path, resume_max_events=RESUME_WINDOW_EVENTS)
    async with serving(settings) as server:
        tokens = await demo_people(server.organiser)
        async with (
            connected(server.url, token=tokens["f1"]) as f1,
            connected(server.url, token=tokens["j1"]) as leaver,
        ):
            assembly_seq = leaver.last[ASSEMBLY_STREAM]
            await leaver.drop()
            for n in range(RESUME_WINDOW_EVENTS + 2):
                head = await acked(f1, "interject", room=PLENARY_ROOM, text=f"Point {n}.")

            leaver.snapshots.clear()
            await leaver.reconnect()
            # Only the stream with a gap too old is replaced; the other had none.
            assert set(leaver.snapshots) == {PLENARY_ROOM}
            view = leaver.snapshots[PLENARY_ROOM]
            assert view["seq"] == head == leaver.last[PLENARY_ROOM]
            assert len(view["statements"]) == RESUME_WINDOW_EVENTS + 2
            assert leaver.last[ASSEMBLY_STREAM] == assembly_seq
            assert leaver.applied[PLENARY_ROOM] == []

            # From the snapshot on, events apply as usual.
            after = await acked(f1, "interject", room=PLENARY_ROOM, text="Welcome back.")
            await leaver.wait_seq(PLENARY_ROOM, after)
            assert [e["seq"] for e in leaver.applied[PLENARY_ROOM]] == [after]

            # A gap just inside the window is still served event by event.
            await leaver.drop()
            inside = [
                await acked(f1, "interject", room=PLENARY_ROOM, text=f"Again {n}.")
                for n in range(RESUME_WINDOW_EVENTS)
            ]
            leaver.snapshots.clear()
            await leaver.reconnect()
            assert leaver.snapshots == {}
            assert [e["seq"] for e in leaver.applied[PLENARY_ROOM]] == [after, *inside]


async def test_a_client_claiming_a_seq_beyond_the_head_gets_a_snapshot(
    database_url: str, tmp_path: Path
) -> None:
    async with serving(settings_for(database_url, tmp_path)) as server:
        tokens = await demo_people(server.organiser)
        async with (
            connected(server.url, token=tokens["f1"]) as f1,
            connected(server.url, token=tokens["j1"]) as confused,
        ):
            head = await acked(f1, "interject", room=PLENARY_ROOM, text="Hello.")
            await confused.wait_seq(PLENARY_ROOM, head)
            assembly_head = confused.last[ASSEMBLY_STREAM]
            # As after the database was reset under a client that kept its seqs.
            confused.last = {PLENARY_ROOM: head + 50, ASSEMBLY_STREAM: assembly_head + 50}
            confused.snapshots.clear()
            await confused.sync()
            assert set(confused.snapshots) == {PLENARY_ROOM, ASSEMBLY_STREAM}
            assert confused.last == {PLENARY_ROOM: head, ASSEMBLY_STREAM: assembly_head}

            # Nonsense claims (negative, not a number) are treated the same way.
            reply = await confused.raw(
                "sync", {"resume": {PLENARY_ROOM: -3, ASSEMBLY_STREAM: "latest"}}
            )
            assert reply["ok"] and reply["events"] == []
            assert sorted(reply["snapshots"]) == [ASSEMBLY_STREAM, PLENARY_ROOM]

            after = await acked(f1, "interject", room=PLENARY_ROOM, text="Still here?")
            await confused.wait_seq(PLENARY_ROOM, after)
            assert [e["seq"] for e in confused.applied[PLENARY_ROOM]] == [head, after]


async def test_sync_refuses_a_payload_that_is_not_an_object_and_takes_none_as_a_first_sync(
    database_url: str, tmp_path: Path
) -> None:
    async with serving(settings_for(database_url, tmp_path)) as server:
        tokens = await demo_people(server.organiser)
        async with connected(server.url, token=tokens["j1"]) as juror:
            not_objects: list[Any] = [["plenary"], "resume", 7, 0.5, True]
            for payload in not_objects:
                reply = await juror.raw("sync", payload)
                assert (reply["ok"], reply["error"]) == (False, "invalid_command"), payload
                assert reply["detail"] == "sync takes one object", payload
            # No payload at all (or null) is a first sync: a snapshot of every stream.
            first_syncs: list[dict[str, Any] | None] = [None, {}]
            for first in first_syncs:
                reply = await juror.raw("sync", first)
                assert reply["ok"], (first, reply)
                assert sorted(reply["snapshots"]) == [ASSEMBLY_STREAM, PLENARY_ROOM]
