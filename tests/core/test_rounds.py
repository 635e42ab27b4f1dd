"""Breakout rounds: propose, adjust, start, move people, time, broadcast and recall to plenary."""

from facilitation import ASSEMBLY_STREAM, PLENARY_ROOM, SYSTEM_ACTOR, ErrorCode
from facilitation.commands import (
    AdjustAllocation,
    Broadcast,
    CancelRecall,
    CloseRound,
    ExpireRoundTimer,
    GrantFloor,
    HidePost,
    MoveParticipant,
    OpenRound,
    PoseQuestion,
    PostPosition,
    RaiseHand,
    RecallRound,
    RemoveParticipant,
    RequestReply,
    SetRoomRules,
    SetRoundTimer,
    Speak,
    StartRound,
)
from facilitation.events import (
    AllocationAdjusted,
    AnnouncementBroadcast,
    FloorGranted,
    HandLowered,
    ParticipantMoved,
    PositionPosted,
    QuestionPosed,
    RecallCancelled,
    RecallScheduled,
    ReplyWithdrawn,
    RoundClosed,
    RoundProposed,
    RoundStarted,
    RoundTimerEnded,
    RoundTimerSet,
    TurnEnded,
)
from facilitation.events import ProposedRoom as Proposed
from facilitation.limits import (
    MAX_DURATION_MS,
    MAX_RECALL_WARNING_MS,
    MAX_TEXT_CHARS,
    MIN_RECALL_WARNING_MS,
)
from facilitation.state import Room, Round
from tests.core.builders import World, assembly, only

P = PLENARY_ROOM
MINUTE = 60_000
JURORS = [f"j{n}" for n in range(1, 9)]


def propose(world: World, *, room_count: int | None = 2, room_size: int | None = None) -> Round:
    world.run("lead", OpenRound(room_count=room_count, room_size=room_size))
    current = world.state.current_round()
    assert current is not None
    return current


def started(world: World, *, room_count: int = 2, duration_ms: int | None = None) -> Round:
    """A round of `room_count` rooms, proposed and started."""
    current = propose(world, room_count=room_count)
    world.run("lead", StartRound(duration_ms=duration_ms))
    return current


def room(world: World, room_id: str) -> Room:
    return world.state.rooms[room_id]


def proposed(current: Round, index: int) -> Proposed:
    return current.rooms[index]


# --- Proposing a round ----------------------------------------------------------------------


def test_a_round_by_room_count_deals_every_plenary_juror_into_one_room() -> None:
    world = assembly(jurors=8, facilitators=2)

    current = propose(world, room_count=3)

    assert len(current.rooms) == 3
    seated = [juror for proposal in current.rooms for juror in proposal.jurors]
    assert sorted(seated) == sorted(JURORS)
    sizes = sorted(len(proposal.jurors) for proposal in current.rooms)
    assert sizes[-1] - sizes[0] <= 1
    assert len({proposal.room_id for proposal in current.rooms}) == 3
    assert not current.started
    # Nothing moves until the lead starts the round.
    assert set(world.state.rooms) == {P}
    assert world.plenary.jurors == set(JURORS)


def test_a_round_by_room_size_opens_enough_rooms_for_that_size() -> None:
    world = assembly(jurors=8, facilitators=2)

    current = propose(world, room_count=None, room_size=3)

    assert len(current.rooms) == 3
    assert all(1 <= len(proposal.jurors) <= 3 for proposal in current.rooms)
    assert sorted(j for proposal in current.rooms for j in proposal.jurors) == sorted(JURORS)


def test_a_room_size_above_the_number_of_jurors_makes_one_room() -> None:
    world = assembly(jurors=4)

    current = propose(world, room_count=None, room_size=10)

    assert [sorted(proposal.jurors) for proposal in current.rooms] == [["j1", "j2", "j3", "j4"]]


