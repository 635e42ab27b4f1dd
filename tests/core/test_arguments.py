"""Argument threads: questions, positions, arguments for and against, replies and their care."""

from dataclasses import dataclass

from facilitation import PLENARY_ROOM, ErrorCode
from facilitation.commands import (
    Endorse,
    GrantFloor,
    HidePost,
    LinkTurn,
    LockRoom,
    MergeNodes,
    MuteParticipant,
    PoseQuestion,
    PostArgument,
    PostPosition,
    PostReply,
    UnhidePost,
    WithdrawEndorsement,
    YieldFloor,
)
from facilitation.events import (
    ArgumentPosted,
    EndorsementAdded,
    EndorsementWithdrawn,
    NodesMerged,
    PositionPosted,
    PostHidden,
    PostUnhidden,
    QuestionPosed,
    ReplyPosted,
    TurnLinked,
)
from facilitation.limits import MAX_LABEL_CHARS, MAX_TEXT_CHARS
from facilitation.state import Node
from tests.core.builders import World, assembly, only

P = PLENARY_ROOM


@dataclass(frozen=True)
class Thread:
    question: str
    position: str
    pro: str
    con: str
    reply: str


def node(world: World, node_id: str) -> Node:
    return world.state.rooms[P].nodes[node_id]


def pose(world: World, text: str = "Should the town build the bridge?") -> str:
    return only(world.run("f1", PoseQuestion(room=P, text=text)), QuestionPosed).node_id


def position(world: World, question: str, text: str = "Yes, with a toll", by: str = "j1") -> str:
    events = world.run(by, PostPosition(room=P, question_id=question, text=text))
    return only(events, PositionPosted).node_id


def thread(world: World) -> Thread:
    """A question, a position on it, an argument for and one against, and a reply to the first."""
    question = pose(world)
    on = position(world, question)
    pro = world.run("j2", PostArgument(room=P, position_id=on, stance="for", text="Jobs"))
    con = world.run("j3", PostArgument(room=P, position_id=on, stance="against", text="Cost"))
    pro_id = only(pro, ArgumentPosted).node_id
    reply = world.run("j4", PostReply(room=P, parent_id=pro_id, text="Which jobs?"))
    return Thread(
        question=question,
        position=on,
        pro=pro_id,
        con=only(con, ArgumentPosted).node_id,
        reply=only(reply, ReplyPosted).node_id,
    )


# --- Posting --------------------------------------------------------------------------------


def test_a_thread_records_each_post_with_its_kind_parent_stance_and_author() -> None:
    world = assembly()

    t = thread(world)

    shape = {
        node_id: (n.kind, n.parent, n.stance, n.author)
        for node_id, n in world.state.rooms[P].nodes.items()
    }
    assert shape == {
        t.question: ("question", None, None, "f1"),
        t.position: ("position", t.question, None, "j1"),
        t.pro: ("argument", t.position, "for", "j2"),
        t.con: ("argument", t.position, "against", "j3"),
        t.reply: ("reply", t.pro, None, "j4"),
    }
    assert node(world, t.reply).posted_at_ms == world.now_ms


def test_a_reply_can_answer_another_reply() -> None:
    world = assembly()
    t = thread(world)

    events = world.run("j2", PostReply(room=P, parent_id=t.reply, text="Construction jobs."))

    assert node(world, only(events, ReplyPosted).node_id).parent == t.reply


def test_moderators_may_post_positions_and_arguments_too() -> None:
    world = assembly()
    question = pose(world)

    on = position(world, question, "A middle way", by="lead")
    world.run("f1", PostArgument(room=P, position_id=on, stance="for", text="Fewer cars"))

    assert node(world, on).author == "lead"


def test_post_text_is_trimmed() -> None:
    world = assembly()

    question = pose(world, "\n  What should we do about traffic?  \t")

    assert node(world, question).text == "What should we do about traffic?"


def test_post_text_may_be_up_to_two_thousand_characters() -> None:
    world = assembly()
    question = pose(world)

    on = position(world, question, "x" * MAX_TEXT_CHARS)

    assert len(node(world, on).text) == 2_000


