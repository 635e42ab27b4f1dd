"""Speaking turns: hands and the queue, the reply lane, the floor, its deadline, the transcript."""

from facilitation import PLENARY_ROOM, SYSTEM_ACTOR, ErrorCode
from facilitation.commands import (
    ExpireTurn,
    ExtendTurn,
    GrantFloor,
    Interject,
    LowerHand,
    MoveToTop,
    NextSpeaker,
    PauseRoom,
    RaiseHand,
    RemoveFromQueue,
    ReorderQueue,
    RequestReply,
    RevokeFloor,
    SetRoomRules,
    Speak,
    WithdrawReply,
    YieldFloor,
)
from facilitation.events import (
    FloorGranted,
    HandLowered,
    HandRaised,
    QueueReordered,
    ReplyWithdrawn,
    RoomRulesChanged,
    StatementMade,
    TurnEnded,
    TurnExtended,
)
from facilitation.limits import (
    DEFAULT_REPLY_LIMIT_MS,
    DEFAULT_TURN_LIMIT_MS,
    DEFAULT_WARNING_MS,
    MAX_TEXT_CHARS,
    MAX_TURN_LIMIT_MS,
)
from facilitation.state import Room
from tests.core.builders import World, assembly, only

P = PLENARY_ROOM


def plenary(world: World) -> Room:
    return world.state.rooms[P]


def queue_of(world: World) -> list[str]:
    return [entry.participant for entry in plenary(world).queue]


def replies_of(world: World) -> list[str]:
    return [entry.participant for entry in plenary(world).replies]


def raise_hands(world: World, *jurors: str) -> None:
    for juror in jurors:
        world.run(juror, RaiseHand(room=P))


def give_floor(world: World, juror: str) -> str:
    """The facilitator grants `juror` the floor; returns the turn id."""
    events = world.run("f1", GrantFloor(room=P, participant=juror))
    granted = events[-1]
    assert isinstance(granted, FloorGranted)
    assert granted.speaker == juror
    return granted.turn_id


def speak_for(world: World, juror: str, ms: int) -> None:
    """`juror` takes the floor, holds it `ms`, then yields."""
    give_floor(world, juror)
    world.tick(ms)
    world.run(juror, YieldFloor(room=P))


# --- Hands and the queue --------------------------------------------------------------------


def test_raised_hands_queue_in_the_order_they_went_up() -> None:
    world = assembly()
    world.run("j2", RaiseHand(room=P))
    world.tick(1_000)
    world.run("j1", RaiseHand(room=P))
    world.tick(1_000)
    world.run("j3", RaiseHand(room=P))

    assert queue_of(world) == ["j2", "j1", "j3"]
    assert [entry.raised_at_ms for entry in plenary(world).queue] == [
        world.now_ms - 2_000,
        world.now_ms - 1_000,
        world.now_ms,
    ]


def test_a_juror_sees_their_place_move_up_as_others_leave_the_queue() -> None:
    world = assembly()
    raise_hands(world, "j1", "j2", "j3")
    assert queue_of(world).index("j3") == 2

    world.run("j1", LowerHand(room=P))
    assert queue_of(world).index("j3") == 1
    give_floor(world, "j2")
    assert queue_of(world).index("j3") == 0


def test_lowering_a_hand_leaves_the_queue_and_keeps_the_others_in_order() -> None:
    world = assembly()
    raise_hands(world, "j1", "j2", "j3")

    events = world.run("j2", LowerHand(room=P))

    assert events == [
        HandLowered(
            room=P,
            seq=events[0].seq,
            actor="j2",
            at_ms=world.now_ms,
            participant="j2",
            reason="lowered",
        )
    ]
    assert queue_of(world) == ["j1", "j3"]


def test_raising_a_hand_twice_is_refused() -> None:
    world = assembly()
    world.run("j1", RaiseHand(room=P))

    assert world.refuse("j1", RaiseHand(room=P)) == ErrorCode.ALREADY_IN_QUEUE


def test_lowering_a_hand_that_is_not_up_is_refused() -> None:
    world = assembly()

    assert world.refuse("j1", LowerHand(room=P)) == ErrorCode.NOT_IN_QUEUE