def test_every_room_of_a_round_gets_a_facilitator() -> None:
    world = assembly(jurors=8, facilitators=2)

    current = propose(world, room_count=3)

    assert all(proposal.facilitators for proposal in current.rooms)
    assigned = {f for proposal in current.rooms for f in proposal.facilitators}
    assert assigned == {"f1", "f2"}


def test_with_as_many_facilitators_as_rooms_each_runs_one_room() -> None:
    world = assembly(jurors=6, facilitators=2)

    current = propose(world, room_count=2)

    assert sorted(f for proposal in current.rooms for f in proposal.facilitators) == ["f1", "f2"]
    assert all(len(proposal.facilitators) == 1 for proposal in current.rooms)


def test_a_round_needs_either_a_room_count_or_a_room_size() -> None:
    world = assembly(jurors=4)

    assert world.refuse("lead", OpenRound()) == ErrorCode.INVALID_ROUND
    assert world.refuse("lead", OpenRound(room_count=2, room_size=2)) == ErrorCode.INVALID_ROUND


def test_a_round_needs_a_sensible_number_of_rooms() -> None:
    world = assembly(jurors=4)

    assert world.refuse("lead", OpenRound(room_count=0)) == ErrorCode.INVALID_ROUND
    assert world.refuse("lead", OpenRound(room_count=5)) == ErrorCode.INVALID_ROUND
    assert world.refuse("lead", OpenRound(room_size=0)) == ErrorCode.INVALID_ROUND


def test_a_round_needs_jurors_in_the_plenary() -> None:
    world = assembly(jurors=0)

    assert world.refuse("lead", OpenRound(room_count=1)) == ErrorCode.INVALID_ROUND


def test_a_round_proposed_or_running_refuses_another_open_round() -> None:
    world = assembly()
    propose(world)

    assert world.refuse("lead", OpenRound(room_count=2)) == ErrorCode.ROUND_IN_PROGRESS

    world.run("lead", StartRound())

    assert world.refuse("lead", OpenRound(room_count=2)) == ErrorCode.ROUND_IN_PROGRESS


# --- Adjusting the proposal -----------------------------------------------------------------


def test_the_lead_moves_a_juror_to_another_proposed_room_before_the_start() -> None:
    world = assembly(jurors=6, facilitators=2)
    current = propose(world)
    juror = proposed(current, 0).jurors[0]
    target = proposed(current, 1).room_id

    events = world.run("lead", AdjustAllocation(participant=juror, to_room=target))

    adjusted = only(events, AllocationAdjusted)
    assert (adjusted.round_id, adjusted.participant, adjusted.to_room) == (
        current.id,
        juror,
        target,
    )
    assert juror not in proposed(current, 0).jurors
    assert juror in proposed(current, 1).jurors
    assert list(proposed(current, 1).jurors) == sorted(proposed(current, 1).jurors)
    world.run("lead", StartRound())
    assert world.state.participants[juror].room == target


def test_the_lead_moves_a_facilitator_to_another_proposed_room() -> None:
    world = assembly(jurors=6, facilitators=2)
    current = propose(world)
    facilitator = proposed(current, 0).facilitators[0]
    target = proposed(current, 1).room_id
    jurors_before = [proposal.jurors for proposal in current.rooms]

    world.run("lead", AdjustAllocation(participant=facilitator, to_room=target))

    assert facilitator not in proposed(current, 0).facilitators
    assert facilitator in proposed(current, 1).facilitators
    assert [proposal.jurors for proposal in current.rooms] == jurors_before


def test_adjusting_needs_a_proposed_round() -> None:
    world = assembly()

    assert (
        world.refuse("lead", AdjustAllocation(participant="j1", to_room="r1-1"))
        == ErrorCode.NO_ROUND_PROPOSED
    )
    current = started(world)
    assert (
        world.refuse("lead", AdjustAllocation(participant="j1", to_room=current.rooms[0].room_id))
        == ErrorCode.NO_ROUND_PROPOSED
    )