def test_post_text_over_two_thousand_characters_is_refused() -> None:
    world = assembly()
    t = thread(world)
    text = "x" * (MAX_TEXT_CHARS + 1)

    assert world.refuse("f1", PoseQuestion(room=P, text=text)) == ErrorCode.TEXT_TOO_LONG
    assert (
        world.refuse("j1", PostPosition(room=P, question_id=t.question, text=text))
        == ErrorCode.TEXT_TOO_LONG
    )
    assert (
        world.refuse("j1", PostArgument(room=P, position_id=t.position, stance="for", text=text))
        == ErrorCode.TEXT_TOO_LONG
    )
    assert (
        world.refuse("j1", PostReply(room=P, parent_id=t.pro, text=text)) == ErrorCode.TEXT_TOO_LONG
    )


def test_empty_post_text_is_refused() -> None:
    world = assembly()
    t = thread(world)

    assert world.refuse("f1", PoseQuestion(room=P, text="")) == ErrorCode.TEXT_EMPTY
    assert (
        world.refuse("j1", PostPosition(room=P, question_id=t.question, text="  "))
        == ErrorCode.TEXT_EMPTY
    )
    assert (
        world.refuse("j1", PostArgument(room=P, position_id=t.position, stance="for", text="\n"))
        == ErrorCode.TEXT_EMPTY
    )
    assert world.refuse("j1", PostReply(room=P, parent_id=t.pro, text="\t")) == ErrorCode.TEXT_EMPTY


def test_a_post_needs_an_existing_parent() -> None:
    world = assembly()

    assert (
        world.refuse("j1", PostPosition(room=P, question_id="n99", text="Yes"))
        == ErrorCode.NODE_NOT_FOUND
    )
    assert (
        world.refuse("j1", PostArgument(room=P, position_id="n99", stance="for", text="Yes"))
        == ErrorCode.NODE_NOT_FOUND
    )
    assert (
        world.refuse("j1", PostReply(room=P, parent_id="n99", text="Yes"))
        == ErrorCode.NODE_NOT_FOUND
    )


def test_a_post_needs_a_parent_of_the_right_kind() -> None:
    world = assembly()
    t = thread(world)

    assert (
        world.refuse("j1", PostPosition(room=P, question_id=t.position, text="Yes"))
        == ErrorCode.INVALID_PARENT
    )
    assert (
        world.refuse("j1", PostArgument(room=P, position_id=t.question, stance="for", text="A"))
        == ErrorCode.INVALID_PARENT
    )
    assert (
        world.refuse("j1", PostArgument(room=P, position_id=t.pro, stance="against", text="A"))
        == ErrorCode.INVALID_PARENT
    )
    assert (
        world.refuse("j1", PostReply(room=P, parent_id=t.position, text="Why?"))
        == ErrorCode.INVALID_PARENT
    )
    assert (
        world.refuse("j1", PostReply(room=P, parent_id=t.question, text="Why?"))
        == ErrorCode.INVALID_PARENT
    )


def test_no_post_under_a_hidden_parent() -> None:
    world = assembly()
    t = thread(world)
    for hidden in (t.question, t.position, t.pro):
        world.run("f1", HidePost(room=P, node_id=hidden, reason="off topic"))

    assert (
        world.refuse("j1", PostPosition(room=P, question_id=t.question, text="Yes"))
        == ErrorCode.NODE_HIDDEN
    )
    assert (
        world.refuse("j1", PostArgument(room=P, position_id=t.position, stance="for", text="A"))
        == ErrorCode.NODE_HIDDEN
    )
    assert (
        world.refuse("j1", PostReply(room=P, parent_id=t.pro, text="Why?")) == ErrorCode.NODE_HIDDEN
    )