def test_the_floor_holder_cannot_raise_a_hand() -> None:
    world = assembly()
    give_floor(world, "j1")

    assert world.refuse("j1", RaiseHand(room=P)) == ErrorCode.ALREADY_SPEAKING


def test_first_come_ignores_how_much_a_juror_has_already_spoken() -> None:
    world = assembly()
    speak_for(world, "j1", 60_000)

    raise_hands(world, "j1", "j2")

    assert queue_of(world) == ["j1", "j2"]


def test_equity_puts_the_least_heard_juror_first() -> None:
    world = assembly()
    world.run("f1", SetRoomRules(room=P, policy="equity"))
    speak_for(world, "j1", 60_000)
    speak_for(world, "j2", 30_000)

    raise_hands(world, "j1", "j2", "j3")

    assert queue_of(world) == ["j3", "j2", "j1"]


def test_equity_breaks_ties_by_who_has_waited_longest() -> None:
    world = assembly()
    world.run("f1", SetRoomRules(room=P, policy="equity"))
    speak_for(world, "j4", 10_000)

    world.run("j4", RaiseHand(room=P))
    world.tick(500)
    world.run("j2", RaiseHand(room=P))
    world.tick(500)
    world.run("j1", RaiseHand(room=P))

    assert queue_of(world) == ["j2", "j1", "j4"]


def test_switching_to_equity_resorts_the_queue_by_speaking_time() -> None:
    world = assembly()
    speak_for(world, "j1", 60_000)
    speak_for(world, "j2", 30_000)
    raise_hands(world, "j1", "j2", "j3")
    assert queue_of(world) == ["j1", "j2", "j3"]

    events = world.run("f1", SetRoomRules(room=P, policy="equity"))

    assert [type(event) for event in events] == [RoomRulesChanged]
    assert queue_of(world) == ["j3", "j2", "j1"]


def test_a_reorder_under_equity_stands_until_the_policy_is_switched_again() -> None:
    world = assembly()
    speak_for(world, "j1", 60_000)
    world.run("f1", SetRoomRules(room=P, policy="equity"))
    raise_hands(world, "j1", "j2")
    world.run("f1", ReorderQueue(room=P, order=("j1", "j2")))

    world.run("f1", SetRoomRules(room=P, turn_limit_ms=60_000))
    assert queue_of(world) == ["j1", "j2"]

    world.run("f1", SetRoomRules(room=P, policy="first_come"))
    assert queue_of(world) == ["j1", "j2"]
    world.run("f1", SetRoomRules(room=P, policy="equity"))
    assert queue_of(world) == ["j2", "j1"]


def test_switching_back_to_first_come_keeps_the_current_order() -> None:
    world = assembly()
    speak_for(world, "j1", 60_000)
    world.run("f1", SetRoomRules(room=P, policy="equity"))
    raise_hands(world, "j1", "j2")
    assert queue_of(world) == ["j2", "j1"]

    world.run("f1", SetRoomRules(room=P, policy="first_come"))
    world.run("j3", RaiseHand(room=P))

    assert queue_of(world) == ["j2", "j1", "j3"]


def test_a_facilitator_reorders_the_queue() -> None:
    world = assembly()
    raise_hands(world, "j1", "j2", "j3")
    entries = {entry.participant: entry for entry in plenary(world).queue}

    events = world.run("f1", ReorderQueue(room=P, order=("j3", "j1", "j2")))

    assert isinstance(events[0], QueueReordered)
    assert queue_of(world) == ["j3", "j1", "j2"]
    # Each keeps the time their hand went up: waiting time is not reset by a reorder.
    assert plenary(world).queue[0].raised_at_ms == entries["j3"].raised_at_ms


def test_a_reorder_must_list_everyone_queued_exactly_once() -> None:
    world = assembly()
    raise_hands(world, "j1", "j2")

    assert world.refuse("f1", ReorderQueue(room=P, order=("j1",))) == ErrorCode.INVALID_ORDER
    assert (
        world.refuse("f1", ReorderQueue(room=P, order=("j1", "j2", "j2")))
        == ErrorCode.INVALID_ORDER
    )
    assert world.refuse("f1", ReorderQueue(room=P, order=("j1", "j3"))) == ErrorCode.INVALID_ORDER
    assert (
        world.refuse("f1", ReorderQueue(room=P, order=("j1", "j2", "j3")))
        == ErrorCode.INVALID_ORDER
    )


