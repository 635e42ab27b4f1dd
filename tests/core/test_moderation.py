"""A facilitator's controls: mute, unmute, remove, lock and pause."""

from facilitation import PLENARY_ROOM, SYSTEM_ACTOR, ErrorCode
from facilitation.commands import (
    AddAgendaItem,
    AdvanceAgenda,
    Endorse,
    ExpireAgendaItem,
    ExpireTurn,
    ExtendTurn,
    GrantFloor,
    LockRoom,
    MuteParticipant,
    NextSpeaker,
    OpenPoll,
    PauseRoom,
    PoseQuestion,
    PostPosition,
    RaiseHand,
    RemoveParticipant,
    RequestReply,
    ResumeRoom,
    SetRoomRules,
    Speak,
    UnlockRoom,
    UnmuteParticipant,
    Vote,
    YieldFloor,
)
from facilitation.events import (
    FloorGranted,
    HandLowered,
    ParticipantMuted,
    ParticipantRemoved,
    PollOpened,
    QuestionPosed,
    ReplyWithdrawn,
    RoomResumed,
    TurnEnded,
)
from facilitation.limits import DEFAULT_TURN_LIMIT_MS, DEFAULT_WARNING_MS
from facilitation.state import Room, Turn
from tests.core.builders import World, assembly, only

P = PLENARY_ROOM


def plenary(world: World) -> Room:
    return world.state.rooms[P]


def queue_of(world: World) -> list[str]:
    return [entry.participant for entry in plenary(world).queue]


def give_floor(world: World, juror: str) -> Turn:
    world.run("f1", GrantFloor(room=P, participant=juror))
    floor = plenary(world).floor
    assert floor is not None
    return floor


def ask_question(world: World) -> str:
    events = world.run("f1", PoseQuestion(room=P, text="Should the town build the bridge?"))
    return only(events, QuestionPosed).node_id


# --- Mute -----------------------------------------------------------------------------------


def test_muting_the_speaker_ends_their_turn() -> None:
    world = assembly()
    turn = give_floor(world, "j1")
    world.tick(12_000)

    events = world.run("f1", MuteParticipant(room=P, participant="j1", reason=" shouting "))

    muted, ended = events
    assert isinstance(muted, ParticipantMuted)
    assert (muted.participant, muted.reason) == ("j1", "shouting")
    assert isinstance(ended, TurnEnded)
    assert (ended.turn_id, ended.reason, ended.duration_ms) == (turn.id, "muted", 12_000)
    assert plenary(world).floor is None
    assert plenary(world).muted == {"j1"}


def test_muting_a_juror_lowers_their_hand_and_withdraws_their_reply() -> None:
    world = assembly()
    give_floor(world, "j1")
    world.run("j2", RaiseHand(room=P))
    world.run("j3", RaiseHand(room=P))
    world.run("j2", RequestReply(room=P))

    events = world.run("f1", MuteParticipant(room=P, participant="j2"))

    assert [type(event) for event in events] == [ParticipantMuted, HandLowered, ReplyWithdrawn]
    lowered, withdrawn = events[1], events[2]
    assert isinstance(lowered, HandLowered)
    assert lowered.reason == "muted"
    assert isinstance(withdrawn, ReplyWithdrawn)
    assert withdrawn.reason == "muted"
    assert queue_of(world) == ["j3"]
    assert plenary(world).replies == []
    floor = plenary(world).floor
    assert floor is not None
    assert floor.speaker == "j1"


def test_a_muted_juror_cannot_queue_reply_speak_or_post() -> None:
    world = assembly()
    question = ask_question(world)
    give_floor(world, "j2")
    world.run("f1", MuteParticipant(room=P, participant="j1"))

    assert world.refuse("j1", RaiseHand(room=P)) == ErrorCode.MUTED
    assert world.refuse("j1", RequestReply(room=P)) == ErrorCode.MUTED
    assert (
        world.refuse("j1", PostPosition(room=P, question_id=question, text="Yes"))
        == ErrorCode.MUTED
    )
    world.run("j2", YieldFloor(room=P))
    assert world.refuse("f1", GrantFloor(room=P, participant="j1")) == ErrorCode.MUTED
    assert world.refuse("j1", Speak(room=P, text="Let me speak")) == ErrorCode.NOT_YOUR_TURN


