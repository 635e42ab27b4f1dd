"""Observers follow a read-only, redacted stream: over socket.io with an observer link or, on a
public assembly, anonymously; and over Server-Sent Events, resumable with Last-Event-ID."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from facilitation import ASSEMBLY_STREAM, PLENARY_ROOM, Command, Role
from server.organiser import Person
from tests.server.harness import (
    PLAUSIBLE_FIELDS,
    LiveServer,
    acked,
    connect_refusal,
    connected,
    demo_people,
    event_stream,
    plausible,
    serving,
    settings_for,
)

# What would tell an observer of a pseudonymous assembly who a juror is: their ids (as JSON
# strings or keys), their names ("Juror Number1") and their balancing attributes.
IDENTIFYING = ('"j1"', '"j2"', '"j3"', "Number", "30-44", "60+")
HIDING_REASON = "A personal attack."


@pytest.fixture
async def server(database_url: str, tmp_path: Path) -> AsyncIterator[LiveServer]:
    # Observers here try every command in turn: more than the default burst allows.
    async with serving(settings_for(database_url, tmp_path, rate_burst=1_000)) as live:
        yield live


def stream_url(server: LiveServer, stream: str, assembly: str = "jury") -> str:
    return f"{server.url}/assemblies/{assembly}/streams/{stream}"


def shows_nobody(payload: Any) -> None:
    text = json.dumps(payload)
    for clue in IDENTIFYING:
        assert clue not in text, (clue, payload)


def node(view: dict[str, Any], node_id: str) -> dict[str, Any]:
    found: dict[str, Any] = next(n for n in view["nodes"] if n["node_id"] == node_id)
    return found


def only(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == kind]


async def test_observers_of_a_pseudonymous_assembly_never_learn_who_the_jurors_are(
    server: LiveServer,
) -> None:
    tokens = await demo_people(server.organiser, jurors=2, pseudonymous=True)
    async with (
        connected(server.url, token=tokens["obs"]) as invited,
        connected(server.url, assembly="jury") as anonymous,
        event_stream(stream_url(server, PLENARY_ROOM)) as room_feed,
        event_stream(stream_url(server, ASSEMBLY_STREAM)) as assembly_feed,
        connected(server.url, token=tokens["f1"]) as f1,
        connected(server.url, token=tokens["j1"]) as j1,
        connected(server.url, token=tokens["j2"]) as j2,
    ):
        await room_feed.wait_id(0)
        await assembly_feed.wait_id(invited.last[ASSEMBLY_STREAM])
        await acked(j1, "raise_hand")
        await acked(f1, "grant_floor", room=PLENARY_ROOM)
        await acked(j1, "speak", text="My street lost its bakery.")
        question = await acked(f1, "pose_question", room=PLENARY_ROOM, text="Cap rents?")
        position = await acked(j1, "post_position", question_id=f"n{question}", text="Yes.")
        argument = await acked(
            j2, "post_argument", position_id=f"n{position}", stance="against", text="You liar."
        )
        await acked(j2, "endorse", node_id=f"n{position}")
        await acked(
            f1, "hide_post", room=PLENARY_ROOM, node_id=f"n{argument}", reason=HIDING_REASON
        )
        secret = await acked(
            f1,
            "open_poll",
            room=PLENARY_ROOM,
            question="Cap rents?",
            kind="single",
            options=["yes", "no"],
            secret=True,
        )
        await acked(j1, "vote", poll_id=f"p{secret}", choices=[0])
        await acked(j2, "vote", poll_id=f"p{secret}", choices=[1])
        await acked(f1, "close_poll", room=PLENARY_ROOM, poll_id=f"p{secret}")
        public = await acked(
            f1, "open_poll", room=PLENARY_ROOM, question="Meet again?", kind="scale"
        )
        await acked(j1, "vote", poll_id=f"p{public}", choices=[4])
        head = await acked(j1, "yield_floor")
        assembly_head = invited.last[ASSEMBLY_STREAM] + 1
        added = await server.organiser.add_people(
            "jury", [Person("j3", "Juror Number3", Role.JUROR, {"age": "60+"})]
        )
        assert not added.refused

        for client in (invited, anonymous, f1, j1, j2):
            await client.wait_seq(PLENARY_ROOM, head)
            await client.wait_seq(ASSEMBLY_STREAM, assembly_head)
        await room_feed.wait_id(head)
        await assembly_feed.wait_id(assembly_head)

        # Every observer, whatever the channel, got the same redacted stream.
        for stream, feed in ((PLENARY_ROOM, room_feed), (ASSEMBLY_STREAM, assembly_feed)):
            assert anonymous.applied[stream] == invited.applied[stream]
            assert feed.events() == invited.applied[stream]
            for payload in invited.applied[stream]:
                shows_nobody(payload)
        for client in (invited, anonymous):
            for view in client.snapshots.values():
                shows_nobody(view)
        for message in (*room_feed.messages, *assembly_feed.messages):
            shows_nobody(message.data)

        seen = invited.applied[PLENARY_ROOM]
        assert only(seen, "hand_raised")[0]["participant"] == "Juror 1"
        assert only(seen, "floor_granted")[0]["speaker"] == "Juror 1"
        assert only(seen, "statement_made")[0]["actor"] == "Juror 1"
        assert only(seen, "argument_posted")[0]["actor"] == "Juror 2"
        assert only(seen, "endorsement_added")[0]["actor"] == "Juror 2"
        assert only(seen, "turn_ended")[0]["speaker"] == "Juror 1"
        (hidden,) = only(seen, "post_hidden")
        assert (hidden["actor"], hidden["reason"]) == ("f1", HIDING_REASON)
        # A secret ballot: nobody, moderators included, is told who voted for what.
        for client in (invited, f1, j1):
            secret_votes = [
                v
                for v in only(client.applied[PLENARY_ROOM], "vote_cast")
                if v["poll_id"] == f"p{secret}"
            ]
            assert [(v["actor"], v["choices"]) for v in secret_votes] == [("", []), ("", [])]
            assert [v["voters"] for v in secret_votes] == [1, 2]
            assert all("totals" not in v for v in secret_votes)
        (open_vote,) = [v for v in only(seen, "vote_cast") if v["poll_id"] == f"p{public}"]
        assert (open_vote["actor"], open_vote["choices"]) == ("Juror 1", [4])

        # A juror added live: attributes for moderators only, the pseudonym for observers.
        (to_observers,) = only(invited.applied[ASSEMBLY_STREAM], "participant_added")
        assert to_observers["participant"] == to_observers["display_name"] == "Juror 3"
        assert to_observers["attributes"] == {}
        (to_members,) = only(j1.applied[ASSEMBLY_STREAM], "participant_added")
        assert (to_members["participant"], to_members["attributes"]) == ("j3", {})
        (to_moderators,) = only(f1.applied[ASSEMBLY_STREAM], "participant_added")
        assert to_moderators["attributes"] == {"age": "60+"}

        # Snapshots for latecomers: the hidden post keeps its reason and loses its text, except
        # for moderators; a closed secret poll shows totals only; an open one names pseudonyms.
        async with (
            connected(server.url, assembly="jury") as late_observer,
            connected(server.url, token=tokens["j2"]) as late_member,
            connected(server.url, token=tokens["f2"]) as late_moderator,
        ):
            observer_view = late_observer.snapshots[PLENARY_ROOM]
            shows_nobody(observer_view)
            shows_nobody(late_observer.snapshots[ASSEMBLY_STREAM])
            post = node(observer_view, f"n{argument}")
            assert (post["hidden"], post["text"], post["author"]) == (True, None, "Juror 2")
            assert post["moderation"] == [
                {"action": "hidden", "actor": "f1", "reason": HIDING_REASON}
            ]
            polls = {poll["poll_id"]: poll for poll in observer_view["polls"]}
            assert (polls[f"p{secret}"]["votes"], polls[f"p{secret}"]["totals"]) == ({}, [1, 1])
            assert polls[f"p{public}"]["votes"] == {"Juror 1": [4]}
            people = observer_view["people"]
            assert people["Juror 1"] == {"name": "Juror 1", "role": "juror"}

            assert node(late_member.snapshots[PLENARY_ROOM], f"n{argument}")["text"] is None
            assert node(late_moderator.snapshots[PLENARY_ROOM], f"n{argument}")["text"] == (
                "You liar."
            )
            member_roster = late_member.snapshots[PLENARY_ROOM]["people"]
            assert all("attributes" not in person for person in member_roster.values())
            moderator_roster = late_moderator.snapshots[PLENARY_ROOM]["people"]
            assert moderator_roster["j1"]["attributes"] == {"age": "30-44"}


async def test_observers_are_refused_every_command_with_forbidden(server: LiveServer) -> None:
    assert set(PLAUSIBLE_FIELDS) == set(Command.registry), "give every command a payload"
    tokens = await demo_people(server.organiser, jurors=2)
    async with (
        connected(server.url, token=tokens["j1"]) as juror,
        connected(server.url, token=tokens["obs"]) as invited,
        connected(server.url, assembly="jury") as anonymous,
    ):
        heads = dict(juror.last)
        for observer in (invited, anonymous):
            for command in Command.registry:
                ack = await observer.send(command, **plausible(command))
                assert (ack["ok"], ack["error"]) == (False, "forbidden"), (command, ack)

        # Nothing was written: the next event of each stream takes the next seq.
        seq = await acked(juror, "raise_hand")
        assert seq == heads[PLENARY_ROOM] + 1
        for client in (juror, invited, anonymous):
            await client.wait_seq(PLENARY_ROOM, seq)
            assert client.types(PLENARY_ROOM) == ["hand_raised"]
            assert client.applied[ASSEMBLY_STREAM] == []
            assert client.last[ASSEMBLY_STREAM] == heads[ASSEMBLY_STREAM]


async def test_a_private_assembly_refuses_anonymous_observers(server: LiveServer) -> None:
    tokens = await demo_people(server.organiser, public=False)

    refusal = await connect_refusal(server.url, assembly="jury")
    assert refusal["message"] == "private_assembly"
    assert refusal["data"]["error"] == "private_assembly"
    async with event_stream(stream_url(server, PLENARY_ROOM)) as refused:
        assert (refused.status, refused.refusal["error"]) == (403, "private_assembly")

    # The observer link opens both channels.
    async with connected(server.url, token=tokens["obs"]) as invited:
        assert invited.you["role"] == "observer"
        assert set(invited.snapshots) == {ASSEMBLY_STREAM, PLENARY_ROOM}
    async with event_stream(stream_url(server, PLENARY_ROOM), token=tokens["obs"]) as feed:
        assert feed.status == 200
        await feed.wait_id(0)
        assert feed.messages[0].event == "snapshot"

    # A link to one assembly opens no other.
    other = await demo_people(server.organiser, "other-jury", public=False)
    async with event_stream(stream_url(server, PLENARY_ROOM), token=other["obs"]) as wrong:
        assert (wrong.status, wrong.refusal["error"]) == (403, "invalid_token")
    async with event_stream(stream_url(server, "nowhere"), token=tokens["obs"]) as missing:
        assert (missing.status, missing.refusal["error"]) == (404, "room_not_found")


async def test_an_sse_observer_resumes_with_last_event_id(server: LiveServer) -> None:
    tokens = await demo_people(server.organiser)
    url = stream_url(server, PLENARY_ROOM)
    async with connected(server.url, token=tokens["f1"]) as f1:

        async def note(text: str) -> int:
            return await acked(f1, "interject", room=PLENARY_ROOM, text=text)

        await note("Welcome.")
        head = await note("Phones off, please.")
        async with event_stream(url) as first:
            await first.wait_id(head)
            (snapshot,) = first.messages
            assert (snapshot.event, snapshot.id, snapshot.data["seq"]) == ("snapshot", head, head)
            assert [s["text"] for s in snapshot.data["statements"]] == [
                "Welcome.",
                "Phones off, please.",
            ]

        missed = [await note(f"Point {n}.") for n in range(3)]
        async with event_stream(url, last_event_id=head) as again:
            await again.wait_id(missed[-1])
            assert [(m.event, m.id) for m in again.messages] == [("event", s) for s in missed]
            assert [m.data["text"] for m in again.messages] == ["Point 0.", "Point 1.", "Point 2."]
            live = await note("And now, live.")
            await again.wait_id(live)
            assert again.messages[-1].data["text"] == "And now, live."
            assert [m.id for m in again.messages] == [*missed, live]

        # A position this log never reached, or garbage: a fresh snapshot instead.
        for claimed in (live + 100, "soon"):
            async with event_stream(url, last_event_id=claimed) as fresh:
                await fresh.wait_id(live)
                (snapshot,) = fresh.messages
                assert (snapshot.event, snapshot.id) == ("snapshot", live)
