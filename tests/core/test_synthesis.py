"""Reporting back: what a room carries to the plenary, objections, the merged map and rounds
that start from it, through commands and events alone."""

import pytest

from facilitation import ASSEMBLY_STREAM, PLENARY_ROOM, SYSTEM_ACTOR, ErrorCode
from facilitation.commands import (
    CloseRound,
    ConfirmMerge,
    Endorse,
    HidePost,
    MergeCandidate,
    ObjectToCarry,
    OpenRound,
    PoseQuestion,
    PostArgument,
    PostPosition,
    ProposeCarry,
    ProposeMerges,
    RecallRound,
    RejectMerge,
    StartRound,
)
from facilitation.events import (
    CarryObjected,
    CarryProposed,
    MergeConfirmed,
    MergeProposed,
    PositionPosted,
    PositionsCarried,
    RoundClosed,
)
from facilitation.synthesis import canonical, entry_id, map_groups
from tests.core.builders import World, assembly, only

P = PLENARY_ROOM
MINUTE = 60_000


def two_rooms() -> tuple[World, list[str]]:
    """Eight jurors in two rooms, each run by its facilitator, from the plenary's question."""
    world = assembly(jurors=8, facilitators=2)
    world.run("lead", PoseQuestion(room=P, text="How should the town spend its budget?"))
    world.run("lead", OpenRound(room_count=2))
    world.run("lead", StartRound())
    current = world.state.current_round()
    assert current is not None
    return world, [room.room_id for room in current.rooms]


def seated(world: World, room_id: str, role: str = "jurors") -> list[str]:
    return sorted(getattr(world.state.rooms[room_id], role))


def question_of(world: World, room_id: str) -> str:
    return next(n.id for n in world.state.rooms[room_id].nodes.values() if n.kind == "question")


def post(world: World, room_id: str, text: str, author: str | None = None) -> str:
    author = author or seated(world, room_id)[0]
    events = world.run(
        author, PostPosition(room=room_id, question_id=question_of(world, room_id), text=text)
    )
    return only(events, PositionPosted).node_id


def argue(world: World, room_id: str, position: str, stance: str, text: str) -> str:
    author = seated(world, room_id)[1]
    events = world.run(
        author,
        PostArgument(room=room_id, position_id=position, stance=stance, text=text),  # type: ignore[arg-type]
    )
    return events[0].node_id  # type: ignore[attr-defined,no-any-return]


def test_the_facilitator_proposes_and_the_rooms_jurors_see_it_in_the_record() -> None:
    world, (room, _) = two_rooms()
    facilitator = seated(world, room, "facilitators")[0]
    keep = post(world, room, "Free buses for everyone")
    post(world, room, "A new library")
    reason = argue(world, room, keep, "for", "Cleaner air")
    events = world.run(facilitator, ProposeCarry(room=room, positions=(keep,), arguments=(reason,)))
    proposed = only(events, CarryProposed)
    assert (proposed.actor, proposed.room) == (facilitator, room)
    carry = world.state.rooms[room].carry
    assert carry is not None
    assert (carry.positions, carry.arguments, carry.proposed_by) == ([keep], [reason], facilitator)


def test_a_juror_objects_before_the_recall_and_the_objection_goes_to_the_plenary() -> None:
    world, (room, _) = two_rooms()
    keep = post(world, room, "Free buses for everyone")
    world.run("lead", ProposeCarry(room=room, positions=(keep,)))
    juror = seated(world, room)[2]
    only(
        world.run(juror, ObjectToCarry(room=room, reason="Our library idea is missing")),
        CarryObjected,
    )
    assert (
        world.refuse(juror, ObjectToCarry(room=room, reason="Again")) is ErrorCode.ALREADY_OBJECTED
    )
    events = world.run("lead", CloseRound())
    carried = [e for e in events if isinstance(e, PositionsCarried) and e.from_room == room]
    assert [(o.participant, o.reason) for o in carried[0].objections] == [
        (juror, "Our library idea is missing")
    ]
    assert world.state.carry_objections[room][0].participant == juror
    # Carried before the round closes, on the assembly stream.
    kinds = [type(e) for e in events]
    assert kinds.index(PositionsCarried) < kinds.index(RoundClosed)
    assert all(e.room == ASSEMBLY_STREAM for e in events if isinstance(e, PositionsCarried))