def test_move_to_top_puts_a_juror_first_and_keeps_the_rest_in_order() -> None:
    world = assembly()
    raise_hands(world, "j1", "j2", "j3", "j4")

    world.run("f1", MoveToTop(room=P, participant="j3"))

    assert queue_of(world) == ["j3", "j1", "j2", "j4"]


def test_move_to_top_of_someone_not_queued_is_refused() -> None:
    world = assembly()
    world.run("j1", RaiseHand(room=P))

    assert world.refuse("f1", MoveToTop(room=P, participant="j2")) == ErrorCode.NOT_IN_QUEUE


def test_a_facilitator_removes_a_juror_from_the_queue() -> None:
    world = assembly()
    raise_hands(world, "j1", "j2")

    events = world.run("f1", RemoveFromQueue(room=P, participant="j1"))

    assert isinstance(events[0], HandLowered)
    assert (events[0].participant, events[0].reason) == ("j1", "removed")
    assert queue_of(world) == ["j2"]


def test_removing_from_the_queue_someone_not_in_it_is_refused() -> None:
    world = assembly()

    assert world.refuse("f1", RemoveFromQueue(room=P, participant="j1")) == ErrorCode.NOT_IN_QUEUE
    assert (
        world.refuse("f1", RemoveFromQueue(room=P, participant="nobody"))
        == ErrorCode.UNKNOWN_PARTICIPANT
    )


# --- The reply lane -------------------------------------------------------------------------


def test_a_reply_is_heard_before_the_queue() -> None:
    world = assembly()
    turn = give_floor(world, "j1")
    world.run("j2", RaiseHand(room=P))
    world.run("j3", RequestReply(room=P))
    assert replies_of(world) == ["j3"]
    floor = plenary(world).floor
    assert floor is not None
    assert floor.replies_requested == 1

    events = world.run("f1", NextSpeaker(room=P))

    granted = events[-1]
    assert isinstance(granted, FloorGranted)
    assert (granted.speaker, granted.kind) == ("j3", "reply")
    assert granted.deadline_ms == world.now_ms + DEFAULT_REPLY_LIMIT_MS
    assert granted.turn_id != turn
    assert replies_of(world) == []
    assert queue_of(world) == ["j2"]

    events = world.run("f1", NextSpeaker(room=P))
    granted = events[-1]
    assert isinstance(granted, FloorGranted)
    assert (granted.speaker, granted.kind) == ("j2", "turn")


def test_the_reply_lane_holds_at_most_the_replies_allowed_per_turn() -> None:
    world = assembly()
    give_floor(world, "j1")
    world.run("j2", RequestReply(room=P))
    world.run("j3", RequestReply(room=P))

    assert world.refuse("j4", RequestReply(room=P)) == ErrorCode.REPLY_LANE_FULL


def test_the_reply_cap_follows_the_room_rules() -> None:
    world = assembly()
    world.run("f1", SetRoomRules(room=P, replies_per_turn=0))
    give_floor(world, "j1")

    assert world.refuse("j2", RequestReply(room=P)) == ErrorCode.REPLY_LANE_FULL


def test_a_withdrawn_reply_request_still_counts_against_the_cap() -> None:
    """Otherwise asking, withdrawing and asking again would keep a place ahead of the queue."""
    world = assembly()
    world.run("f1", SetRoomRules(room=P, replies_per_turn=1))
    give_floor(world, "j1")
    world.run("j2", RequestReply(room=P))
    world.run("j2", WithdrawReply(room=P))
    assert replies_of(world) == []

    assert world.refuse("j2", RequestReply(room=P)) == ErrorCode.REPLY_LANE_FULL
    assert world.refuse("j3", RequestReply(room=P)) == ErrorCode.REPLY_LANE_FULL


def test_the_reply_cap_counts_afresh_on_each_turn() -> None:
    world = assembly()
    give_floor(world, "j1")
    world.run("j2", RequestReply(room=P))
    world.run("j3", RequestReply(room=P))
    world.run("j1", YieldFloor(room=P))
    world.run("j4", RaiseHand(room=P))
    world.run("f1", GrantFloor(room=P, participant="j4"))

    world.run("j1", RequestReply(room=P))

    assert replies_of(world) == ["j1"]