def test_adjusting_needs_a_room_and_a_participant_of_the_round() -> None:
    world = assembly(jurors=6, facilitators=2)
    current = propose(world)
    juror = proposed(current, 0).jurors[0]
    home = proposed(current, 0).room_id

    assert (
        world.refuse("lead", AdjustAllocation(participant=juror, to_room="nowhere"))
        == ErrorCode.ROOM_NOT_FOUND
    )
    assert (
        world.refuse("lead", AdjustAllocation(participant="nobody", to_room=home))
        == ErrorCode.UNKNOWN_PARTICIPANT
    )
    assert (
        world.refuse("lead", AdjustAllocation(participant="lead", to_room=home))
        == ErrorCode.UNKNOWN_PARTICIPANT
    )
    assert (
        world.refuse("lead", AdjustAllocation(participant=juror, to_room=home))
        == ErrorCode.ALREADY_IN_ROOM
    )


# --- Starting the round ---------------------------------------------------------------------


def test_starting_a_round_seats_jurors_and_facilitators_in_their_rooms() -> None:
    world = assembly(jurors=6, facilitators=2)
    current = propose(world)

    events = world.run("lead", StartRound())

    begun = only(events, RoundStarted)
    assert (begun.room, begun.round_id, begun.deadline_ms) == (ASSEMBLY_STREAM, current.id, None)
    assert current.started
    for proposal in current.rooms:
        breakout = room(world, proposal.room_id)
        assert (breakout.round_id, breakout.name) == (current.id, proposal.name)
        assert breakout.jurors == set(proposal.jurors)
        assert breakout.facilitators == set(proposal.facilitators)
        for juror in proposal.jurors:
            assert world.state.participants[juror].room == proposal.room_id
    assert world.plenary.jurors == set()
    assert world.plenary.facilitators == set()


def test_starting_a_round_ends_the_plenary_turn_and_clears_its_lanes() -> None:
    world = assembly(jurors=6, facilitators=2)
    world.run("f1", GrantFloor(room=P, participant="j1"))
    world.tick(10_000)
    world.run("j2", RaiseHand(room=P))
    world.run("j3", RequestReply(room=P))
    propose(world)

    events = world.run("lead", StartRound())

    ended = only(events, TurnEnded)
    assert (ended.room, ended.speaker, ended.reason, ended.duration_ms) == (
        P,
        "j1",
        "round_started",
        10_000,
    )
    lowered = only(events, HandLowered)
    assert (lowered.participant, lowered.reason) == ("j2", "round_started")
    withdrawn = only(events, ReplyWithdrawn)
    assert (withdrawn.participant, withdrawn.reason) == ("j3", "round_started")
    assert world.plenary.floor is None
    assert world.plenary.queue == []
    assert world.plenary.replies == []


def test_a_round_with_a_duration_starts_its_timer() -> None:
    world = assembly()
    propose(world)

    events = world.run("lead", StartRound(duration_ms=20 * MINUTE))

    assert only(events, RoundStarted).deadline_ms == world.now_ms + 20 * MINUTE
    current = world.state.current_round()
    assert current is not None
    assert current.deadline_ms == world.now_ms + 20 * MINUTE


def test_starting_needs_a_proposed_round_and_a_sensible_duration() -> None:
    world = assembly()
    assert world.refuse("lead", StartRound()) == ErrorCode.NO_ROUND_PROPOSED

    propose(world)
    assert world.refuse("lead", StartRound(duration_ms=0)) == ErrorCode.INVALID_DURATION
    assert (
        world.refuse("lead", StartRound(duration_ms=MAX_DURATION_MS + 1))
        == ErrorCode.INVALID_DURATION
    )

    world.run("lead", StartRound())
    assert world.refuse("lead", StartRound()) == ErrorCode.NO_ROUND_PROPOSED


# --- Acting inside breakout rooms -----------------------------------------------------------