def test_carry_refusals_have_stable_codes_and_change_nothing() -> None:
    world, (room, other) = two_rooms()
    position = post(world, room, "Free buses")
    argument = argue(world, room, position, "against", "Costly")
    facilitator = seated(world, room, "facilitators")[0]
    elsewhere = seated(world, other, "facilitators")[0]
    juror = seated(world, room)[0]
    cases = [
        (juror, ProposeCarry(room=room, positions=(position,)), ErrorCode.FORBIDDEN),
        (elsewhere, ProposeCarry(room=room, positions=(position,)), ErrorCode.NOT_IN_ROOM),
        ("lead", ProposeCarry(room=P, positions=(position,)), ErrorCode.NOT_A_BREAKOUT_ROOM),
        (facilitator, ProposeCarry(room=room, positions=()), ErrorCode.NOTHING_TO_CARRY),
        (facilitator, ProposeCarry(room=room, positions=("n999",)), ErrorCode.NODE_NOT_FOUND),
        (facilitator, ProposeCarry(room=room, positions=(argument,)), ErrorCode.INVALID_CARRY),
        (
            facilitator,
            ProposeCarry(room=room, positions=(position,), arguments=(position,)),
            ErrorCode.INVALID_CARRY,
        ),
        (juror, ObjectToCarry(room=room, reason="No"), ErrorCode.NO_CARRY_PROPOSED),
        (facilitator, ObjectToCarry(room=room, reason="No"), ErrorCode.FORBIDDEN),
        ("lead", ProposeCarry(room="r9-9", positions=(position,)), ErrorCode.ROOM_NOT_FOUND),
    ]
    for actor, command, code in cases:
        assert world.refuse(actor, command) is code, command
    world.run(facilitator, ProposeCarry(room=room, positions=(position,)))
    assert world.refuse(juror, ObjectToCarry(room=room, reason="  ")) is ErrorCode.REASON_REQUIRED
    world.run(facilitator, HidePost(room=room, node_id=argument, reason="Off topic"))
    hidden = ProposeCarry(room=room, positions=(position,), arguments=(argument,))
    assert world.refuse(facilitator, hidden) is ErrorCode.NODE_HIDDEN
    world.run("lead", CloseRound())
    assert world.refuse(facilitator, ProposeCarry(room=room, positions=(position,))) in {
        ErrorCode.ROOM_CLOSED,
        ErrorCode.NOT_IN_ROOM,
    }
    assert world.refuse("lead", ProposeCarry(room=room, positions=(position,))) is (
        ErrorCode.ROOM_CLOSED
    )


def test_the_carry_records_endorsement_counts_and_the_strongest_arguments() -> None:
    world, (room, _) = two_rooms()
    position = post(world, room, "Free buses")
    weak = argue(world, room, position, "for", "Fun")
    strong = argue(world, room, position, "for", "Cleaner air")
    against = argue(world, room, position, "against", "Costly")
    for juror in seated(world, room)[2:4]:
        world.run(juror, Endorse(room=room, node_id=strong))
        world.run(juror, Endorse(room=room, node_id=position))
    events = world.run("lead", CloseRound())
    carried = next(e for e in events if isinstance(e, PositionsCarried) and e.from_room == room)
    assert carried.marked_by is None
    (only_position,) = carried.positions
    assert only_position.endorsements == 2
    assert [(a.node_id, a.endorsements) for a in only_position.arguments] == [
        (strong, 2),
        (against, 0),
    ]
    assert weak not in {a.node_id for a in only_position.arguments}