def test_a_muted_juror_can_still_vote_and_endorse() -> None:
    world = assembly()
    question = ask_question(world)
    events = world.run(
        "f1", OpenPoll(room=P, question="Build it?", kind="single", options=("Yes", "No"))
    )
    poll_id = only(events, PollOpened).poll_id
    world.run("f1", MuteParticipant(room=P, participant="j1"))

    world.run("j1", Vote(room=P, poll_id=poll_id, choices=(1,)))
    world.run("j1", Endorse(room=P, node_id=question))

    assert plenary(world).polls[poll_id].votes == {"j1": (1,)}
    assert plenary(world).nodes[question].endorsers == {"j1"}


def test_in_auto_mode_muting_the_speaker_passes_the_floor_to_the_next_in_line() -> None:
    world = assembly()
    world.run("f1", SetRoomRules(room=P, auto=True))
    world.run("j1", RaiseHand(room=P))
    world.run("j2", RaiseHand(room=P))

    events = world.run("f1", MuteParticipant(room=P, participant="j1"))

    assert [type(event) for event in events] == [ParticipantMuted, TurnEnded, FloorGranted]
    floor = plenary(world).floor
    assert floor is not None
    assert floor.speaker == "j2"


def test_muting_someone_already_muted_is_refused() -> None:
    world = assembly()
    world.run("f1", MuteParticipant(room=P, participant="j1"))

    assert world.refuse("f1", MuteParticipant(room=P, participant="j1")) == ErrorCode.ALREADY_MUTED


def test_muting_needs_a_known_juror_of_the_room_and_a_short_reason() -> None:
    world = assembly()

    assert (
        world.refuse("f1", MuteParticipant(room=P, participant="nobody"))
        == ErrorCode.UNKNOWN_PARTICIPANT
    )
    assert world.refuse("lead", MuteParticipant(room=P, participant="f1")) == ErrorCode.NOT_IN_ROOM
    assert (
        world.refuse("f1", MuteParticipant(room=P, participant="j1", reason="x" * 201))
        == ErrorCode.TEXT_TOO_LONG
    )


def test_unmuting_lets_the_juror_take_part_again() -> None:
    world = assembly()
    world.run("f1", MuteParticipant(room=P, participant="j1"))

    world.run("f1", UnmuteParticipant(room=P, participant="j1"))

    assert plenary(world).muted == set()
    world.run("j1", RaiseHand(room=P))
    assert queue_of(world) == ["j1"]


def test_unmuting_needs_a_known_muted_participant() -> None:
    world = assembly()

    assert world.refuse("f1", UnmuteParticipant(room=P, participant="j1")) == ErrorCode.NOT_MUTED
    assert (
        world.refuse("f1", UnmuteParticipant(room=P, participant="nobody"))
        == ErrorCode.UNKNOWN_PARTICIPANT
    )


# --- Remove ---------------------------------------------------------------------------------


def test_removing_a_juror_unseats_them_and_keeps_the_reason() -> None:
    world = assembly()
    world.run("j1", RaiseHand(room=P))
    world.run("j2", RaiseHand(room=P))

    events = world.run("f1", RemoveParticipant(room=P, participant="j1", reason=" abusive "))

    removed, lowered = events
    assert isinstance(removed, ParticipantRemoved)
    assert removed.reason == "abusive"
    assert isinstance(lowered, HandLowered)
    assert lowered.reason == "removed"
    assert "j1" not in plenary(world).jurors
    assert plenary(world).removed == {"j1"}
    assert world.state.participants["j1"].room is None
    assert queue_of(world) == ["j2"]


def test_a_removed_juror_can_no_longer_act_in_the_room() -> None:
    world = assembly()
    world.run("f1", RemoveParticipant(room=P, participant="j1", reason="abusive"))

    assert world.refuse("j1", RaiseHand(room=P)) == ErrorCode.NOT_IN_ROOM
    assert world.refuse("f1", GrantFloor(room=P, participant="j1")) == ErrorCode.NOT_IN_ROOM


def test_removing_the_speaker_ends_their_turn() -> None:
    world = assembly()
    turn = give_floor(world, "j1")

    events = world.run("f1", RemoveParticipant(room=P, participant="j1", reason="abusive"))

    ended = events[-1]
    assert isinstance(ended, TurnEnded)
    assert (ended.turn_id, ended.reason) == (turn.id, "removed")
    assert plenary(world).floor is None