def test_a_muted_juror_cannot_post() -> None:
    world = assembly()
    t = thread(world)
    world.run("f1", MuteParticipant(room=P, participant="j1"))

    assert (
        world.refuse("j1", PostPosition(room=P, question_id=t.question, text="Yes"))
        == ErrorCode.MUTED
    )
    assert (
        world.refuse("j1", PostArgument(room=P, position_id=t.position, stance="for", text="A"))
        == ErrorCode.MUTED
    )
    assert world.refuse("j1", PostReply(room=P, parent_id=t.pro, text="Why?")) == ErrorCode.MUTED


def test_a_locked_room_refuses_jurors_posts_but_not_moderators() -> None:
    world = assembly()
    t = thread(world)
    world.run("f1", LockRoom(room=P))

    assert (
        world.refuse("j1", PostPosition(room=P, question_id=t.question, text="Yes"))
        == ErrorCode.ROOM_LOCKED
    )
    assert (
        world.refuse("j1", PostArgument(room=P, position_id=t.position, stance="for", text="A"))
        == ErrorCode.ROOM_LOCKED
    )
    assert (
        world.refuse("j1", PostReply(room=P, parent_id=t.pro, text="Why?")) == ErrorCode.ROOM_LOCKED
    )
    world.run("f1", PostReply(room=P, parent_id=t.pro, text="Let us come back to this."))
    pose(world, "A new question while locked")


# --- Endorsements ---------------------------------------------------------------------------


def test_a_juror_endorses_a_post_once() -> None:
    world = assembly()
    t = thread(world)

    events = world.run("j2", Endorse(room=P, node_id=t.con))
    world.run("j4", Endorse(room=P, node_id=t.con))

    assert isinstance(events[0], EndorsementAdded)
    assert node(world, t.con).endorsers == {"j2", "j4"}
    assert world.refuse("j2", Endorse(room=P, node_id=t.con)) == ErrorCode.ALREADY_ENDORSED


def test_a_juror_cannot_endorse_their_own_post() -> None:
    world = assembly()
    t = thread(world)
    author = node(world, t.con).author
    before = node(world, t.con).endorsers.copy()

    assert world.refuse(author, Endorse(room=P, node_id=t.con)) == ErrorCode.OWN_POST
    assert node(world, t.con).endorsers == before


def test_endorsing_one_post_does_not_endorse_another() -> None:
    world = assembly()
    t = thread(world)
    world.run("j4", Endorse(room=P, node_id=t.con))

    world.run("j4", Endorse(room=P, node_id=t.pro))

    assert node(world, t.pro).endorsers == {"j4"}
    assert node(world, t.reply).endorsers == set()


def test_a_juror_withdraws_an_endorsement_and_may_give_it_again() -> None:
    world = assembly()
    t = thread(world)
    world.run("j1", Endorse(room=P, node_id=t.pro))

    events = world.run("j1", WithdrawEndorsement(room=P, node_id=t.pro))

    assert isinstance(events[0], EndorsementWithdrawn)
    assert node(world, t.pro).endorsers == set()
    world.run("j1", Endorse(room=P, node_id=t.pro))
    assert node(world, t.pro).endorsers == {"j1"}


def test_withdrawing_an_endorsement_never_given_is_refused() -> None:
    world = assembly()
    t = thread(world)

    assert world.refuse("j1", WithdrawEndorsement(room=P, node_id=t.pro)) == ErrorCode.NOT_ENDORSED
    assert (
        world.refuse("j1", WithdrawEndorsement(room=P, node_id="n99")) == ErrorCode.NODE_NOT_FOUND
    )


def test_endorsing_needs_a_visible_post() -> None:
    world = assembly()
    t = thread(world)
    world.run("f1", HidePost(room=P, node_id=t.reply, reason="personal attack"))

    assert world.refuse("j1", Endorse(room=P, node_id="n99")) == ErrorCode.NODE_NOT_FOUND
    assert world.refuse("j1", Endorse(room=P, node_id=t.reply)) == ErrorCode.NODE_HIDDEN


# --- Hiding ---------------------------------------------------------------------------------