def test_a_new_turn_drops_the_replies_to_the_turn_before() -> None:
    world = assembly()
    give_floor(world, "j1")
    world.run("j2", RequestReply(room=P))
    world.run("j1", YieldFloor(room=P))

    give_floor(world, "j3")

    assert replies_of(world) == []


def test_replies_still_come_first_once_the_turn_they_answer_has_ended() -> None:
    world = assembly()
    give_floor(world, "j1")
    world.run("j4", RaiseHand(room=P))
    world.run("j2", RequestReply(room=P))
    world.run("j1", YieldFloor(room=P))

    events = world.run("f1", GrantFloor(room=P))

    granted = events[-1]
    assert isinstance(granted, FloorGranted)
    assert (granted.speaker, granted.kind) == ("j2", "reply")


def test_a_reply_needs_someone_holding_the_floor() -> None:
    world = assembly()

    assert world.refuse("j1", RequestReply(room=P)) == ErrorCode.NO_SPEAKER


def test_the_speaker_cannot_reply_to_themselves() -> None:
    world = assembly()
    give_floor(world, "j1")

    assert world.refuse("j1", RequestReply(room=P)) == ErrorCode.REPLY_NOT_ALLOWED


def test_a_reply_cannot_answer_another_reply() -> None:
    world = assembly()
    give_floor(world, "j1")
    world.run("j2", RequestReply(room=P))
    world.run("f1", NextSpeaker(room=P))

    assert world.refuse("j3", RequestReply(room=P)) == ErrorCode.REPLY_NOT_ALLOWED


def test_asking_to_reply_twice_is_refused() -> None:
    world = assembly()
    give_floor(world, "j1")
    world.run("j2", RequestReply(room=P))

    assert world.refuse("j2", RequestReply(room=P)) == ErrorCode.ALREADY_REPLYING


def test_a_juror_withdraws_their_reply() -> None:
    world = assembly()
    give_floor(world, "j1")
    world.run("j2", RequestReply(room=P))
    world.run("j3", RequestReply(room=P))

    events = world.run("j2", WithdrawReply(room=P))

    assert isinstance(events[0], ReplyWithdrawn)
    assert events[0].reason == "lowered"
    assert replies_of(world) == ["j3"]


def test_withdrawing_a_reply_never_asked_for_is_refused() -> None:
    world = assembly()
    give_floor(world, "j1")

    assert world.refuse("j2", WithdrawReply(room=P)) == ErrorCode.NOT_REPLYING


# --- The floor ------------------------------------------------------------------------------


def test_granting_the_floor_by_name_takes_the_juror_out_of_the_queue() -> None:
    world = assembly()
    raise_hands(world, "j1", "j2", "j3")

    events = world.run("f1", GrantFloor(room=P, participant="j2"))

    granted = events[0]
    assert isinstance(granted, FloorGranted)
    assert (granted.speaker, granted.kind) == ("j2", "turn")
    assert granted.deadline_ms == world.now_ms + DEFAULT_TURN_LIMIT_MS
    assert granted.warning_at_ms == granted.deadline_ms - DEFAULT_WARNING_MS
    assert queue_of(world) == ["j1", "j3"]
    floor = plenary(world).floor
    assert floor is not None
    assert (floor.id, floor.speaker) == (granted.turn_id, "j2")


def test_a_juror_without_a_raised_hand_can_be_given_the_floor() -> None:
    world = assembly()

    turn = give_floor(world, "j4")

    assert plenary(world).turns[turn].speaker == "j4"


def test_granting_with_no_name_gives_the_floor_to_the_next_in_line() -> None:
    world = assembly()
    raise_hands(world, "j3", "j1")

    events = world.run("lead", GrantFloor(room=P))

    granted = events[0]
    assert isinstance(granted, FloorGranted)
    assert granted.speaker == "j3"
    assert queue_of(world) == ["j1"]


def test_granting_a_taken_floor_is_refused() -> None:
    world = assembly()
    give_floor(world, "j1")

    assert world.refuse("f1", GrantFloor(room=P, participant="j2")) == ErrorCode.FLOOR_TAKEN