def test_a_juror_then_acts_only_in_their_breakout_room() -> None:
    world = assembly(jurors=6, facilitators=2)
    current = started(world)
    mine, other = proposed(current, 0), proposed(current, 1)
    juror = mine.jurors[0]

    world.run(juror, RaiseHand(room=mine.room_id))

    assert [e.participant for e in room(world, mine.room_id).queue] == [juror]
    assert world.refuse(juror, RaiseHand(room=P)) == ErrorCode.NOT_IN_ROOM
    assert world.refuse(juror, RaiseHand(room=other.room_id)) == ErrorCode.NOT_IN_ROOM


def test_a_facilitator_acts_only_in_the_rooms_they_run() -> None:
    world = assembly(jurors=6, facilitators=2)
    current = started(world)
    mine, other = proposed(current, 0), proposed(current, 1)
    facilitator = mine.facilitators[0]

    world.run(facilitator, GrantFloor(room=mine.room_id, participant=mine.jurors[0]))

    assert (
        world.refuse(facilitator, GrantFloor(room=other.room_id, participant=other.jurors[0]))
        == ErrorCode.NOT_IN_ROOM
    )
    assert world.refuse(facilitator, SetRoomRules(room=P, auto=True)) == ErrorCode.NOT_IN_ROOM


def test_the_lead_acts_in_every_room() -> None:
    world = assembly(jurors=6, facilitators=2)
    current = started(world)

    for proposal in current.rooms:
        world.run("lead", GrantFloor(room=proposal.room_id, participant=proposal.jurors[0]))
    world.run("lead", SetRoomRules(room=P, auto=True))


def test_a_command_to_a_room_that_does_not_exist_is_refused() -> None:
    world = assembly()

    assert world.refuse("lead", GrantFloor(room="r99-1")) == ErrorCode.ROOM_NOT_FOUND


def test_breakout_rooms_keep_their_own_event_streams() -> None:
    world = assembly(jurors=6, facilitators=2)
    current = started(world)
    mine = proposed(current, 0)

    events = world.run(mine.jurors[0], RaiseHand(room=mine.room_id))

    assert (events[0].room, events[0].seq) == (mine.room_id, 1)


# --- Moving participants --------------------------------------------------------------------


def test_the_lead_moves_a_juror_to_another_room_during_the_round() -> None:
    world = assembly(jurors=6, facilitators=2)
    current = started(world)
    source, target = proposed(current, 0), proposed(current, 1)
    juror = source.jurors[0]
    world.run(juror, RaiseHand(room=source.room_id))

    events = world.run("lead", MoveParticipant(participant=juror, to_room=target.room_id))

    lowered = only(events, HandLowered)
    assert (lowered.room, lowered.reason) == (source.room_id, "moved")
    moved = only(events, ParticipantMoved)
    assert (moved.from_room, moved.to_room) == (source.room_id, target.room_id)
    assert juror not in room(world, source.room_id).jurors
    assert juror in room(world, target.room_id).jurors
    assert world.state.participants[juror].room == target.room_id
    world.run(juror, RaiseHand(room=target.room_id))
    assert world.refuse(juror, RaiseHand(room=source.room_id)) == ErrorCode.NOT_IN_ROOM


def test_moving_the_speaker_ends_their_turn_and_auto_mode_passes_the_floor() -> None:
    world = assembly(jurors=6, facilitators=2)
    current = started(world)
    source, target = proposed(current, 0), proposed(current, 1)
    speaker, waiting = source.jurors[0], source.jurors[1]
    world.run("lead", SetRoomRules(room=source.room_id, auto=True))
    world.run(speaker, RaiseHand(room=source.room_id))
    world.run(waiting, RaiseHand(room=source.room_id))

    events = world.run("lead", MoveParticipant(participant=speaker, to_room=target.room_id))

    assert [type(event) for event in events] == [TurnEnded, FloorGranted, ParticipantMoved]
    assert only(events, TurnEnded).reason == "moved"
    floor = room(world, source.room_id).floor
    assert floor is not None
    assert floor.speaker == waiting