def test_hiding_and_unhiding_keep_each_reason_on_the_moderation_record() -> None:
    world = assembly()
    t = thread(world)

    hidden = world.run("f1", HidePost(room=P, node_id=t.reply, reason="  personal attack "))
    assert node(world, t.reply).hidden
    unhidden = world.run("lead", UnhidePost(room=P, node_id=t.reply, reason="on appeal"))

    assert only(hidden, PostHidden).reason == "personal attack"
    assert only(unhidden, PostUnhidden).reason == "on appeal"
    reply = node(world, t.reply)
    assert not reply.hidden
    assert reply.text == "Which jobs?"
    assert reply.moderation == [
        ("hidden", "f1", "personal attack"),
        ("unhidden", "lead", "on appeal"),
    ]


def test_hiding_and_unhiding_need_a_reason() -> None:
    world = assembly()
    t = thread(world)

    assert (
        world.refuse("f1", HidePost(room=P, node_id=t.pro, reason=" ")) == ErrorCode.REASON_REQUIRED
    )
    assert (
        world.refuse("f1", HidePost(room=P, node_id=t.pro, reason="x" * (MAX_LABEL_CHARS + 1)))
        == ErrorCode.TEXT_TOO_LONG
    )
    world.run("f1", HidePost(room=P, node_id=t.pro, reason="x" * MAX_LABEL_CHARS))
    assert (
        world.refuse("f1", UnhidePost(room=P, node_id=t.pro, reason=""))
        == ErrorCode.REASON_REQUIRED
    )
    assert (
        world.refuse("f1", UnhidePost(room=P, node_id=t.pro, reason="x" * (MAX_LABEL_CHARS + 1)))
        == ErrorCode.TEXT_TOO_LONG
    )


def test_hiding_a_hidden_post_or_unhiding_a_visible_one_is_refused() -> None:
    world = assembly()
    t = thread(world)

    assert (
        world.refuse("f1", UnhidePost(room=P, node_id=t.pro, reason="mistake"))
        == ErrorCode.NOT_HIDDEN
    )
    world.run("f1", HidePost(room=P, node_id=t.pro, reason="spam"))
    assert (
        world.refuse("f1", HidePost(room=P, node_id=t.pro, reason="spam")) == ErrorCode.NODE_HIDDEN
    )


def test_hiding_or_unhiding_a_missing_post_is_refused() -> None:
    world = assembly()

    assert (
        world.refuse("f1", HidePost(room=P, node_id="n99", reason="spam"))
        == ErrorCode.NODE_NOT_FOUND
    )
    assert (
        world.refuse("f1", UnhidePost(room=P, node_id="n99", reason="spam"))
        == ErrorCode.NODE_NOT_FOUND
    )


# --- Merging --------------------------------------------------------------------------------


def test_merging_keeps_both_posts_and_links_the_duplicate_to_the_original() -> None:
    world = assembly()
    question = pose(world)
    original = position(world, question, "Build it", by="j1")
    duplicate = position(world, question, "We should build it", by="j2")

    events = world.run("f1", MergeNodes(room=P, duplicate_id=duplicate, into_id=original))

    merged = only(events, NodesMerged)
    assert (merged.duplicate_id, merged.into_id) == (duplicate, original)
    assert node(world, duplicate).merged_into == original
    assert node(world, original).merged_into is None
    assert node(world, duplicate).text == "We should build it"
    assert node(world, duplicate).author == "j2"


def test_merging_an_original_moves_its_duplicates_along_so_no_chain_forms() -> None:
    world = assembly()
    question = pose(world)
    first = position(world, question, "Build it")
    second = position(world, question, "Build the bridge")
    third = position(world, question, "A bridge, yes")
    world.run("f1", MergeNodes(room=P, duplicate_id=first, into_id=second))

    world.run("f1", MergeNodes(room=P, duplicate_id=second, into_id=third))

    assert node(world, first).merged_into == third
    assert node(world, second).merged_into == third
    assert node(world, third).merged_into is None