def test_granting_the_next_in_line_of_an_empty_queue_is_refused() -> None:
    world = assembly()

    assert world.refuse("f1", GrantFloor(room=P)) == ErrorCode.QUEUE_EMPTY


def test_granting_the_floor_to_someone_unknown_is_refused() -> None:
    world = assembly()

    assert (
        world.refuse("f1", GrantFloor(room=P, participant="nobody"))
        == ErrorCode.UNKNOWN_PARTICIPANT
    )
    assert world.refuse("f1", GrantFloor(room=P, participant="f1")) == ErrorCode.NOT_IN_ROOM


def test_next_speaker_ends_the_turn_and_grants_the_next_in_line() -> None:
    world = assembly()
    turn = give_floor(world, "j1")
    raise_hands(world, "j2", "j3")
    world.tick(40_000)

    events = world.run("f1", NextSpeaker(room=P))

    ended, granted = events
    assert isinstance(ended, TurnEnded)
    assert (ended.turn_id, ended.speaker, ended.reason) == (turn, "j1", "next")
    assert ended.duration_ms == 40_000
    assert isinstance(granted, FloorGranted)
    assert granted.speaker == "j2"
    assert queue_of(world) == ["j3"]


def test_next_speaker_with_no_one_waiting_just_ends_the_turn() -> None:
    world = assembly()
    give_floor(world, "j1")

    events = world.run("f1", NextSpeaker(room=P))

    assert [type(event) for event in events] == [TurnEnded]
    assert plenary(world).floor is None


def test_next_speaker_on_a_free_floor_grants_the_first_in_line() -> None:
    world = assembly()
    world.run("j2", RaiseHand(room=P))

    events = world.run("f1", NextSpeaker(room=P))

    assert [type(event) for event in events] == [FloorGranted]


def test_next_speaker_with_no_floor_and_no_queue_is_refused() -> None:
    world = assembly()

    assert world.refuse("f1", NextSpeaker(room=P)) == ErrorCode.QUEUE_EMPTY


def test_the_speaker_yields_the_floor() -> None:
    world = assembly()
    turn = give_floor(world, "j1")
    world.tick(15_000)

    events = world.run("j1", YieldFloor(room=P))

    ended = only(events, TurnEnded)
    assert (ended.turn_id, ended.reason, ended.duration_ms) == (turn, "yielded", 15_000)
    assert plenary(world).floor is None


def test_only_the_floor_holder_can_yield() -> None:
    world = assembly()
    assert world.refuse("j1", YieldFloor(room=P)) == ErrorCode.NOT_YOUR_TURN

    give_floor(world, "j1")

    assert world.refuse("j2", YieldFloor(room=P)) == ErrorCode.NOT_YOUR_TURN


# --- The deadline ---------------------------------------------------------------------------


def test_a_turn_expires_at_its_deadline() -> None:
    world = assembly()
    turn = give_floor(world, "j1")
    world.tick(DEFAULT_TURN_LIMIT_MS)

    events = world.run(SYSTEM_ACTOR, ExpireTurn(room=P, turn_id=turn))

    ended = only(events, TurnEnded)
    assert (ended.reason, ended.duration_ms) == ("expired", DEFAULT_TURN_LIMIT_MS)
    assert plenary(world).floor is None


def test_a_late_expiry_counts_no_more_than_the_time_limit() -> None:
    world = assembly()
    turn = give_floor(world, "j1")
    world.tick(DEFAULT_TURN_LIMIT_MS + 7_000)

    events = world.run(SYSTEM_ACTOR, ExpireTurn(room=P, turn_id=turn))

    assert only(events, TurnEnded).duration_ms == DEFAULT_TURN_LIMIT_MS
    assert world.state.participants["j1"].spoken_ms == DEFAULT_TURN_LIMIT_MS


def test_an_early_expiry_decides_nothing() -> None:
    world = assembly()
    turn = give_floor(world, "j1")
    world.tick(DEFAULT_TURN_LIMIT_MS - 1)

    assert world.run(SYSTEM_ACTOR, ExpireTurn(room=P, turn_id=turn)) == []
    assert plenary(world).floor is not None


