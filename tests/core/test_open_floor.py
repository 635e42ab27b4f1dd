"""The open floor: a room rule that lets every juror of the room who is not muted speak freely,
beside the queue rather than instead of it."""

from facilitation import PLENARY_ROOM, ErrorCode
from facilitation import commands as cmd
from facilitation import events as ev
from facilitation.codec import decode_event, encode
from facilitation.engine import replay
from facilitation.upcast import SCHEMA_VERSION_KEY
from facilitation.voice import audible_jurors
from tests.core.builders import World, assembly, only

P = PLENARY_ROOM


def open_floor(world: World, room: str = P) -> ev.RoomRulesChanged:
    return only(world.run("f1", cmd.SetRoomRules(room=room, open_floor=True)), ev.RoomRulesChanged)


def test_the_facilitator_opens_the_floor_and_closes_it_again() -> None:
    world = assembly()

    opened = open_floor(world)

    assert opened.open_floor and world.plenary.rules.open_floor
    closed = world.run("f1", cmd.SetRoomRules(room=P, open_floor=False))
    assert closed == [only(closed, ev.RoomRulesChanged)]
    assert not only(closed, ev.RoomRulesChanged).open_floor
    assert not world.plenary.rules.open_floor


def test_the_floor_starts_closed_and_other_rules_leave_it_as_it_is() -> None:
    world = assembly()
    assert not world.plenary.rules.open_floor
    open_floor(world)

    changed = only(world.run("f1", cmd.SetRoomRules(room=P, auto=True)), ev.RoomRulesChanged)

    assert changed.open_floor and world.plenary.rules.open_floor


def test_opening_an_open_floor_changes_nothing_and_is_refused() -> None:
    world = assembly()
    open_floor(world)

    assert world.refuse("f1", cmd.SetRoomRules(room=P, open_floor=True)) is ErrorCode.INVALID_RULES


def test_a_juror_cannot_open_the_floor() -> None:
    world = assembly()

    assert world.refuse("j1", cmd.SetRoomRules(room=P, open_floor=True)) is ErrorCode.FORBIDDEN


def test_without_an_open_floor_only_the_floor_holder_is_heard() -> None:
    world = assembly()
    assert audible_jurors(world.plenary) == frozenset()

    world.run("f1", cmd.GrantFloor(room=P, participant="j2"))

    assert audible_jurors(world.plenary) == {"j2"}


def test_an_open_floor_lets_every_juror_who_is_not_muted_be_heard() -> None:
    world = assembly()
    world.run("f1", cmd.MuteParticipant(room=P, participant="j3", reason="feedback noise"))

    open_floor(world)

    assert audible_jurors(world.plenary) == {"j1", "j2", "j4"}
    world.run("f1", cmd.UnmuteParticipant(room=P, participant="j3"))
    assert audible_jurors(world.plenary) == {"j1", "j2", "j3", "j4"}


def test_a_paused_room_hears_no_juror_even_with_an_open_floor() -> None:
    world = assembly()
    open_floor(world)
    world.run("f1", cmd.GrantFloor(room=P, participant="j1"))

    world.run("f1", cmd.PauseRoom(room=P))

    assert audible_jurors(world.plenary) == frozenset()
    world.run("f1", cmd.ResumeRoom(room=P))
    assert audible_jurors(world.plenary) == {"j1", "j2", "j3", "j4"}


def test_hands_and_turns_go_on_while_the_floor_is_open() -> None:
    """A juror may still ask for a turn, and a facilitator may still give one: the turn runs
    on its clock and counts as floor time, while the others may be heard too."""
    world = assembly()
    world.run("j1", cmd.RaiseHand(room=P))
    open_floor(world)

    world.run("j2", cmd.RaiseHand(room=P))
    granted = only(world.run("f1", cmd.GrantFloor(room=P)), ev.FloorGranted)
    world.tick(20_000)

    assert granted.speaker == "j1"
    assert [entry.participant for entry in world.plenary.queue] == ["j2"]
    world.run("j1", cmd.YieldFloor(room=P))
    assert world.plenary.stats["j1"].spoken_ms == 20_000