def test_removing_needs_a_reason() -> None:
    world = assembly()

    assert (
        world.refuse("f1", RemoveParticipant(room=P, participant="j1", reason=""))
        == ErrorCode.REASON_REQUIRED
    )
    assert (
        world.refuse("f1", RemoveParticipant(room=P, participant="j1", reason="   "))
        == ErrorCode.REASON_REQUIRED
    )
    assert (
        world.refuse("f1", RemoveParticipant(room=P, participant="j1", reason="x" * 201))
        == ErrorCode.TEXT_TOO_LONG
    )


def test_removing_needs_a_known_juror_of_the_room() -> None:
    world = assembly()

    assert (
        world.refuse("f1", RemoveParticipant(room=P, participant="nobody", reason="spam"))
        == ErrorCode.UNKNOWN_PARTICIPANT
    )
    world.run("f1", RemoveParticipant(room=P, participant="j1", reason="spam"))
    assert (
        world.refuse("f1", RemoveParticipant(room=P, participant="j1", reason="spam"))
        == ErrorCode.NOT_IN_ROOM
    )


# --- Lock -----------------------------------------------------------------------------------


def test_a_locked_room_refuses_jurors_hands_replies_and_posts() -> None:
    world = assembly()
    question = ask_question(world)
    give_floor(world, "j1")

    world.run("f1", LockRoom(room=P))

    assert plenary(world).locked
    assert world.refuse("j2", RaiseHand(room=P)) == ErrorCode.ROOM_LOCKED
    assert world.refuse("j2", RequestReply(room=P)) == ErrorCode.ROOM_LOCKED
    assert (
        world.refuse("j2", PostPosition(room=P, question_id=question, text="No"))
        == ErrorCode.ROOM_LOCKED
    )


def test_a_locked_room_still_lets_moderators_act_and_the_speaker_finish() -> None:
    world = assembly()
    question = ask_question(world)
    world.run("j2", RaiseHand(room=P))
    give_floor(world, "j1")
    world.run("f1", LockRoom(room=P))

    world.run("j1", Speak(room=P, text="Let me finish my point."))
    world.run("f1", PostPosition(room=P, question_id=question, text="A compromise"))
    world.run("lead", PoseQuestion(room=P, text="What would it cost?"))
    world.run("f1", NextSpeaker(room=P))

    floor = plenary(world).floor
    assert floor is not None
    assert floor.speaker == "j2"


def test_unlocking_lets_jurors_raise_hands_again() -> None:
    world = assembly()
    world.run("f1", LockRoom(room=P))

    world.run("lead", UnlockRoom(room=P))

    world.run("j1", RaiseHand(room=P))
    assert not plenary(world).locked
    assert queue_of(world) == ["j1"]


def test_locking_twice_or_unlocking_an_open_room_is_refused() -> None:
    world = assembly()
    assert world.refuse("f1", UnlockRoom(room=P)) == ErrorCode.NOT_LOCKED

    world.run("f1", LockRoom(room=P))

    assert world.refuse("f1", LockRoom(room=P)) == ErrorCode.ALREADY_LOCKED


# --- Pause ----------------------------------------------------------------------------------


def test_pausing_twice_or_resuming_a_running_room_is_refused() -> None:
    world = assembly()
    assert world.refuse("f1", ResumeRoom(room=P)) == ErrorCode.ROOM_NOT_PAUSED

    world.run("f1", PauseRoom(room=P))

    assert plenary(world).paused_at_ms == world.now_ms
    assert world.refuse("f1", PauseRoom(room=P)) == ErrorCode.ROOM_PAUSED


def test_resuming_shifts_the_turn_deadline_by_the_pause() -> None:
    world = assembly()
    turn = give_floor(world, "j1")
    deadline, warning = turn.deadline_ms, turn.warning_at_ms
    world.tick(30_000)
    world.run("f1", PauseRoom(room=P))
    world.tick(45_000)

    events = world.run("f1", ResumeRoom(room=P))

    assert isinstance(events[0], RoomResumed)
    assert events[0].paused_ms == 45_000
    assert plenary(world).paused_at_ms is None
    assert (turn.deadline_ms, turn.warning_at_ms) == (deadline + 45_000, warning + 45_000)
    assert deadline + 45_000 - DEFAULT_WARNING_MS == turn.warning_at_ms