def test_the_lead_moves_a_facilitator_to_another_room() -> None:
    world = assembly(jurors=6, facilitators=2)
    current = started(world)
    source, target = proposed(current, 0), proposed(current, 1)
    facilitator = source.facilitators[0]

    world.run("lead", MoveParticipant(participant=facilitator, to_room=target.room_id))

    assert facilitator in room(world, target.room_id).facilitators
    assert facilitator not in room(world, source.room_id).facilitators
    world.run(facilitator, GrantFloor(room=target.room_id, participant=target.jurors[0]))


def test_moving_needs_a_known_seated_participant_and_an_open_room() -> None:
    world = assembly(jurors=6, facilitators=2)
    current = started(world)
    home = proposed(current, 0)
    juror = home.jurors[0]

    assert (
        world.refuse("lead", MoveParticipant(participant="nobody", to_room=P))
        == ErrorCode.UNKNOWN_PARTICIPANT
    )
    assert (
        world.refuse("lead", MoveParticipant(participant="obs", to_room=P))
        == ErrorCode.INVALID_PARTICIPANT
    )
    assert (
        world.refuse("lead", MoveParticipant(participant="lead", to_room=P))
        == ErrorCode.INVALID_PARTICIPANT
    )
    assert (
        world.refuse("lead", MoveParticipant(participant=juror, to_room="nowhere"))
        == ErrorCode.ROOM_NOT_FOUND
    )
    assert (
        world.refuse("lead", MoveParticipant(participant=juror, to_room=home.room_id))
        == ErrorCode.ALREADY_IN_ROOM
    )
    world.run("lead", CloseRound())
    assert (
        world.refuse("lead", MoveParticipant(participant=juror, to_room=home.room_id))
        == ErrorCode.ROOM_CLOSED
    )


# --- The round timer ------------------------------------------------------------------------


def test_the_lead_sets_the_round_timer() -> None:
    world = assembly()
    current = started(world)

    events = world.run("lead", SetRoundTimer(duration_ms=15 * MINUTE))

    timer = only(events, RoundTimerSet)
    assert (timer.round_id, timer.deadline_ms) == (current.id, world.now_ms + 15 * MINUTE)
    assert current.deadline_ms == world.now_ms + 15 * MINUTE


def test_setting_the_timer_again_replaces_the_deadline() -> None:
    world = assembly()
    current = started(world, duration_ms=15 * MINUTE)
    world.tick(5 * MINUTE)

    world.run("lead", SetRoundTimer(duration_ms=2 * MINUTE))

    assert current.deadline_ms == world.now_ms + 2 * MINUTE


def test_the_round_timer_ends_at_its_deadline_without_closing_the_round() -> None:
    world = assembly()
    current = started(world, duration_ms=15 * MINUTE)
    world.tick(15 * MINUTE)

    events = world.run(SYSTEM_ACTOR, ExpireRoundTimer(round_id=current.id))

    assert only(events, RoundTimerEnded).round_id == current.id
    assert current.deadline_ms is None
    assert current.started and not current.closed
    assert world.run(SYSTEM_ACTOR, ExpireRoundTimer(round_id=current.id)) == []


def test_an_early_or_stale_round_timer_expiry_decides_nothing() -> None:
    world = assembly()
    current = started(world, duration_ms=15 * MINUTE)
    world.tick(15 * MINUTE - 1)

    assert world.run(SYSTEM_ACTOR, ExpireRoundTimer(round_id=current.id)) == []
    assert world.run(SYSTEM_ACTOR, ExpireRoundTimer(round_id="r999")) == []

    world.run("lead", SetRoundTimer(duration_ms=10 * MINUTE))
    world.tick(1)
    assert world.run(SYSTEM_ACTOR, ExpireRoundTimer(round_id=current.id)) == []

    world.run("lead", CloseRound())
    world.tick(10 * MINUTE)
    assert world.run(SYSTEM_ACTOR, ExpireRoundTimer(round_id=current.id)) == []


def test_a_round_without_a_timer_never_expires() -> None:
    world = assembly()
    current = started(world)
    world.tick(MAX_DURATION_MS)

    assert world.run(SYSTEM_ACTOR, ExpireRoundTimer(round_id=current.id)) == []