def test_a_stale_expiry_of_an_ended_turn_decides_nothing() -> None:
    world = assembly()
    old = give_floor(world, "j1")
    world.run("j1", YieldFloor(room=P))
    give_floor(world, "j2")
    world.tick(DEFAULT_TURN_LIMIT_MS)

    assert world.run(SYSTEM_ACTOR, ExpireTurn(room=P, turn_id=old)) == []
    assert world.run(SYSTEM_ACTOR, ExpireTurn(room=P, turn_id="t999")) == []
    floor = plenary(world).floor
    assert floor is not None
    assert floor.speaker == "j2"


def test_a_repeated_expiry_decides_nothing_the_second_time() -> None:
    world = assembly()
    turn = give_floor(world, "j1")
    world.tick(DEFAULT_TURN_LIMIT_MS)
    world.run(SYSTEM_ACTOR, ExpireTurn(room=P, turn_id=turn))

    assert world.run(SYSTEM_ACTOR, ExpireTurn(room=P, turn_id=turn)) == []


def test_extending_a_turn_moves_its_deadline_and_warning() -> None:
    world = assembly()
    give_floor(world, "j1")
    floor = plenary(world).floor
    assert floor is not None
    deadline = floor.deadline_ms

    events = world.run("f1", ExtendTurn(room=P, by_ms=30_000))

    extended = events[0]
    assert isinstance(extended, TurnExtended)
    assert extended.deadline_ms == deadline + 30_000
    assert floor.deadline_ms == deadline + 30_000
    assert floor.warning_at_ms == deadline + 30_000 - DEFAULT_WARNING_MS


def test_the_old_deadline_no_longer_ends_an_extended_turn() -> None:
    world = assembly()
    turn = give_floor(world, "j1")
    world.run("f1", ExtendTurn(room=P, by_ms=30_000))
    world.tick(DEFAULT_TURN_LIMIT_MS)

    assert world.run(SYSTEM_ACTOR, ExpireTurn(room=P, turn_id=turn)) == []

    world.tick(30_000)
    events = world.run(SYSTEM_ACTOR, ExpireTurn(room=P, turn_id=turn))
    assert only(events, TurnEnded).duration_ms == DEFAULT_TURN_LIMIT_MS + 30_000


def test_extending_needs_a_speaker_and_a_sensible_duration() -> None:
    world = assembly()
    assert world.refuse("f1", ExtendTurn(room=P, by_ms=30_000)) == ErrorCode.NO_SPEAKER

    give_floor(world, "j1")

    assert world.refuse("f1", ExtendTurn(room=P, by_ms=0)) == ErrorCode.INVALID_DURATION
    assert (
        world.refuse("f1", ExtendTurn(room=P, by_ms=MAX_TURN_LIMIT_MS + 1))
        == ErrorCode.INVALID_DURATION
    )


def test_revoking_the_floor_ends_the_turn_with_the_reason_as_a_note() -> None:
    world = assembly()
    turn = give_floor(world, "j1")
    world.tick(5_000)

    events = world.run("f1", RevokeFloor(room=P, reason="  off topic  "))

    ended = only(events, TurnEnded)
    assert (ended.turn_id, ended.reason, ended.note) == (turn, "revoked", "off topic")
    assert ended.duration_ms == 5_000


def test_revoking_needs_a_speaker_and_a_short_reason() -> None:
    world = assembly()
    assert world.refuse("f1", RevokeFloor(room=P)) == ErrorCode.NO_SPEAKER

    give_floor(world, "j1")

    assert world.refuse("f1", RevokeFloor(room=P, reason="x" * 201)) == ErrorCode.TEXT_TOO_LONG


# --- Auto mode and room rules ---------------------------------------------------------------


def test_switching_auto_on_grants_the_first_in_line() -> None:
    world = assembly()
    raise_hands(world, "j2", "j1")

    events = world.run("f1", SetRoomRules(room=P, auto=True))

    assert [type(event) for event in events] == [RoomRulesChanged, FloorGranted]
    floor = plenary(world).floor
    assert floor is not None
    assert floor.speaker == "j2"


def test_in_auto_mode_a_hand_raised_on_a_free_floor_gets_it_at_once() -> None:
    world = assembly()
    world.run("f1", SetRoomRules(room=P, auto=True))

    events = world.run("j3", RaiseHand(room=P))

    assert [type(event) for event in events] == [HandRaised, FloorGranted]
    floor = plenary(world).floor
    assert floor is not None
    assert floor.speaker == "j3"
    assert queue_of(world) == []


