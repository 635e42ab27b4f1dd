"""A `sync` carries what its person needs, not the whole roster; the roster comes on demand, per
role and redacted per audience; snapshots are encoded once and built again on a new event.

All through real sockets (tests/server/harness.py), whose every reply is checked against the
protocol's JSON Schema.
"""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from facilitation import ASSEMBLY_STREAM, PLENARY_ROOM, Role
from server.organiser import Person
from server.snapshots import SnapshotCache
from tests.server.harness import (
    Client,
    LiveServer,
    acked,
    connected,
    demo_people,
    serving,
    settings_for,
)

JURORS = 6


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    async with serving(settings_for(database_url, tmp_path)) as live:
        yield live


async def round_of_two(server: LiveServer, *, pseudonymous: bool = False) -> dict[str, Any]:
    """Six jurors and two facilitators in two breakout rooms: tokens, and who sits where."""
    tokens = await demo_people(server.organiser, jurors=JURORS, pseudonymous=pseudonymous)
    async with connected(server.url, token=tokens["lead"]) as lead:
        assert (await lead.send("open_round", room_count=2))["ok"]
        started = await acked(lead, "start_round")
        await lead.wait_seq(ASSEMBLY_STREAM, started)
        (event,) = [e for e in lead.applied[ASSEMBLY_STREAM] if e["seq"] == started]
    rooms = {room["room_id"]: [*room["jurors"], *room["facilitators"]] for room in event["rooms"]}
    return {"tokens": tokens, "rooms": rooms}


def room_of(rooms: dict[str, list[str]], person: str) -> str:
    return next(room for room, people in rooms.items() if person in people)


async def roster(client: Client, data: Any) -> dict[str, Any]:
    reply: dict[str, Any] = await client.raw("roster", data)
    client._check("roster_reply", reply)
    assert not client.off_protocol, client.off_protocol
    return reply


async def sync_text(client: Client) -> str:
    """A fresh `sync` reply (no resume), as the JSON text that crossed the wire."""
    reply = await client.raw("sync", {"resume": {}})
    assert reply["ok"], reply
    return json.dumps(reply)


async def test_a_jurors_sync_names_their_room_and_nobody_of_other_rooms(
    server: LiveServer,
) -> None:
    seated = await round_of_two(server)
    rooms, tokens = seated["rooms"], seated["tokens"]
    juror = next(p for p in rooms[sorted(rooms)[0]] if p.startswith("j"))
    mine = room_of(rooms, juror)
    (other,) = set(rooms) - {mine}
    async with connected(server.url, token=tokens[juror]) as client:
        assert set(client.snapshots) == {ASSEMBLY_STREAM, mine}
        assert set(client.snapshots[mine]["people"]) == set(rooms[mine])
        facilitator = next(p for p in rooms[mine] if p.startswith("f"))
        assert client.snapshots[mine]["people"][facilitator] == {
            "name": {"f1": "Fatou", "f2": "Farid"}[facilitator],
            "role": "facilitator",
        }
        assembly = client.snapshots[ASSEMBLY_STREAM]
        assert "participants" not in assembly
        assert assembly["counts"] == {"juror": JURORS, "facilitator": 2, "lead": 1}
        # Nobody of the other room is named anywhere in the reply, nor are their names.
        names = {f"Juror Number{n}" for n in range(1, JURORS + 1)} | {"Fatou", "Farid", "Lea"}
        text = await sync_text(client)
        strangers = [p for p in rooms[other] if p.startswith("j")]
        people_named = json.dumps(json.loads(text)["snapshots"][mine]["people"])
        for stranger in strangers:
            assert f"Juror Number{stranger[1:]}" not in text
        assert "Lea" not in text  # the lead runs no room of theirs
        assert {n for n in names if n in people_named} == {
            f"Juror Number{p[1:]}" for p in rooms[mine] if p.startswith("j")
        } | {"Fatou" if facilitator == "f1" else "Farid"}