def test_the_round_timer_needs_a_running_round_and_a_sensible_duration() -> None:
    world = assembly()
    assert world.refuse("lead", SetRoundTimer(duration_ms=MINUTE)) == ErrorCode.NO_ROUND_RUNNING

    propose(world)
    assert world.refuse("lead", SetRoundTimer(duration_ms=MINUTE)) == ErrorCode.NO_ROUND_RUNNING

    world.run("lead", StartRound())
    assert world.refuse("lead", SetRoundTimer(duration_ms=0)) == ErrorCode.INVALID_DURATION
    assert (
        world.refuse("lead", SetRoundTimer(duration_ms=MAX_DURATION_MS + 1))
        == ErrorCode.INVALID_DURATION
    )


# --- Broadcasts -----------------------------------------------------------------------------


def test_the_lead_broadcasts_to_every_room() -> None:
    world = assembly()
    started(world)

    events = world.run("lead", Broadcast(text="  Five minutes left.  "))

    announced = only(events, AnnouncementBroadcast)
    assert (announced.room, announced.text) == (ASSEMBLY_STREAM, "Five minutes left.")
    assert world.state.announcements == [(world.now_ms, "Five minutes left.")]


def test_the_rounds_announcements_end_with_it() -> None:
    world = assembly()
    started(world)
    world.run("lead", Broadcast(text="Ten minutes left."))

    world.run("lead", CloseRound())

    assert world.state.announcements == []
    assert any(isinstance(e, AnnouncementBroadcast) for e in world.log)


def test_a_broadcast_needs_text_within_the_limit() -> None:
    world = assembly()

    assert world.refuse("lead", Broadcast(text=" ")) == ErrorCode.TEXT_EMPTY
    assert (
        world.refuse("lead", Broadcast(text="x" * (MAX_TEXT_CHARS + 1))) == ErrorCode.TEXT_TOO_LONG
    )


# --- Closing the round ----------------------------------------------------------------------


def test_closing_a_round_brings_everyone_back_to_plenary_and_closes_the_rooms() -> None:
    world = assembly(jurors=6, facilitators=2)
    current = started(world)
    breakout = proposed(current, 0)
    world.run(breakout.jurors[0], RaiseHand(room=breakout.room_id))

    events = world.run("lead", CloseRound())

    assert only(events, RoundClosed).round_id == current.id
    assert current.closed
    assert world.state.current_round() is None
    assert world.plenary.jurors == {f"j{n}" for n in range(1, 7)}
    assert world.plenary.facilitators == {"f1", "f2"}
    for proposal in current.rooms:
        closed = room(world, proposal.room_id)
        assert closed.closed
        assert closed.queue == []
    for participant in [*JURORS[:6], "f1", "f2"]:
        assert world.state.participants[participant].room == P


def test_closing_a_round_ends_the_turns_running_in_its_rooms() -> None:
    world = assembly(jurors=6, facilitators=2)
    current = started(world)
    breakout = proposed(current, 0)
    speaker = breakout.jurors[0]
    world.run("lead", GrantFloor(room=breakout.room_id, participant=speaker))
    world.tick(30_000)

    events = world.run("lead", CloseRound())

    ended = only(events, TurnEnded)
    assert (ended.room, ended.speaker, ended.reason, ended.duration_ms) == (
        breakout.room_id,
        speaker,
        "round_closed",
        30_000,
    )
    assert room(world, breakout.room_id).floor is None
    assert world.state.participants[speaker].spoken_ms == 30_000


def test_a_closed_room_refuses_every_command() -> None:
    world = assembly(jurors=6, facilitators=2)
    current = started(world)
    breakout = proposed(current, 0)
    juror = breakout.jurors[0]
    world.run("lead", CloseRound())

    assert world.refuse(juror, RaiseHand(room=breakout.room_id)) == ErrorCode.ROOM_CLOSED
    assert world.refuse("lead", GrantFloor(room=breakout.room_id)) == ErrorCode.ROOM_CLOSED
    world.run(juror, RaiseHand(room=P))


