"""Reporting back over real sockets: a room's carry proposal and a juror's objection reach the
room, the recall brings each room's carry to everyone's plenary map, the server proposes the
near-duplicate merge with its reasons, and only the lead's confirmation merges."""

import functools
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
    serving,
    settings_for,
)


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with serving(settings_for(database_url, tmp_path)) as live:
        yield live


async def fresh_map(server: LiveServer, token: str) -> Any:
    """The map as a snapshot of the assembly shows it to someone who connects now."""
    async with connected(server.url, token=token) as fresh:
        return fresh.snapshots[ASSEMBLY_STREAM]["synthesis"]


def away(client: Client) -> bool:
    return client.you.get("room") not in (None, PLENARY_ROOM)


def has_proposal(client: Client) -> bool:
    return bool(of_type(client, "merge_proposed"))


def of_type(client: Client, kind: str) -> list[dict[str, Any]]:
    return [e for e in client.applied.get(ASSEMBLY_STREAM, []) if e["type"] == kind]


async def test_a_carry_is_proposed_objected_to_and_merged_only_by_the_lead(
    server: LiveServer,
) -> None:
    tokens = await demo_people(server.organiser, jurors=4)
    async with (
        connected(server.url, token=tokens["lead"]) as lead,
        connected(server.url, token=tokens["f1"]) as f1,
        connected(server.url, token=tokens["f2"]) as f2,
        connected(server.url, token=tokens["j1"]) as j1,
        connected(server.url, token=tokens["j2"]) as j2,
        connected(server.url, token=tokens["j3"]) as j3,
        connected(server.url, token=tokens["j4"]) as j4,
        connected(server.url, token=tokens["obs"]) as obs,
    ):
        jurors = {"j1": j1, "j2": j2, "j3": j3, "j4": j4}
        facilitators = {"f1": f1, "f2": f2}
        await acked(lead, "pose_question", room=PLENARY_ROOM, text="What should the budget fund?")
        await acked(lead, "open_round", room_count=2)
        await acked(lead, "start_round")
        for client in (*jurors.values(), *facilitators.values()):
            await client.wait_for(functools.partial(away, client), "seated in a breakout room")
        rooms = sorted({client.you["room"] for client in jurors.values()})
        texts = {
            rooms[0]: ["Make public buses free for every resident", "Open the library on Sundays"],
            rooms[1]: ["Public buses should be free for all residents"],
        }
        positions: dict[str, list[str]] = {}
        for room, room_texts in texts.items():
            author = next(c for c in jurors.values() if c.you["room"] == room)
            question = next(
                n["node_id"] for n in author.snapshots[room]["nodes"] if n["kind"] == "question"
            )
            for text in room_texts:
                seq = await acked(author, "post_position", question_id=question, text=text)
                await author.wait_seq(room, seq)
                posted = next(e for e in author.applied[room] if e["seq"] == seq)
                positions.setdefault(room, []).append(posted["node_id"])

        # The facilitator of the first room proposes to carry its buses only.
        runner = next(c for c in facilitators.values() if c.you["room"] == rooms[0])
        members = [c for c in jurors.values() if c.you["room"] == rooms[0]]
        not_facilitator = await members[0].send("propose_carry", positions=[positions[rooms[0]][0]])
        assert (not_facilitator["ok"], not_facilitator["error"]) == (False, "forbidden")
        unknown = await runner.send("propose_carry", positions=["n999"])
        assert unknown["error"] == "node_not_found"
        proposed = await acked(runner, "propose_carry", positions=[positions[rooms[0]][0]])
        for member in members:
            await member.wait_seq(rooms[0], proposed)
            assert member.applied[rooms[0]][-1]["type"] == "carry_proposed"
        # One of its jurors objects, before the recall; objecting twice is refused.
        objection = "The library idea is ours too"
        await acked(members[1], "object_to_carry", reason=objection)
        again = await members[1].send("object_to_carry", reason="again")
        assert again["error"] == "already_objected"
        await runner.wait_for(lambda: runner.types(rooms[0])[-1] == "carry_objected")

        closed = await acked(lead, "close_round")
        await lead.wait_seq(ASSEMBLY_STREAM, closed)
        # The server proposes the merge after the recall; every viewer of the plenary sees it.
        for client in (lead, j1, obs):
            await client.wait_for(functools.partial(has_proposal, client), "the proposal")
        carried = of_type(j1, "positions_carried")
        assert sorted(p["text"] for c in carried for p in c["positions"]) == sorted(
            [texts[rooms[0]][0], *texts[rooms[1]]]
        )
        first_room = next(c for c in carried if c["from_room"] == rooms[0])
        assert first_room["marked_by"] == runner.you["participant"]
        assert [o["reason"] for o in first_room["objections"]] == [objection]
        (proposal,) = of_type(lead, "merge_proposed")
        assert proposal["actor"] == "system"
        assert {"buses", "free"} <= set(proposal["shared"])

        # Nothing is merged until the lead says so; nobody else may.
        before = await fresh_map(server, tokens["lead"])
        assert len(before["entries"]) == 2
        assert all(e["merged_into"] is None for e in before["entries"])
        assert [p["status"] for p in before["proposals"]] == ["open"]
        refused = await j1.send("confirm_merge", proposal_id=proposal["proposal_id"])
        assert refused["error"] == "forbidden"
        confirmed = await acked(lead, "confirm_merge", proposal_id=proposal["proposal_id"])
        for name, client in (("j1", j1), ("obs", obs)):
            await client.wait_seq(ASSEMBLY_STREAM, confirmed)
            assert client.types(ASSEMBLY_STREAM)[-1] == "merge_confirmed"
            after = await fresh_map(server, tokens[name])
            entries = after["entries"]
            merged = [e for e in entries if e["merged_into"] is not None]
            # Merged, each room's wording still on the map.
            assert [e["text"] for e in merged] == [proposal_text(entries, proposal["second"])]
            assert {e["text"] for e in entries} == {texts[rooms[0]][0], *texts[rooms[1]]}
            assert after["proposals"][0]["status"] == "confirmed"
        twice = await lead.send("reject_merge", proposal_id=proposal["proposal_id"])
        assert twice["error"] == "proposal_decided"


def proposal_text(entries: list[dict[str, Any]], entry_id: str) -> str:
    return str(next(e["text"] for e in entries if e["entry_id"] == entry_id))