async def test_the_roster_on_demand_follows_each_role_and_redacts_for_observers(
    server: LiveServer,
) -> None:
    seated = await round_of_two(server, pseudonymous=True)
    rooms, tokens = seated["rooms"], seated["tokens"]
    juror = next(p for p in rooms[sorted(rooms)[0]] if p.startswith("j"))
    mine = room_of(rooms, juror)
    (other,) = set(rooms) - {mine}
    everyone = {"lead", "f1", "f2", *(f"j{n}" for n in range(1, JURORS + 1))}
    async with (
        connected(server.url, token=tokens["lead"]) as lead,
        connected(server.url, token=tokens["f1"]) as facilitator,
        connected(server.url, token=tokens[juror]) as member,
        connected(server.url, token=tokens["obs"]) as observer,
        connected(server.url, assembly="jury", watch=other) as anonymous,
    ):
        # Moderators: everyone, or any room, with the balancing attributes.
        for moderator in (lead, facilitator):
            reply = await roster(moderator, {})
            assert reply["ok"] and reply["room"] is None, reply
            assert set(reply["people"]) == everyone  # observers are nobody's business
            assert reply["people"]["j1"] == {
                "name": "Juror Number1",
                "role": "juror",
                "attributes": {"age": "30-44"},
            }
            one = await roster(moderator, {"room": other})
            assert set(one["people"]) == set(rooms[other])
        # A juror: the room they sit in, named, without attributes.
        reply = await roster(member, {"room": mine})
        assert set(reply["people"]) == set(rooms[mine])
        assert all("attributes" not in person for person in reply["people"].values())
        assert reply["people"][juror]["name"] == f"Juror Number{juror[1:]}"
        # An observer: any one room, jurors under pseudonyms only.
        for watcher in (observer, anonymous):
            reply = await roster(watcher, {"room": other})
            assert reply["ok"], reply
            shown = reply["people"]
            assert len(shown) == len(rooms[other])
            assert not any(p.startswith("j") for p in shown), shown
            text = json.dumps(reply)
            assert "Juror Number" not in text and "attributes" not in text
            jurors = [p for p, person in shown.items() if person["role"] == "juror"]
            assert jurors and all(shown[p]["name"] == p for p in jurors)  # the pseudonym
            assert all(p.startswith("Juror ") for p in jurors)


async def test_the_roster_is_forbidden_to_who_may_not_see_it_and_bad_asks_are_refused(
    server: LiveServer,
) -> None:
    seated = await round_of_two(server)
    rooms, tokens = seated["rooms"], seated["tokens"]
    juror = next(p for p in rooms[sorted(rooms)[0]] if p.startswith("j"))
    mine = room_of(rooms, juror)
    (other,) = set(rooms) - {mine}
    async with (
        connected(server.url, token=tokens[juror]) as member,
        connected(server.url, assembly="jury") as observer,
    ):
        forbidden: list[tuple[Client, Any]] = [
            (member, {"room": other}),
            (member, {"room": PLENARY_ROOM}),
            (member, {}),
            (member, None),
            (observer, {}),
            (observer, {"room": None}),
        ]
        for client, data in forbidden:
            reply = await roster(client, data)
            assert (reply["ok"], reply["error"]) == (False, "forbidden"), (data, reply)
        bad_asks: list[tuple[Any, str]] = [
            ({"room": "nowhere"}, "room_not_found"),
            ({"room": 7}, "invalid_command"),
            ({"room": ""}, "invalid_command"),
            ({"room": ASSEMBLY_STREAM}, "invalid_command"),
            ({"room": "x" * 65}, "invalid_command"),
            ({"room": mine, "everyone": True}, "invalid_command"),
            ([mine], "invalid_command"),
            ("plenary", "invalid_command"),
        ]
        for data, code in bad_asks:
            reply = await roster(member, data)
            assert (reply["ok"], reply["error"]) == (False, code), (data, reply)
        # Nothing was changed by any of it, and the juror still may see their own room.
        assert (await roster(member, {"room": mine}))["ok"]


async def test_a_cached_snapshot_is_built_again_after_a_new_event(server: LiveServer) -> None:
    tokens = await demo_people(server.organiser, jurors=3)
    async with connected(server.url, token=tokens["j1"]) as j1:
        runtime = server.palabre.hub.live_runtime("jury")
        assert runtime is not None
        cache: SnapshotCache = server.palabre.gateway.snapshots[runtime]
        before = cache.built
        async with connected(server.url, token=tokens["j2"]) as j2:
            # The same two snapshots, built once for both jurors, and sent as the same text.
            assert cache.built == before
            assert j2.snapshots == j1.snapshots
            # A room event: the room's snapshot is built again, and shows it.
            seq = await acked(j1, "raise_hand")
            fresh = json.loads(await sync_text(j2))["snapshots"]
            assert fresh[PLENARY_ROOM]["seq"] == seq
            assert [e["participant"] for e in fresh[PLENARY_ROOM]["queue"]] == ["j1"]
            assert fresh[ASSEMBLY_STREAM] == j1.snapshots[ASSEMBLY_STREAM]
            assert cache.built == before + 1
            # An assembly event changes the rooms' people too: someone new in the plenary.
            added = await server.organiser.add_people(
                "jury", [Person("j9", "Juror Number9", Role.JUROR, {"age": "60+"})]
            )
            assert not added.refused
            await j1.wait_for(
                lambda: any(
                    e["type"] == "participant_added" for e in j1.applied.get(ASSEMBLY_STREAM, [])
                ),
                "j9 added",
            )
            fresh = json.loads(await sync_text(j2))["snapshots"]
            assert fresh[PLENARY_ROOM]["people"]["j9"] == {"name": "Juror Number9", "role": "juror"}
            assert fresh[PLENARY_ROOM]["seq"] == seq  # the room's own seq did not move
            assert fresh[ASSEMBLY_STREAM]["counts"]["juror"] == 4