def test_resuming_shifts_the_agenda_item_deadline_by_the_pause() -> None:
    world = assembly()
    world.run("f1", AddAgendaItem(room=P, title="Opening", duration_ms=600_000))
    world.run("f1", AdvanceAgenda(room=P))
    item = plenary(world).agenda[0]
    deadline = item.deadline_ms
    assert deadline is not None
    world.run("f1", PauseRoom(room=P))
    world.tick(90_000)

    world.run("f1", ResumeRoom(room=P))

    assert item.deadline_ms == deadline + 90_000


def test_speaking_time_excludes_the_pause() -> None:
    world = assembly()
    give_floor(world, "j1")
    world.tick(20_000)
    world.run("f1", PauseRoom(room=P))
    world.tick(300_000)
    world.run("f1", ResumeRoom(room=P))
    world.tick(10_000)

    events = world.run("j1", YieldFloor(room=P))

    ended = events[0]
    assert isinstance(ended, TurnEnded)
    assert ended.duration_ms == 30_000
    assert plenary(world).stats["j1"].spoken_ms == 30_000
    assert world.state.participants["j1"].spoken_ms == 30_000


def test_a_turn_ended_during_a_pause_counts_only_until_the_pause() -> None:
    world = assembly()
    give_floor(world, "j1")
    world.tick(20_000)
    world.run("f1", PauseRoom(room=P))
    world.tick(60_000)

    events = world.run("f1", MuteParticipant(room=P, participant="j1"))

    ended = events[-1]
    assert isinstance(ended, TurnEnded)
    assert ended.duration_ms == 20_000


def test_an_expiry_while_paused_decides_nothing() -> None:
    world = assembly()
    turn = give_floor(world, "j1")
    world.run("f1", AddAgendaItem(room=P, title="Opening", duration_ms=60_000))
    world.run("f1", AdvanceAgenda(room=P))
    item = plenary(world).agenda[0]
    world.run("f1", PauseRoom(room=P))
    world.tick(DEFAULT_TURN_LIMIT_MS * 2)

    assert world.run(SYSTEM_ACTOR, ExpireTurn(room=P, turn_id=turn.id)) == []
    assert world.run(SYSTEM_ACTOR, ExpireAgendaItem(room=P, item_id=item.id)) == []
    assert plenary(world).floor is turn
    assert item.status == "running"


def test_after_a_pause_the_turn_expires_at_its_shifted_deadline_only() -> None:
    world = assembly()
    turn = give_floor(world, "j1")
    world.tick(60_000)
    world.run("f1", PauseRoom(room=P))
    world.tick(40_000)
    world.run("f1", ResumeRoom(room=P))
    world.tick(20_000)  # the original deadline, which the pause moved 40 s later

    assert world.run(SYSTEM_ACTOR, ExpireTurn(room=P, turn_id=turn.id)) == []

    world.tick(40_000)
    events = world.run(SYSTEM_ACTOR, ExpireTurn(room=P, turn_id=turn.id))
    ended = events[0]
    assert isinstance(ended, TurnEnded)
    assert (ended.reason, ended.duration_ms) == ("expired", DEFAULT_TURN_LIMIT_MS)


def test_no_floor_is_granted_while_the_room_is_paused() -> None:
    world = assembly()
    world.run("j1", RaiseHand(room=P))
    world.run("f1", PauseRoom(room=P))

    assert world.refuse("f1", GrantFloor(room=P)) == ErrorCode.ROOM_PAUSED
    assert world.refuse("f1", NextSpeaker(room=P)) == ErrorCode.ROOM_PAUSED


def test_a_turn_can_be_extended_while_paused() -> None:
    world = assembly()
    turn = give_floor(world, "j1")
    deadline = turn.deadline_ms
    world.run("f1", PauseRoom(room=P))
    world.tick(5_000)

    world.run("f1", ExtendTurn(room=P, by_ms=10_000))
    world.run("f1", ResumeRoom(room=P))

    assert turn.deadline_ms == deadline + 15_000


def test_in_auto_mode_a_hand_raised_while_paused_gets_the_floor_on_resume() -> None:
    world = assembly()
    world.run("f1", SetRoomRules(room=P, auto=True))
    world.run("f1", PauseRoom(room=P))

    world.run("j1", RaiseHand(room=P))
    assert plenary(world).floor is None

    events = world.run("f1", ResumeRoom(room=P))

    assert [type(event) for event in events] == [RoomResumed, FloorGranted]
    floor = plenary(world).floor
    assert floor is not None
    assert (floor.speaker, floor.deadline_ms) == ("j1", world.now_ms + DEFAULT_TURN_LIMIT_MS)