def test_back_in_plenary_the_jurors_speak_there_again() -> None:
    world = assembly(jurors=6, facilitators=2)
    current = started(world)
    juror = proposed(current, 1).jurors[0]
    world.run("lead", CloseRound())

    world.run("f1", GrantFloor(room=P, participant=juror))
    world.run(juror, Speak(room=P, text="Our room agreed on a toll."))

    assert world.plenary.statements[-1].speaker == juror


def test_closing_a_proposed_round_withdraws_it() -> None:
    world = assembly()
    current = propose(world)

    world.run("lead", CloseRound())

    assert current.closed and not current.started
    assert set(world.state.rooms) == {P}
    assert world.plenary.jurors == {"j1", "j2", "j3", "j4"}
    events = world.run("lead", OpenRound(room_count=2))
    assert only(events, RoundProposed).round_id != current.id


def test_a_second_round_after_the_first_gets_new_rooms() -> None:
    world = assembly(jurors=6, facilitators=2)
    first = started(world)
    world.run("lead", CloseRound())

    second = started(world, room_count=3)

    first_rooms = {proposal.room_id for proposal in first.rooms}
    second_rooms = {proposal.room_id for proposal in second.rooms}
    assert not first_rooms & second_rooms
    assert all(not room(world, room_id).closed for room_id in second_rooms)
    assert world.plenary.jurors == set()


def test_closing_needs_a_round() -> None:
    world = assembly()
    assert world.refuse("lead", CloseRound()) == ErrorCode.NO_ROUND_RUNNING

    started(world)
    world.run("lead", CloseRound())

    assert world.refuse("lead", CloseRound()) == ErrorCode.NO_ROUND_RUNNING


def test_a_juror_removed_after_the_proposal_is_not_seated_when_the_round_starts() -> None:
    world = assembly(jurors=6)
    current = propose(world)
    removed = proposed(current, 0).jurors[0]
    world.run("f1", RemoveParticipant(room=PLENARY_ROOM, participant=removed, reason="abusive"))

    started_event = only(world.run("lead", StartRound()), RoundStarted)

    assert all(removed not in room.jurors for room in started_event.rooms)
    assert world.state.participants[removed].room is None
    assert all(removed not in r.jurors for r in world.state.rooms.values() if r.round_id)


# --- The recall, announced ahead ------------------------------------------------------------


def test_a_recall_announced_ahead_closes_the_round_when_its_time_comes() -> None:
    world = assembly(jurors=6, facilitators=2)
    current = started(world)
    breakout = proposed(current, 0)
    speaker = breakout.jurors[0]
    world.run("lead", GrantFloor(room=breakout.room_id, participant=speaker))

    announced = only(world.run("lead", CloseRound(after_ms=MINUTE)), RecallScheduled)

    assert (announced.room, announced.recall_at_ms) == (ASSEMBLY_STREAM, world.now_ms + MINUTE)
    assert current.recall_at_ms == world.now_ms + MINUTE
    # Rooms keep talking until then: the speaker finishes their sentence.
    assert not current.closed and room(world, breakout.room_id).floor is not None
    world.tick(MINUTE - 1)
    assert world.run(SYSTEM_ACTOR, RecallRound(round_id=current.id)) == []
    world.tick(1)

    events = world.run(SYSTEM_ACTOR, RecallRound(round_id=current.id))

    assert only(events, RoundClosed).round_id == current.id
    assert only(events, TurnEnded).reason == "round_closed"
    assert current.closed and world.state.participants[speaker].room == P
    assert world.run(SYSTEM_ACTOR, RecallRound(round_id=current.id)) == []