def test_in_auto_mode_the_floor_passes_on_when_a_turn_ends() -> None:
    world = assembly()
    world.run("f1", SetRoomRules(room=P, auto=True))
    raise_hands(world, "j1", "j2", "j3", "j4")

    world.run("j1", YieldFloor(room=P))
    floor = plenary(world).floor
    assert floor is not None
    assert floor.speaker == "j2"

    world.tick(DEFAULT_TURN_LIMIT_MS)
    world.run(SYSTEM_ACTOR, ExpireTurn(room=P, turn_id=floor.id))
    floor = plenary(world).floor
    assert floor is not None
    assert floor.speaker == "j3"

    world.run("f1", RevokeFloor(room=P))
    floor = plenary(world).floor
    assert floor is not None
    assert floor.speaker == "j4"

    world.run("j4", YieldFloor(room=P))
    assert plenary(world).floor is None


def test_in_auto_mode_a_reply_comes_before_the_queue() -> None:
    world = assembly()
    world.run("f1", SetRoomRules(room=P, auto=True))
    raise_hands(world, "j1", "j2")
    world.run("j3", RequestReply(room=P))

    world.run("j1", YieldFloor(room=P))

    floor = plenary(world).floor
    assert floor is not None
    assert (floor.speaker, floor.kind) == ("j3", "reply")


def test_without_auto_mode_a_free_floor_waits_for_the_facilitator() -> None:
    world = assembly()
    give_floor(world, "j1")
    world.run("j2", RaiseHand(room=P))

    world.run("j1", YieldFloor(room=P))

    assert plenary(world).floor is None
    assert queue_of(world) == ["j2"]


def test_changed_rules_apply_to_the_next_turn() -> None:
    world = assembly()
    world.run("f1", SetRoomRules(room=P, turn_limit_ms=60_000, warning_ms=10_000))

    events = world.run("f1", GrantFloor(room=P, participant="j1"))

    granted = events[0]
    assert isinstance(granted, FloorGranted)
    assert granted.deadline_ms == world.now_ms + 60_000
    assert granted.warning_at_ms == world.now_ms + 50_000


def test_room_rules_must_change_something_and_stay_within_bounds() -> None:
    world = assembly()

    assert world.refuse("f1", SetRoomRules(room=P)) == ErrorCode.INVALID_RULES
    assert world.refuse("f1", SetRoomRules(room=P, policy="first_come")) == ErrorCode.INVALID_RULES
    assert world.refuse("f1", SetRoomRules(room=P, turn_limit_ms=9_999)) == ErrorCode.INVALID_RULES
    assert (
        world.refuse("f1", SetRoomRules(room=P, turn_limit_ms=MAX_TURN_LIMIT_MS + 1))
        == ErrorCode.INVALID_RULES
    )
    assert world.refuse("f1", SetRoomRules(room=P, reply_limit_ms=5_000)) == ErrorCode.INVALID_RULES
    assert (
        world.refuse("f1", SetRoomRules(room=P, warning_ms=DEFAULT_TURN_LIMIT_MS))
        == ErrorCode.INVALID_RULES
    )
    assert world.refuse("f1", SetRoomRules(room=P, warning_ms=-1)) == ErrorCode.INVALID_RULES
    assert world.refuse("f1", SetRoomRules(room=P, replies_per_turn=6)) == ErrorCode.INVALID_RULES
    assert world.refuse("f1", SetRoomRules(room=P, replies_per_turn=-1)) == ErrorCode.INVALID_RULES


# --- Speaking time --------------------------------------------------------------------------


def test_speaking_time_adds_up_per_participant_across_turns() -> None:
    world = assembly()
    speak_for(world, "j1", 30_000)
    speak_for(world, "j2", 10_000)
    speak_for(world, "j1", 45_000)

    stats = plenary(world).stats
    assert (stats["j1"].spoken_ms, stats["j1"].turns) == (75_000, 2)
    assert (stats["j2"].spoken_ms, stats["j2"].turns) == (10_000, 1)
    assert "j3" not in stats
    assert world.state.participants["j1"].spoken_ms == 75_000
    assert world.state.participants["j3"].spoken_ms == 0