def test_a_merge_goes_into_an_original_and_never_twice() -> None:
    world = assembly()
    question = pose(world)
    first = position(world, question, "Build it")
    second = position(world, question, "Build the bridge")
    third = position(world, question, "A bridge, yes")
    world.run("f1", MergeNodes(room=P, duplicate_id=first, into_id=second))

    assert (
        world.refuse("f1", MergeNodes(room=P, duplicate_id=third, into_id=first))
        == ErrorCode.INVALID_MERGE
    )
    assert (
        world.refuse("f1", MergeNodes(room=P, duplicate_id=first, into_id=third))
        == ErrorCode.INVALID_MERGE
    )


def test_merging_needs_two_existing_posts_of_the_same_kind() -> None:
    world = assembly()
    t = thread(world)

    assert (
        world.refuse("f1", MergeNodes(room=P, duplicate_id=t.pro, into_id=t.pro))
        == ErrorCode.INVALID_MERGE
    )
    assert (
        world.refuse("f1", MergeNodes(room=P, duplicate_id=t.reply, into_id=t.pro))
        == ErrorCode.INVALID_MERGE
    )
    assert (
        world.refuse("f1", MergeNodes(room=P, duplicate_id="n99", into_id=t.pro))
        == ErrorCode.NODE_NOT_FOUND
    )
    assert (
        world.refuse("f1", MergeNodes(room=P, duplicate_id=t.pro, into_id="n99"))
        == ErrorCode.NODE_NOT_FOUND
    )


# --- Linking turns --------------------------------------------------------------------------


def test_the_speaker_links_their_turn_to_the_post_it_addresses() -> None:
    world = assembly()
    t = thread(world)
    world.run("f1", GrantFloor(room=P, participant="j1"))
    floor = world.state.rooms[P].floor
    assert floor is not None

    events = world.run("j1", LinkTurn(room=P, node_id=t.con))

    linked = only(events, TurnLinked)
    assert (linked.turn_id, linked.node_id) == (floor.id, t.con)
    assert floor.nodes == [t.con]
    assert node(world, t.con).turns == [floor.id]


def test_a_moderator_links_whoever_is_speaking_and_a_second_link_is_a_no_op() -> None:
    world = assembly()
    t = thread(world)
    world.run("f1", GrantFloor(room=P, participant="j1"))
    floor = world.state.rooms[P].floor
    assert floor is not None

    world.run("f1", LinkTurn(room=P, node_id=t.pro))

    assert world.run("lead", LinkTurn(room=P, node_id=t.pro)) == []
    assert node(world, t.pro).turns == [floor.id]
    assert floor.nodes == [t.pro]


def test_a_link_stays_on_the_turn_after_it_ends() -> None:
    world = assembly()
    t = thread(world)
    world.run("f1", GrantFloor(room=P, participant="j1"))
    world.run("j1", LinkTurn(room=P, node_id=t.pro))
    (turn_id,) = node(world, t.pro).turns

    world.run("j1", YieldFloor(room=P))

    assert world.state.rooms[P].turns[turn_id].nodes == [t.pro]


def test_linking_needs_a_speaker_and_a_juror_links_only_their_own_turn() -> None:
    world = assembly()
    t = thread(world)
    assert world.refuse("j1", LinkTurn(room=P, node_id=t.pro)) == ErrorCode.NO_SPEAKER

    world.run("f1", GrantFloor(room=P, participant="j1"))

    assert world.refuse("j2", LinkTurn(room=P, node_id=t.pro)) == ErrorCode.NOT_YOUR_TURN
    assert world.refuse("j1", LinkTurn(room=P, node_id="n99")) == ErrorCode.NODE_NOT_FOUND


def test_only_posts_answering_the_same_post_can_be_merged() -> None:
    world = assembly()
    housing = pose(world)
    transport = pose(world)
    on_housing = position(world, housing, "Build more")
    on_transport = position(world, transport, "Build more")

    assert (
        world.refuse("f1", MergeNodes(room=P, duplicate_id=on_transport, into_id=on_housing))
        == ErrorCode.INVALID_MERGE
    )