def test_the_lead_moves_or_cancels_an_announced_recall() -> None:
    world = assembly()
    current = started(world)
    world.run("lead", CloseRound(after_ms=5 * MINUTE))
    world.run("lead", CloseRound(after_ms=MINUTE))
    assert current.recall_at_ms == world.now_ms + MINUTE

    only(world.run("lead", CancelRecall()), RecallCancelled)

    assert current.recall_at_ms is None
    world.tick(10 * MINUTE)
    assert world.run(SYSTEM_ACTOR, RecallRound(round_id=current.id)) == []
    assert not current.closed
    assert world.refuse("lead", CancelRecall()) == ErrorCode.NO_RECALL


def test_closing_now_during_an_announced_recall_closes_at_once() -> None:
    world = assembly()
    current = started(world)
    world.run("lead", CloseRound(after_ms=MINUTE))

    only(world.run("lead", CloseRound()), RoundClosed)

    assert current.closed
    world.tick(MINUTE)
    assert world.run(SYSTEM_ACTOR, RecallRound(round_id=current.id)) == []


def test_a_recall_warning_is_between_five_seconds_and_ten_minutes() -> None:
    world = assembly()
    assert world.refuse("lead", CancelRecall()) == ErrorCode.NO_ROUND_RUNNING
    started(world)
    for after_ms in (0, MIN_RECALL_WARNING_MS - 1, MAX_RECALL_WARNING_MS + 1):
        assert world.refuse("lead", CloseRound(after_ms=after_ms)) == ErrorCode.INVALID_DURATION
    only(world.run("lead", CloseRound(after_ms=MIN_RECALL_WARNING_MS)), RecallScheduled)


def test_a_proposed_round_is_withdrawn_at_once_even_with_a_warning() -> None:
    world = assembly()
    current = propose(world)

    only(world.run("lead", CloseRound(after_ms=MINUTE)), RoundClosed)

    assert current.closed and not current.started


# --- The question the rooms start from ------------------------------------------------------


def pose(world: World, text: str) -> str:
    return only(world.run("f1", PoseQuestion(room=P, text=text)), QuestionPosed).node_id


def test_every_breakout_room_starts_from_the_plenarys_latest_question() -> None:
    world = assembly(jurors=6, facilitators=2)
    pose(world, "Should the city cap rents?")
    world.tick(1_000)
    pose(world, "Who should pay for new housing?")
    propose(world)

    events = world.run("lead", StartRound())

    carried = [e for e in events if isinstance(e, QuestionPosed)]
    current = world.state.rounds[-1]
    assert sorted(e.room for e in carried) == sorted(r.room_id for r in current.rooms)
    for event in carried:
        (question,) = room(world, event.room).nodes.values()
        assert (question.kind, question.text) == ("question", "Who should pay for new housing?")
        assert (event.actor, event.seq) == ("lead", 1)


def test_the_lead_picks_which_plenary_question_the_rooms_start_from() -> None:
    world = assembly(jurors=6, facilitators=2)
    first = pose(world, "Should the city cap rents?")
    pose(world, "Who should pay for new housing?")
    propose(world)
    position = only(
        world.run("j1", PostPosition(room=P, question_id=first, text="Yes, at inflation.")),
        PositionPosted,
    ).node_id
    assert world.refuse("lead", StartRound(question_id="n999")) == ErrorCode.NODE_NOT_FOUND
    assert world.refuse("lead", StartRound(question_id=position)) == ErrorCode.INVALID_PARENT

    world.run("lead", StartRound(question_id=first))

    for proposal in world.state.rounds[-1].rooms:
        texts = [node.text for node in room(world, proposal.room_id).nodes.values()]
        assert texts == ["Should the city cap rents?"]


def test_without_a_plenary_question_the_rooms_start_with_an_empty_map() -> None:
    world = assembly()
    hidden = pose(world, "A question posed by mistake")
    world.run("f1", HidePost(room=P, node_id=hidden, reason="Posed by mistake."))
    propose(world)

    events = world.run("lead", StartRound())

    assert not [e for e in events if isinstance(e, QuestionPosed)]
    for proposal in world.state.rounds[-1].rooms:
        assert room(world, proposal.room_id).nodes == {}