def test_closing_the_floor_returns_to_the_queue_as_it_stood() -> None:
    world = assembly()
    world.run("j1", cmd.RaiseHand(room=P))
    world.run("j2", cmd.RaiseHand(room=P))
    world.run("f1", cmd.GrantFloor(room=P))  # j1
    open_floor(world)
    world.run("j3", cmd.RaiseHand(room=P))
    world.tick(5_000)

    world.run("f1", cmd.SetRoomRules(room=P, open_floor=False))

    floor = world.plenary.floor
    assert floor is not None and floor.speaker == "j1"
    assert [entry.participant for entry in world.plenary.queue] == ["j2", "j3"]
    assert audible_jurors(world.plenary) == {"j1"}


def test_with_an_open_floor_any_juror_not_muted_may_make_a_statement() -> None:
    world = assembly()
    turn = only(world.run("f1", cmd.GrantFloor(room=P, participant="j1")), ev.FloorGranted)
    open_floor(world)

    others = only(world.run("j2", cmd.Speak(room=P, text="Me too.")), ev.StatementMade)
    holder = only(world.run("j1", cmd.Speak(room=P, text="As I said.")), ev.StatementMade)

    # A statement made outside a turn belongs to none.
    assert (others.actor, others.turn_id, others.kind) == ("j2", None, "statement")
    assert (holder.actor, holder.turn_id) == ("j1", turn.turn_id)


def test_with_an_open_floor_a_statement_needs_no_turn_at_all() -> None:
    world = assembly()
    open_floor(world)

    made = only(world.run("j4", cmd.Speak(room=P, text="Can I add something?")), ev.StatementMade)

    assert made.turn_id is None
    assert world.plenary.statements[-1].speaker == "j4"


def test_a_muted_juror_may_not_speak_even_with_an_open_floor() -> None:
    world = assembly()
    world.run("f1", cmd.MuteParticipant(room=P, participant="j2"))
    open_floor(world)

    assert world.refuse("j2", cmd.Speak(room=P, text="Hello?")) is ErrorCode.MUTED


def test_with_an_open_floor_nobody_speaks_into_a_paused_room() -> None:
    world = assembly()
    open_floor(world)
    world.run("f1", cmd.PauseRoom(room=P))

    assert world.refuse("j2", cmd.Speak(room=P, text="Hello?")) is ErrorCode.ROOM_PAUSED


def test_once_the_floor_is_closed_again_only_the_holder_may_speak() -> None:
    world = assembly()
    open_floor(world)
    world.run("f1", cmd.SetRoomRules(room=P, open_floor=False))

    assert world.refuse("j2", cmd.Speak(room=P, text="Hello?")) is ErrorCode.NOT_YOUR_TURN


def test_an_open_floor_is_a_rule_of_one_room() -> None:
    world = assembly(jurors=4, facilitators=2)
    world.run("lead", cmd.OpenRound(room_count=2))
    started = only(world.run("lead", cmd.StartRound()), ev.RoundStarted)
    first, second = started.rooms
    runner = first.facilitators[0]

    world.run(runner, cmd.SetRoomRules(room=first.room_id, open_floor=True))

    assert audible_jurors(world.state.rooms[first.room_id]) == set(first.jurors)
    assert audible_jurors(world.state.rooms[second.room_id]) == frozenset()
    mover = second.jurors[0]
    world.run("lead", cmd.MoveParticipant(participant=mover, to_room=first.room_id))
    assert mover in audible_jurors(world.state.rooms[first.room_id])


def test_a_recalled_room_hears_nobody() -> None:
    world = assembly(jurors=2, facilitators=1)
    world.run("lead", cmd.OpenRound(room_count=1))
    room = only(world.run("lead", cmd.StartRound()), ev.RoundStarted).rooms[0].room_id
    world.run("lead", cmd.SetRoomRules(room=room, open_floor=True))

    world.run("lead", cmd.CloseRound())

    assert audible_jurors(world.state.rooms[room]) == frozenset()


def test_rules_logged_before_the_open_floor_existed_read_as_a_closed_floor() -> None:
    world = assembly()
    world.run("f1", cmd.SetRoomRules(room=P, auto=True))
    written_then = {
        key: value for key, value in encode(world.log[-1]).items() if key != "open_floor"
    }

    old = decode_event({**written_then, SCHEMA_VERSION_KEY: 1})

    assert isinstance(old, ev.RoomRulesChanged) and not old.open_floor
    assert replay([*world.log[:-1], old]) == world.state
