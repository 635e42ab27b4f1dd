"""Redaction holds however an event reaches a viewer: live, in a snapshot, or replayed."""

from pathlib import Path

from facilitation import PLENARY_ROOM, SYSTEM_ACTOR, Role
from facilitation.commands import (
    AddParticipant,
    ClosePoll,
    CreateAssembly,
    HidePost,
    OpenPoll,
    PoseQuestion,
    PostPosition,
    RaiseHand,
    Vote,
)
from facilitation.events import PollOpened, PositionPosted, QuestionPosed
from server.audience import Audience, PseudonymCache, payloads, replayed
from server.views import room_view
from tests.core.builders import World, only
from tests.server.harness import LiveServer, connected, demo_people, settings_for


def pseudonymous_world(juror_id: str) -> World:
    world = World()
    world.run(SYSTEM_ACTOR, CreateAssembly(title="Jury", pseudonymous=True))
    world.add("f1", Role.FACILITATOR)
    world.run(
        SYSTEM_ACTOR,
        AddParticipant(participant=juror_id, display_name="Ana Real", role=Role.JUROR),
    )
    return world


def test_a_juror_whose_id_is_a_field_name_renames_no_field() -> None:
    world = pseudonymous_world("seq")
    (event,) = world.run("seq", RaiseHand(room=PLENARY_ROOM))

    observed = payloads(world.state, event)[Audience.OBSERVER]

    assert observed["seq"] == event.seq
    assert observed["participant"] == "Juror 1"
    assert "Juror 1" not in {key for key in observed if key != "participant"}


def test_a_post_hidden_since_it_was_sent_is_replayed_with_a_null_text() -> None:
    world = pseudonymous_world("ana")
    question = only(world.run("f1", PoseQuestion(room=PLENARY_ROOM, text="Rents?")), QuestionPosed)
    (posted,) = world.run(
        "ana", PostPosition(room=PLENARY_ROOM, question_id=question.node_id, text="insult")
    )
    assert isinstance(posted, PositionPosted)
    sent = payloads(world.state, posted)
    world.run("f1", HidePost(room=PLENARY_ROOM, node_id=posted.node_id, reason="abusive"))

    for audience in (Audience.MEMBER, Audience.OBSERVER):
        # The same form as in a snapshot of the room: the text is null, the rest is kept.
        again = replayed(world.state, sent[audience], audience)
        assert again == {**sent[audience], "text": None}
        (node,) = [
            n
            for n in room_view(world.state, PLENARY_ROOM, audience, world.now_ms)["nodes"]
            if n["node_id"] == posted.node_id
        ]
        assert node["text"] is None
    assert replayed(world.state, sent[Audience.MODERATOR], Audience.MODERATOR)["text"] == "insult"


async def test_an_observer_resuming_never_receives_a_hidden_posts_text(
    sqlite_url: str, tmp_path: Path
) -> None:
    server = LiveServer(settings_for(sqlite_url, tmp_path))
    await server.start()
    try:
        tokens = await demo_people(server.organiser, "hidden")
        async with (
            connected(server.url, token=tokens["f1"]) as facilitator,
            connected(server.url, token=tokens["j1"]) as juror,
        ):
            question = await facilitator.send("pose_question", text="Rents?")
            posted = await juror.send(
                "post_position", question_id=f"n{question['seq']}", text="an insult"
            )
            await facilitator.send("hide_post", node_id=f"n{posted['seq']}", reason="abusive")
            async with connected(server.url, assembly="hidden", watch=PLENARY_ROOM) as observer:
                observer.last = {"plenary": 0, "assembly": 0}
                await observer.sync()
                texts = [p.get("text") for p in observer.applied["plenary"]]
                assert "an insult" not in texts
                assert observer.types("plenary")[-2:] == ["position_posted", "post_hidden"]
                # Replayed in the form snapshots use, and still valid against the schema.
                assert observer.applied["plenary"][-2]["text"] is None
    finally:
        await server.stop()


def test_an_open_secret_poll_shows_nobody_its_totals_until_it_closes() -> None:
    world = pseudonymous_world("ana")
    world.add("ben", Role.JUROR)
    opened = only(
        world.run(
            "f1",
            OpenPoll(
                room=PLENARY_ROOM,
                question="Cap?",
                kind="single",
                options=("Yes", "No"),
                secret=True,
            ),
        ),
        PollOpened,
    )
    (vote,) = world.run("ana", Vote(room=PLENARY_ROOM, poll_id=opened.poll_id, choices=(1,)))
    for audience in Audience:
        sent = payloads(world.state, vote)[audience]
        assert (sent["actor"], sent["choices"], sent["voters"]) == ("", [], 1)
        assert "totals" not in sent
        (poll,) = room_view(world.state, PLENARY_ROOM, audience, world.now_ms)["polls"]
        assert (poll["totals"], poll["voters"], poll["votes"]) == ([0, 0], 1, {})
    world.run("ben", Vote(room=PLENARY_ROOM, poll_id=opened.poll_id, choices=(0,)))
    world.run("f1", ClosePoll(room=PLENARY_ROOM, poll_id=opened.poll_id))
    (poll,) = room_view(world.state, PLENARY_ROOM, Audience.OBSERVER, world.now_ms)["polls"]
    assert (poll["totals"], poll["voters"]) == ([1, 1], 2)


def test_voting_again_in_a_secret_poll_replaces_the_vote_and_counts_the_voter_once() -> None:
    world = pseudonymous_world("ana")
    world.add("ben", Role.JUROR)
    opened = only(
        world.run(
            "f1",
            OpenPoll(
                room=PLENARY_ROOM,
                question="Cap?",
                kind="single",
                options=("Yes", "No"),
                secret=True,
            ),
        ),
        PollOpened,
    )
    world.run("ana", Vote(room=PLENARY_ROOM, poll_id=opened.poll_id, choices=(1,)))
    (again,) = world.run("ana", Vote(room=PLENARY_ROOM, poll_id=opened.poll_id, choices=(0,)))

    for audience in Audience:
        assert payloads(world.state, again)[audience]["voters"] == 1
    world.run("ben", Vote(room=PLENARY_ROOM, poll_id=opened.poll_id, choices=(0,)))
    (closed,) = world.run("f1", ClosePoll(room=PLENARY_ROOM, poll_id=opened.poll_id))
    assert payloads(world.state, closed)[Audience.OBSERVER]["totals"] == [2, 0]
    assert payloads(world.state, closed)[Audience.OBSERVER]["voters"] == 2


def test_the_pseudonym_cache_follows_the_roster() -> None:
    world = pseudonymous_world("ana")
    cache = PseudonymCache()
    first = cache(world.state)
    assert first == {"ana": "Juror 1"}
    assert cache(world.state) is first

    world.add("ben", Role.JUROR)

    assert cache(world.state) == {"ana": "Juror 1", "ben": "Juror 2"}
    (event,) = world.run("ben", RaiseHand(room=PLENARY_ROOM))
    assert payloads(world.state, event, cache(world.state)) == payloads(world.state, event)