def test_a_room_that_proposes_nothing_carries_every_standing_position() -> None:
    world, (room, other) = two_rooms()
    texts = ["Free buses", "A library", "Fewer cars"]
    ids = [post(world, room, text) for text in texts]
    world.run("lead", HidePost(room=room, node_id=ids[1], reason="Duplicate"))
    world.run("lead", CloseRound())
    assert [e.text for e in world.state.carried.values() if e.room == room] == [
        "Free buses",
        "Fewer cars",
    ]
    assert not [e for e in world.state.carried.values() if e.room == other]


def test_the_announced_recall_carries_too() -> None:
    world, (room, _) = two_rooms()
    post(world, room, "Free buses")
    world.run("lead", CloseRound(after_ms=10_000))
    current = world.state.current_round()
    assert current is not None
    world.tick(10_000)
    events = world.run(SYSTEM_ACTOR, RecallRound(round_id=current.id))
    assert any(isinstance(e, PositionsCarried) for e in events)


def recalled_with(texts: dict[int, list[str]]) -> tuple[World, list[str], dict[str, str]]:
    world, rooms = two_rooms()
    ids = {}
    for index, room_texts in texts.items():
        for text in room_texts:
            ids[text] = entry_id(rooms[index], post(world, rooms[index], text))
    world.run("lead", CloseRound())
    return world, rooms, ids


def test_merges_are_only_proposals_until_the_lead_confirms() -> None:
    world, _, ids = recalled_with({0: ["Free buses for all"], 1: ["Free bus for all", "A library"]})
    round_id = world.state.rounds[-1].id
    candidate = MergeCandidate(
        first=ids["Free buses for all"],
        second=ids["Free bus for all"],
        similarity=0.9,
        shared=("free", "bus"),
    )
    events = world.run(SYSTEM_ACTOR, ProposeMerges(round_id=round_id, candidates=(candidate,)))
    proposal = only(events, MergeProposed)
    assert proposal.shared == ("free", "bus")
    # Proposed, not merged: three entries stand on their own.
    assert len(map_groups(world.state)) == 3
    # A second proposal after the same recall (another process) adds nothing.
    assert world.run(SYSTEM_ACTOR, ProposeMerges(round_id=round_id, candidates=(candidate,))) == []
    only(world.run("lead", ConfirmMerge(proposal_id=proposal.proposal_id)), MergeConfirmed)
    groups = map_groups(world.state)
    assert [[e.text for e in group] for group in groups] == [
        ["Free buses for all", "Free bus for all"],
        ["A library"],
    ]
    assert world.refuse("lead", RejectMerge(proposal_id=proposal.proposal_id)) is (
        ErrorCode.PROPOSAL_DECIDED
    )


def test_merge_refusals_have_stable_codes() -> None:
    world, _, ids = recalled_with({0: ["Free buses"], 1: ["Free bus"]})
    round_id = world.state.rounds[-1].id
    first, second = ids["Free buses"], ids["Free bus"]

    def candidates(*pairs: tuple[str, str]) -> ProposeMerges:
        return ProposeMerges(
            round_id=round_id,
            candidates=tuple(
                MergeCandidate(first=a, second=b, similarity=0.5, shared=()) for a, b in pairs
            ),
        )

    assert world.refuse(SYSTEM_ACTOR, candidates((first, "x/n1"))) is ErrorCode.INVALID_MERGE
    assert world.refuse(SYSTEM_ACTOR, candidates((first, first))) is ErrorCode.INVALID_MERGE
    wrong_round = ProposeMerges(round_id="r404", candidates=())
    assert world.refuse(SYSTEM_ACTOR, wrong_round) is ErrorCode.INVALID_ROUND
    assert world.refuse("lead", candidates((first, second))) is ErrorCode.FORBIDDEN
    assert world.refuse("lead", ConfirmMerge(proposal_id="m1")) is ErrorCode.PROPOSAL_NOT_FOUND
    proposal = only(world.run(SYSTEM_ACTOR, candidates((first, second))), MergeProposed)
    assert world.refuse("j1", ConfirmMerge(proposal_id=proposal.proposal_id)) is ErrorCode.FORBIDDEN
    world.run("lead", RejectMerge(proposal_id=proposal.proposal_id))
    assert len(map_groups(world.state)) == 2
    assert world.state.merge_proposals[proposal.proposal_id].decided_by == "lead"


