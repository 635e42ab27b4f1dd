"""Past rounds after the recall: the lead, facilitators and observers read what each closed room
produced (`past_rounds`), read-only, in their own audience's form; jurors may not, and nothing
can be done in a closed room any more (issue 10)."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from facilitation import ASSEMBLY_STREAM, PLENARY_ROOM
from tests.server.harness import (
    Client,
    LiveServer,
    acked,
    connected,
    demo_people,
    protocol_problem,
    serving,
    settings_for,
)

HIDING_REASON = "A personal attack."
MUTING_REASON = "Let others speak."


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with serving(settings_for(database_url, tmp_path)) as live:
        yield live


async def past(client: Client, **fields: Any) -> dict[str, Any]:
    reply: dict[str, Any] = await client.raw("past_rounds", fields)
    problem = protocol_problem("past_rounds_reply", reply)
    assert problem is None, problem
    return reply


def away(juror: Client) -> bool:
    return juror.you.get("room") not in (None, PLENARY_ROOM)


async def run_a_round(lead: Client, j1: Client, j2: Client) -> tuple[str, str]:
    """A round of two rooms in which j1's room talks, posts, votes and is moderated; then the
    recall. Returns that room and the id of its hidden argument."""
    await acked(lead, "open_round", room_count=2)
    await acked(lead, "start_round")
    await j1.wait_for(lambda: away(j1), "j1 is seated in a breakout room")
    await j2.wait_for(lambda: away(j2), "j2 is seated in a breakout room")
    room = j1.you["room"]
    # The allocation spreads four jurors over two rooms: put j2 beside j1 if it did not.
    if j2.you.get("room") != room:
        await acked(lead, "move_participant", participant="j2", to_room=room)
        await j2.wait_for(lambda: j2.you.get("room") == room, "j2 joins j1")
    await lead.wait_for(lambda: room in lead.you["streams"], "the lead follows the room")
    await acked(j1, "raise_hand")
    await acked(lead, "grant_floor", room=room)
    await acked(j1, "speak", text="My street lost its bakery.")
    question = await acked(lead, "pose_question", room=room, text="Cap rents?")
    position = await acked(j1, "post_position", question_id=f"n{question}", text="Yes.")
    argument = await acked(
        j2, "post_argument", position_id=f"n{position}", stance="against", text="You liar."
    )
    await acked(lead, "hide_post", room=room, node_id=f"n{argument}", reason=HIDING_REASON)
    poll = await acked(
        lead, "open_poll", room=room, question="Meet again?", kind="single", options=["yes", "no"]
    )
    await acked(j1, "vote", poll_id=f"p{poll}", choices=[0])
    await acked(lead, "close_poll", room=room, poll_id=f"p{poll}")
    await acked(lead, "mute_participant", room=room, participant="j2", reason=MUTING_REASON)
    assert (await past(lead, room=room))["error"] == "room_open"
    assert (await past(lead))["rounds"] == []
    closed = await acked(lead, "close_round")
    await lead.wait_seq(ASSEMBLY_STREAM, closed)
    return room, f"n{argument}"


async def test_the_lead_a_facilitator_and_an_observer_read_a_past_room_after_the_recall(
    server: LiveServer,
) -> None:
    tokens = await demo_people(server.organiser, jurors=4, pseudonymous=True)
    async with (
        connected(server.url, token=tokens["lead"]) as lead,
        connected(server.url, token=tokens["f1"]) as f1,
        connected(server.url, token=tokens["f2"]) as f2,
        connected(server.url, token=tokens["obs"]) as observer,
        connected(server.url, token=tokens["j1"]) as j1,
        connected(server.url, token=tokens["j2"]) as j2,
    ):
        room, hidden = await run_a_round(lead, j1, j2)

        listed = await past(lead)
        assert [r["rooms"] for r in listed["rounds"]] == [
            [{"room_id": f"{room[:-2]}-{n}", "name": f"Room {n}"} for n in (1, 2)]
        ]
        read = await past(lead, room=room)
        view = read["room"]
        assert read["rounds"] == listed["rounds"]
        assert view["closed"] and view["id"] == room
        assert [s["text"] for s in view["statements"]] == ["My street lost its bakery."]
        assert view["stats"]["j1"]["turns"] == 1
        assert [n["text"] for n in view["nodes"]] == ["Cap rents?", "Yes.", "You liar."]
        assert view["polls"][0]["totals"] == [1, 0] and not view["polls"][0]["open"]
        assert view["mute_reasons"] == {"j2": MUTING_REASON}
        node = next(n for n in view["nodes"] if n["node_id"] == hidden)
        hiding = {"action": "hidden", "actor": "lead", "reason": HIDING_REASON}
        assert node["moderation"] == [hiding]

        # A facilitator reads the hidden text only where they ran the room.
        ran = f1 if "f1" in view["facilitators"] else f2
        other = f2 if ran is f1 else f1
        for facilitator, text in ((ran, "You liar."), (other, None)):
            seen = (await past(facilitator, room=room))["room"]
            assert next(n for n in seen["nodes"] if n["node_id"] == hidden)["text"] == text
            assert seen["statements"] == view["statements"]

        # An observer of a pseudonymous assembly reads it with pseudonyms, as they watched it.
        watched = (await past(observer, room=room))["room"]
        assert '"j1"' not in json.dumps(watched) and '"j2"' not in json.dumps(watched)
        assert list(watched["mute_reasons"].values()) == [MUTING_REASON]
        assert next(n for n in watched["nodes"] if n["node_id"] == hidden)["text"] is None

        # An observer may also watch it: its snapshot, closed.
        async with connected(server.url, token=tokens["obs"], watch=room) as late:
            assert late.snapshots[room]["closed"]
            assert late.snapshots[room]["statements"] == watched["statements"]

        # The room is history: nothing more happens in it.
        refused = await lead.send("unmute_participant", room=room, participant="j2")
        assert (refused["ok"], refused["error"]) == (False, "room_closed")
        assert (await past(lead, room=room))["room"] == view


async def test_jurors_cannot_read_past_rounds_and_bad_requests_are_refused_with_a_code(
    server: LiveServer,
) -> None:
    tokens = await demo_people(server.organiser, jurors=4)
    async with (
        connected(server.url, token=tokens["lead"]) as lead,
        connected(server.url, token=tokens["j1"]) as j1,
        connected(server.url, token=tokens["j2"]) as j2,
    ):
        # A round proposed and withdrawn opened no room: it is no past round (run_a_round
        # checks that none is listed before its own ends).
        await acked(lead, "open_round", room_count=2)
        await acked(lead, "close_round")
        room, _ = await run_a_round(lead, j1, j2)
        assert len((await past(lead))["rounds"]) == 1
        assert (await past(j1))["error"] == "forbidden"
        assert (await past(j1, room=room))["error"] == "forbidden"
        for fields, code in (
            ({"room": "nowhere"}, "room_not_found"),
            ({"room": ASSEMBLY_STREAM}, "room_not_found"),
            ({"room": PLENARY_ROOM}, "room_open"),
            ({"room": 5}, "invalid_command"),
            ({"room": "x" * 65}, "invalid_command"),
            ({"round": "r1"}, "invalid_command"),
        ):
            assert (await past(lead, **fields))["error"] == code, fields
        for payload in (["room"], "plenary", 3):
            reply = await lead.raw("past_rounds", payload)
            assert (reply["ok"], reply["error"]) == (False, "invalid_command"), payload
        # Nothing above changed anything: the room reads as before.
        assert (await past(lead, room=room))["room"]["closed"]