def test_a_granted_turn_records_how_long_the_hand_was_up() -> None:
    world = assembly()
    world.run("j1", RaiseHand(room=P))
    world.tick(25_000)

    give_floor(world, "j1")

    assert plenary(world).stats["j1"].longest_wait_ms == 25_000


# --- The transcript -------------------------------------------------------------------------


def test_the_floor_holder_speaks_into_the_transcript() -> None:
    world = assembly()
    turn = give_floor(world, "j1")
    world.tick(3_000)

    events = world.run("j1", Speak(room=P, text="  I think we should ask the experts.  "))

    made = events[0]
    assert isinstance(made, StatementMade)
    assert (made.turn_id, made.kind, made.text) == (
        turn,
        "statement",
        "I think we should ask the experts.",
    )
    (statement,) = plenary(world).statements
    assert (statement.speaker, statement.at_ms, statement.id) == (
        "j1",
        world.now_ms,
        made.statement_id,
    )


def test_only_the_floor_holder_may_speak() -> None:
    world = assembly()
    assert world.refuse("j2", Speak(room=P, text="May I?")) == ErrorCode.NOT_YOUR_TURN

    give_floor(world, "j1")

    assert world.refuse("j2", Speak(room=P, text="May I?")) == ErrorCode.NOT_YOUR_TURN


def test_no_statement_once_the_deadline_has_passed() -> None:
    world = assembly()
    give_floor(world, "j1")
    world.tick(DEFAULT_TURN_LIMIT_MS - 1)
    world.run("j1", Speak(room=P, text="To conclude."))
    world.tick(1)

    assert world.refuse("j1", Speak(room=P, text="And another thing.")) == ErrorCode.NOT_YOUR_TURN


def test_no_statement_while_the_room_is_paused() -> None:
    world = assembly()
    give_floor(world, "j1")
    world.run("f1", PauseRoom(room=P))

    assert world.refuse("j1", Speak(room=P, text="Hello?")) == ErrorCode.ROOM_PAUSED


def test_a_statement_must_have_text_within_the_limit() -> None:
    world = assembly()
    give_floor(world, "j1")

    assert world.refuse("j1", Speak(room=P, text=" \n ")) == ErrorCode.TEXT_EMPTY
    assert (
        world.refuse("j1", Speak(room=P, text="x" * (MAX_TEXT_CHARS + 1)))
        == ErrorCode.TEXT_TOO_LONG
    )
    world.run("j1", Speak(room=P, text="x" * MAX_TEXT_CHARS))


def test_a_facilitator_interjects_during_a_turn_or_between_turns() -> None:
    world = assembly()
    world.run("f1", Interject(room=P, text="Welcome back."))
    turn = give_floor(world, "j1")

    world.run("lead", Interject(room=P, text=" Please keep it short. "))

    first, second = plenary(world).statements
    assert (first.kind, first.turn_id, first.speaker) == ("interjection", None, "f1")
    assert (second.kind, second.turn_id, second.speaker) == ("interjection", turn, "lead")
    assert second.text == "Please keep it short."
    floor = plenary(world).floor
    assert floor is not None
    assert floor.speaker == "j1"


def test_an_interjection_must_have_text_within_the_limit() -> None:
    world = assembly()

    assert world.refuse("f1", Interject(room=P, text="")) == ErrorCode.TEXT_EMPTY
    assert (
        world.refuse("f1", Interject(room=P, text="x" * (MAX_TEXT_CHARS + 1)))
        == ErrorCode.TEXT_TOO_LONG
    )


def test_extending_an_overdue_turn_gives_the_extra_time_from_now() -> None:
    world = assembly()
    world.run("j1", RaiseHand(room=P))
    world.run("f1", GrantFloor(room=P))
    granted = world.state.rooms[P].floor
    assert granted is not None
    world.tick(granted.deadline_ms - world.now_ms + 5_000)

    (extended,) = world.run("f1", ExtendTurn(room=P, by_ms=30_000))

    assert isinstance(extended, TurnExtended)
    assert extended.deadline_ms == world.now_ms + 30_000
    assert extended.warning_at_ms <= extended.deadline_ms