def test_a_position_raised_by_one_room_stays_on_the_map_after_every_merge() -> None:
    world, _, ids = recalled_with(
        {0: ["Free buses", "Ban cars downtown"], 1: ["Free bus", "A library"]}
    )
    round_id = world.state.rounds[-1].id
    pair = MergeCandidate(
        first=ids["Free buses"], second=ids["Free bus"], similarity=1.0, shared=()
    )
    proposal = only(
        world.run(SYSTEM_ACTOR, ProposeMerges(round_id=round_id, candidates=(pair,))), MergeProposed
    )
    world.run("lead", ConfirmMerge(proposal_id=proposal.proposal_id))
    standing = {group[0].text for group in map_groups(world.state)}
    assert {"Ban cars downtown", "A library"} <= standing
    assert sum(len(group) for group in map_groups(world.state)) == len(world.state.carried)


def test_round_two_starts_from_the_merged_map_and_the_map_records_each_round() -> None:
    world, rooms, ids = recalled_with({0: ["Free buses"], 1: ["Free bus", "A library"]})
    first_round = world.state.rounds[-1].id
    pair = MergeCandidate(
        first=ids["Free buses"], second=ids["Free bus"], similarity=1.0, shared=()
    )
    proposal = only(
        world.run(SYSTEM_ACTOR, ProposeMerges(round_id=first_round, candidates=(pair,))),
        MergeProposed,
    )
    world.run("lead", ConfirmMerge(proposal_id=proposal.proposal_id))
    world.run("lead", OpenRound(room_count=2, seed=1))
    events = world.run("lead", StartRound(from_map=True))
    taken = [e for e in events if isinstance(e, PositionPosted)]
    # One position per merged position, in each of the two rooms, each marked with its origin.
    assert sorted((e.text, e.origin) for e in taken) == sorted(
        [("Free buses", ids["Free buses"]), ("A library", ids["A library"])] * 2
    )
    second = world.state.current_round()
    assert second is not None
    room = second.rooms[0].room_id
    from_map = next(e for e in taken if e.room == room and e.text == "Free buses")
    own = post(world, room, "Plant trees")
    world.run("lead", ProposeCarry(room=room, positions=(from_map.node_id, own)))
    world.run("lead", CloseRound())
    round_two = entry_id(room, from_map.node_id)
    assert world.state.carried[round_two].round_id == second.id
    assert canonical(world.state, round_two) == ids["Free buses"]
    group = next(g for g in map_groups(world.state) if g[0].id == ids["Free buses"])
    # The other room of round 2 proposed nothing: its positions from the map came back too.
    assert {(e.round_id, e.room) for e in group} == {
        (first_round, rooms[0]),
        (first_round, rooms[1]),
        *((second.id, r.room_id) for r in second.rooms),
    }
    assert any(g[0].text == "Plant trees" for g in map_groups(world.state))


@pytest.mark.parametrize("blocker", ["no question", "empty map"])
def test_a_round_from_the_map_needs_a_question_and_a_map(blocker: str) -> None:
    world = assembly(jurors=4)
    if blocker == "empty map":
        world.run("lead", PoseQuestion(room=P, text="What next?"))
    world.run("lead", OpenRound(room_count=2))
    assert world.refuse("lead", StartRound(from_map=True)) is ErrorCode.INVALID_ROUND
