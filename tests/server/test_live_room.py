"""A live room over real sockets: everyone in it applies the same events in the same order, each
ack names the seq of its command's event, deadlines end turns, and presence says who is there."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from facilitation import ASSEMBLY_STREAM, PLENARY_ROOM
from tests.server.harness import (
    Client,
    LiveServer,
    ManualClock,
    acked,
    connected,
    demo_people,
    serving,
    settings_for,
)

# The reply lane's default limit: a reply turn ends this long after it is granted.
REPLY_LIMIT_MS = 30_000
EXTENSION_MS = 5_000


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def server(
    database_url: str, tmp_path: Path, clock: ManualClock
) -> AsyncIterator[LiveServer]:
    async with serving(settings_for(database_url, tmp_path), clock=clock) as live:
        yield live


class Session:
    """Commands sent by named clients, with the event type each ack should point at."""

    def __init__(self, **clients: Client) -> None:
        self.clients = clients
        self.acks: list[tuple[int, str, str]] = []

    async def do(self, who: str, command: str, expect: str, **fields: Any) -> int:
        seq = await acked(self.clients[who], command, **fields)
        self.acks.append((seq, expect, who))
        return seq

    async def settle(self, stream: str) -> list[dict[str, Any]]:
        """Wait until everyone has applied the stream's last acked event; return one's copy."""
        head = max(seq for seq, _, _ in self.acks)
        for client in self.clients.values():
            await client.wait_seq(stream, head)
        first = next(iter(self.clients.values()))
        return first.applied[stream]

    def check_acks(self, events: list[dict[str, Any]]) -> None:
        by_seq = {event["seq"]: event for event in events}
        for seq, expected_type, actor in self.acks:
            assert by_seq[seq]["type"] == expected_type, (seq, by_seq[seq])
            assert by_seq[seq]["actor"] == actor, (seq, by_seq[seq])


def same_everywhere(stream: str, *clients: Client) -> None:
    first, *others = clients
    for other in others:
        assert other.applied[stream] == first.applied[stream]
        assert other.duplicates == 0


async def seated_in(client: Client, room: str) -> None:
    await client.wait_for(lambda: client.you.get("room") == room, f"seated in {room}")


async def test_two_jurors_and_a_facilitator_apply_the_same_full_turn_cycle(
    server: LiveServer, clock: ManualClock
) -> None:
    tokens = await demo_people(server.organiser, jurors=2)
    async with (
        connected(server.url, token=tokens["f1"]) as f1,
        connected(server.url, token=tokens["j1"]) as j1,
        connected(server.url, token=tokens["j2"]) as j2,
    ):
        session = Session(f1=f1, j1=j1, j2=j2)
        await session.do("j1", "raise_hand", "hand_raised")
        await session.do("j2", "raise_hand", "hand_raised")
        await session.do("f1", "grant_floor", "floor_granted", room=PLENARY_ROOM)
        await session.do("j1", "speak", "statement_made", text="Rents rose by a third.")
        await session.do("j2", "request_reply", "reply_requested")
        await session.do("j1", "yield_floor", "turn_ended")
        # The reply lane comes before the queue.
        await session.do("f1", "next_speaker", "floor_granted", room=PLENARY_ROOM)
        await session.do("j2", "speak", "statement_made", text="Wages did not.")
        extended = await session.do(
            "f1", "extend_turn", "turn_extended", room=PLENARY_ROOM, by_ms=EXTENSION_MS
        )
        await session.settle(PLENARY_ROOM)

        # The deadline passes: the scheduler ends the reply turn, as the system.
        deadline_ms = f1.applied[PLENARY_ROOM][extended - 1]["deadline_ms"]
        clock.advance(deadline_ms - clock() + 1)
        server.wake_schedulers()
        expired_seq = extended + 1
        for client in (f1, j1, j2):
            await client.wait_seq(PLENARY_ROOM, expired_seq)
        expired = f1.applied[PLENARY_ROOM][expired_seq - 1]
        assert expired["type"] == "turn_ended"
        assert (expired["actor"], expired["reason"], expired["speaker"]) == (
            "system",
            "expired",
            "j2",
        )
        assert expired["duration_ms"] == REPLY_LIMIT_MS + EXTENSION_MS

        # j2 is still in the queue for a turn of their own.
        await session.do("f1", "next_speaker", "floor_granted", room=PLENARY_ROOM)
        await session.do("j1", "raise_hand", "hand_raised")
        await session.do("j1", "lower_hand", "hand_lowered")
        await session.do("f1", "revoke_floor", "turn_ended", room=PLENARY_ROOM, reason="Time.")
        events = await session.settle(PLENARY_ROOM)

    same_everywhere(PLENARY_ROOM, f1, j1, j2)
    session.check_acks(events)
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert [event["type"] for event in events] == [
        "hand_raised",
        "hand_raised",
        "floor_granted",
        "statement_made",
        "reply_requested",
        "turn_ended",
        "floor_granted",
        "statement_made",
        "turn_extended",
        "turn_ended",
        "floor_granted",
        "hand_raised",
        "hand_lowered",
        "turn_ended",
    ]
    grants = [event for event in events if event["type"] == "floor_granted"]
    assert [(g["speaker"], g["kind"]) for g in grants] == [
        ("j1", "turn"),
        ("j2", "reply"),
        ("j2", "turn"),
    ]
    ends = [event["reason"] for event in events if event["type"] == "turn_ended"]
    assert ends == ["yielded", "expired", "revoked"]


async def test_argument_posts_and_a_poll_reach_everyone_in_one_order(server: LiveServer) -> None:
    tokens = await demo_people(server.organiser, jurors=2)
    async with (
        connected(server.url, token=tokens["f1"]) as f1,
        connected(server.url, token=tokens["j1"]) as j1,
        connected(server.url, token=tokens["j2"]) as j2,
    ):
        session = Session(f1=f1, j1=j1, j2=j2)
        question = await session.do(
            "f1", "pose_question", "question_posed", room=PLENARY_ROOM, text="Cap rents?"
        )
        position = await session.do(
            "j1", "post_position", "position_posted", question_id=f"n{question}", text="Yes."
        )
        pro = await session.do(
            "j1",
            "post_argument",
            "argument_posted",
            position_id=f"n{position}",
            stance="for",
            text="Families stay put.",
        )
        con = await session.do(
            "j2",
            "post_argument",
            "argument_posted",
            position_id=f"n{position}",
            stance="against",
            text="Landlords stop building.",
        )
        await session.do("j2", "endorse", "endorsement_added", node_id=f"n{pro}")
        await session.do("j1", "endorse", "endorsement_added", node_id=f"n{con}")
        await session.do("j1", "post_reply", "reply_posted", parent_id=f"n{con}", text="Do they?")
        poll = await session.do(
            "f1",
            "open_poll",
            "poll_opened",
            room=PLENARY_ROOM,
            question="Cap rents?",
            kind="single",
            options=["yes", "no"],
        )
        await session.do("j1", "vote", "vote_cast", poll_id=f"p{poll}", choices=[0])
        await session.do("j2", "vote", "vote_cast", poll_id=f"p{poll}", choices=[1])
        await session.do("j2", "vote", "vote_cast", poll_id=f"p{poll}", choices=[0])
        await session.do("f1", "close_poll", "poll_closed", room=PLENARY_ROOM, poll_id=f"p{poll}")
        events = await session.settle(PLENARY_ROOM)

        # Someone who joins now sees the map and the poll the others built event by event.
        async with connected(server.url, token=tokens["f2"]) as latecomer:
            view = latecomer.snapshots[PLENARY_ROOM]

    same_everywhere(PLENARY_ROOM, f1, j1, j2)
    session.check_acks(events)
    assert [event["seq"] for event in events] == list(range(1, len(events) + 1))
    assert [event["type"] for event in events] == [expected for _, expected, _ in session.acks]
    stances = [(e["actor"], e["stance"]) for e in events if e["type"] == "argument_posted"]
    assert stances == [("j1", "for"), ("j2", "against")]
    closed = events[-1]
    assert (closed["totals"], closed["voters"]) == ([2, 0], 2)

    assert view["seq"] == len(events)
    nodes = {node["node_id"]: node for node in view["nodes"]}
    assert nodes[f"n{pro}"]["endorsers"] == ["j2"]
    assert nodes[f"n{con}"]["endorsers"] == ["j1"]
    assert [node["kind"] for node in view["nodes"]] == [
        "question",
        "position",
        "argument",
        "argument",
        "reply",
    ]
    (closed_poll,) = view["polls"]
    assert closed_poll["open"] is False
    assert closed_poll["votes"] == {"j1": [0], "j2": [0]}


async def test_presence_shows_who_is_connected_to_the_room(server: LiveServer) -> None:
    tokens = await demo_people(server.organiser, jurors=2)

    async def sees(client: Client, present: list[str]) -> None:
        await client.wait_for(
            lambda: client.presence.get(PLENARY_ROOM) == present, f"presence {present}"
        )

    async with (
        connected(server.url, token=tokens["f1"]) as f1,
        connected(server.url, token=tokens["j1"]) as j1,
    ):
        async with connected(server.url, token=tokens["j2"]) as j2:
            for client in (f1, j1, j2):
                await sees(client, ["f1", "j1", "j2"])
        for client in (f1, j1):
            await sees(client, ["f1", "j1"])

        # Two tabs of one juror count once, and closing one leaves them present.
        async with connected(server.url, token=tokens["j1"]) as second_tab:
            await sees(second_tab, ["f1", "j1"])
        async with connected(server.url, token=tokens["j2"]) as j2:
            await sees(f1, ["f1", "j1", "j2"])

            # The lead, who follows every room without sitting in one, is told who is there.
            async with connected(server.url, token=tokens["lead"]) as lead:
                await sees(lead, ["f1", "j1", "j2"])
                async with connected(server.url, token=tokens["obs"]) as observer:
                    await j2.drop()
                    await sees(lead, ["f1", "j1"])
                    await sees(f1, ["f1", "j1"])
                    assert observer.presence == {}


async def test_a_breakout_round_moves_each_person_to_their_room_and_back(
    server: LiveServer,
) -> None:
    tokens = await demo_people(server.organiser, jurors=2)
    async with (
        connected(server.url, token=tokens["lead"]) as lead,
        connected(server.url, token=tokens["f1"]) as f1,
        connected(server.url, token=tokens["f2"]) as f2,
        connected(server.url, token=tokens["j1"]) as j1,
        connected(server.url, token=tokens["j2"]) as j2,
    ):
        people = {"f1": f1, "f2": f2, "j1": j1, "j2": j2}
        assert (await lead.send("open_round", room_count=2))["ok"]
        started = await lead.send("start_round")
        assert started["ok"], started
        await lead.wait_seq(ASSEMBLY_STREAM, started["seq"])
        (round_started,) = [e for e in lead.applied[ASSEMBLY_STREAM] if e["seq"] == started["seq"]]
        room_of = {
            person: room["room_id"]
            for room in round_started["rooms"]
            for person in (*room["jurors"], *room["facilitators"])
        }
        assert sorted(room_of) == ["f1", "f2", "j1", "j2"]
        assert len(set(room_of.values())) == 2

        for person, client in people.items():
            room = room_of[person]
            await seated_in(client, room)
            assert set(client.you["streams"]) == {ASSEMBLY_STREAM, room}
            assert client.snapshots[room]["seq"] == 0
        await lead.wait_for(
            lambda: set(lead.you["streams"]) == {ASSEMBLY_STREAM, PLENARY_ROOM, *room_of.values()},
            "the lead follows every room",
        )

        # In a breakout room, a hand (the room is implied) reaches that room only.
        ack = await j1.send("raise_hand")
        assert ack["ok"], ack
        room = room_of["j1"]
        facilitator = next(f for f in ("f1", "f2") if room_of[f] == room)
        for client in (j1, people[facilitator], lead):
            await client.wait_seq(room, ack["seq"])
            assert client.types(room) == ["hand_raised"]
        await people[facilitator].wait_for(
            lambda: people[facilitator].presence.get(room) == sorted([facilitator, "j1"]),
            "presence in the breakout room",
        )
        assert room not in j2.applied

        # The recall: everyone follows the plenary again.
        assert (await lead.send("close_round"))["ok"]
        for client in people.values():
            await seated_in(client, PLENARY_ROOM)
            assert set(client.you["streams"]) == {ASSEMBLY_STREAM, PLENARY_ROOM}
        same_everywhere(ASSEMBLY_STREAM, j1, j2)


async def test_the_lead_names_the_room_of_a_room_command_once_several_are_open(
    server: LiveServer,
) -> None:
    tokens = await demo_people(server.organiser, jurors=2)
    async with connected(server.url, token=tokens["lead"]) as lead:
        # One room open: the gateway fills it in.
        assert (await lead.send("lock_room"))["ok"]
        assert (await lead.send("unlock_room"))["ok"]
        assert (await lead.send("open_round", room_count=2))["ok"]
        started = await acked(lead, "start_round")
        await lead.wait_seq(ASSEMBLY_STREAM, started)
        await lead.wait_for(lambda: len(lead.you["streams"]) == 4, "the lead follows 3 rooms")

        refused = await lead.send("lock_room")

        assert (refused["ok"], refused["error"]) == (False, "invalid_command")
        assert refused["detail"].startswith("room: "), refused
        breakout = next(s for s in lead.you["streams"] if s not in {ASSEMBLY_STREAM, PLENARY_ROOM})
        assert (await lead.send("lock_room", room=breakout))["ok"]


async def test_a_pause_stops_the_turn_clock_and_its_deadline_moves_on(
    server: LiveServer, clock: ManualClock
) -> None:
    tokens = await demo_people(server.organiser, jurors=2)
    async with (
        connected(server.url, token=tokens["f1"]) as f1,
        connected(server.url, token=tokens["j1"]) as j1,
    ):
        session = Session(f1=f1, j1=j1)
        await session.do("j1", "raise_hand", "hand_raised")
        granted = await session.do("f1", "grant_floor", "floor_granted", room=PLENARY_ROOM)
        await session.settle(PLENARY_ROOM)
        turn = f1.applied[PLENARY_ROOM][granted - 1]
        limit_ms = turn["deadline_ms"] - turn["at_ms"]

        clock.advance(10_000)
        await session.do("f1", "pause_room", "room_paused", room=PLENARY_ROOM)
        # Long past the deadline, but paused: the expiry the scheduler sends decides nothing.
        clock.advance(limit_ms * 2)
        server.wake_schedulers()
        resumed = await session.do("f1", "resume_room", "room_resumed", room=PLENARY_ROOM)
        await session.settle(PLENARY_ROOM)
        assert f1.types(PLENARY_ROOM)[-2:] == ["room_paused", "room_resumed"]
        assert f1.applied[PLENARY_ROOM][-1]["paused_ms"] == limit_ms * 2

        # The turn still has what was left of it when the room paused.
        clock.advance(limit_ms - 10_000 - 1)
        server.wake_schedulers()
        spoke = await session.do("j1", "speak", "statement_made", text="Just in time.")
        assert spoke == resumed + 1
        clock.advance(1)
        server.wake_schedulers()
        for client in (f1, j1):
            await client.wait_seq(PLENARY_ROOM, spoke + 1)
        ended = f1.applied[PLENARY_ROOM][spoke]
        assert (ended["type"], ended["reason"]) == ("turn_ended", "expired")
        assert ended["duration_ms"] == limit_ms
    same_everywhere(PLENARY_ROOM, f1, j1)
    session.check_acks(f1.applied[PLENARY_ROOM])


async def test_agenda_items_and_round_timers_end_at_their_deadlines(
    server: LiveServer, clock: ManualClock
) -> None:
    item_ms, round_ms = 300_000, 900_000
    tokens = await demo_people(server.organiser, jurors=2)
    async with (
        connected(server.url, token=tokens["lead"]) as lead,
        connected(server.url, token=tokens["j1"]) as j1,
    ):
        assert (await lead.send("add_agenda_item", title="Rents", duration_ms=item_ms))["ok"]
        started = await lead.send("advance_agenda", room=PLENARY_ROOM)
        assert started["ok"], started
        clock.advance(item_ms)
        server.wake_schedulers()
        await j1.wait_seq(PLENARY_ROOM, started["seq"] + 1)
        ended = j1.applied[PLENARY_ROOM][-1]
        assert (ended["type"], ended["reason"], ended["actor"]) == (
            "agenda_item_ended",
            "deadline",
            "system",
        )

        assert (await lead.send("open_round", room_count=2))["ok"]
        begun = await lead.send("start_round", duration_ms=round_ms)
        assert begun["ok"], begun
        await seated_in(j1, next(s for s in j1.you["streams"] if s != ASSEMBLY_STREAM))
        clock.advance(round_ms)
        server.wake_schedulers()
        await j1.wait_seq(ASSEMBLY_STREAM, begun["seq"] + 1)
        assert j1.types(ASSEMBLY_STREAM)[-1] == "round_timer_ended"
        # Time is up, but only the lead recalls everyone: the rooms stay open.
        assert j1.you["room"] != PLENARY_ROOM


async def test_a_removed_juror_stops_following_the_room(server: LiveServer) -> None:
    tokens = await demo_people(server.organiser, jurors=2)
    async with (
        connected(server.url, token=tokens["f1"]) as f1,
        connected(server.url, token=tokens["j1"]) as removed,
        connected(server.url, token=tokens["j2"]) as j2,
    ):
        await removed.send("raise_hand")
        ack = await f1.send(
            "remove_participant", room=PLENARY_ROOM, participant="j1", reason="Abuse."
        )
        assert ack["ok"], ack
        await removed.wait_for(lambda: removed.you.get("room") is None, "removed from the room")
        assert removed.you["streams"] == [ASSEMBLY_STREAM]
        await f1.wait_for(lambda: f1.presence.get(PLENARY_ROOM) == ["f1", "j2"], "presence")

        refused = await removed.send("raise_hand", room=PLENARY_ROOM)
        assert refused["error"] == "not_in_room"
        later = await j2.send("raise_hand")
        await f1.wait_seq(PLENARY_ROOM, later["seq"])
        assert removed.last.get(PLENARY_ROOM) is None
        assert [e["seq"] for e in removed.applied[PLENARY_ROOM]] == list(range(1, ack["seq"] + 1))


async def test_an_announced_recall_brings_everyone_back_when_its_time_comes(
    server: LiveServer, clock: ManualClock
) -> None:
    warning_ms = 60_000
    tokens = await demo_people(server.organiser, jurors=2)
    async with (
        connected(server.url, token=tokens["lead"]) as lead,
        connected(server.url, token=tokens["j1"]) as j1,
    ):
        assert (await lead.send("pose_question", room=PLENARY_ROOM, text="Cap rents?"))["ok"]
        assert (await lead.send("open_round", room_count=2))["ok"]
        assert (await lead.send("start_round"))["ok"]
        await j1.wait_for(lambda: j1.you.get("room") != PLENARY_ROOM, "the move to a breakout")
        breakout = j1.you["room"]

        # The room starts from the plenary's question (in the snapshot the move brought, or
        # as its first event).
        def questions() -> list[str]:
            snapshot = j1.snapshots.get(breakout, {})
            shown = [node["text"] for node in snapshot.get("nodes", [])]
            return shown + [e["text"] for e in j1.applied.get(breakout, []) if "text" in e]

        await j1.wait_for(lambda: questions() == ["Cap rents?"], "the question")

        announced = await lead.send("close_round", after_ms=warning_ms)
        assert announced["ok"], announced
        await j1.wait_seq(ASSEMBLY_STREAM, announced["seq"])
        scheduled = j1.applied[ASSEMBLY_STREAM][-1]
        assert (scheduled["type"], scheduled["recall_at_ms"]) == (
            "recall_scheduled",
            scheduled["at_ms"] + warning_ms,
        )
        assert j1.you["room"] == breakout
        clock.advance(warning_ms)
        server.wake_schedulers()
        await j1.wait_for(lambda: j1.you.get("room") == PLENARY_ROOM, "the recall")
        closed = [e for e in j1.applied[ASSEMBLY_STREAM] if e["type"] == "round_closed"]
        assert closed and closed[-1]["actor"] == "system"
