"""Speaking time from voices: the media server's voiced milliseconds, recorded by the system as
commands, kept apart from the time each juror held the floor, and counted in the fairness
figures."""

import pytest

from facilitation import PLENARY_ROOM, SYSTEM_ACTOR, ErrorCode, Event
from facilitation import commands as cmd
from facilitation import events as ev
from facilitation.engine import replay
from facilitation.limits import MAX_VOICE_PERIOD_MS
from facilitation.metrics import room_fairness
from tests.core.builders import World, assembly, only

P = PLENARY_ROOM


def record(
    world: World, voiced_ms: dict[str, int], *, room: str = P, period_ms: int = 10_000
) -> list[Event]:
    """What the server sends every few seconds: the voice heard in the period ending now."""
    return world.run(
        SYSTEM_ACTOR,
        cmd.RecordVoiceActivity(
            room=room,
            from_ms=world.now_ms - period_ms,
            to_ms=world.now_ms,
            voiced_ms=voiced_ms,
        ),
    )


def refused(
    world: World,
    *,
    room: str = P,
    from_ms: int | None = None,
    to_ms: int | None = None,
    voiced_ms: dict[str, int] | None = None,
) -> ErrorCode:
    """The code a record meets; by default a plausible one of the ten seconds ending now."""
    command = cmd.RecordVoiceActivity(
        room=room,
        from_ms=world.now_ms - 10_000 if from_ms is None else from_ms,
        to_ms=world.now_ms if to_ms is None else to_ms,
        voiced_ms={"j1": 1_000} if voiced_ms is None else voiced_ms,
    )
    return world.refuse(SYSTEM_ACTOR, command)


def voiced(world: World, room: str = P) -> dict[str, int]:
    return {p: stats.voiced_ms for p, stats in world.state.rooms[room].stats.items()}


def test_the_voice_heard_in_a_room_is_recorded_by_participant() -> None:
    world = assembly()
    world.tick(10_000)

    recorded = only(record(world, {"j1": 4_200, "j2": 800}), ev.VoiceRecorded)

    assert (recorded.room, recorded.actor) == (P, SYSTEM_ACTOR)
    assert (recorded.from_ms, recorded.to_ms) == (world.now_ms - 10_000, world.now_ms)
    assert recorded.voiced_ms == {"j1": 4_200, "j2": 800}
    assert voiced(world) == {"j1": 4_200, "j2": 800}


def test_voiced_time_adds_up_record_after_record() -> None:
    world = assembly()
    for seconds in (3, 5, 2):
        world.tick(10_000)
        record(world, {"j1": seconds * 1_000})

    assert voiced(world) == {"j1": 10_000}


def test_a_turn_held_in_silence_shows_floor_time_and_no_voice() -> None:
    world = assembly()
    world.run("f1", cmd.GrantFloor(room=P, participant="j1"))
    world.tick(10_000)
    record(world, {"j1": 0, "j2": 1_500})  # j2 coughed; j1 said nothing
    world.tick(10_000)
    world.run("j1", cmd.YieldFloor(room=P))

    figures = {s.participant: s for s in room_fairness(world.state, P, world.now_ms).speakers}

    assert (figures["j1"].spoken_ms, figures["j1"].voiced_ms) == (20_000, 0)
    assert (figures["j2"].spoken_ms, figures["j2"].voiced_ms) == (0, 1_500)


def test_a_turn_really_spoken_shows_both_figures_without_counting_twice() -> None:
    world = assembly()
    world.run("f1", cmd.GrantFloor(room=P, participant="j1"))
    for _ in range(3):
        world.tick(10_000)
        record(world, {"j1": 9_000})
    world.run("j1", cmd.YieldFloor(room=P))

    j1 = room_fairness(world.state, P, world.now_ms).speakers[0]

    assert (j1.participant, j1.spoken_ms, j1.voiced_ms, j1.turns) == ("j1", 30_000, 27_000, 1)
    assert world.state.participants["j1"].spoken_ms == 30_000


def test_open_floor_talk_counts_in_the_fairness_figures() -> None:
    world = assembly()
    world.run("f1", cmd.SetRoomRules(room=P, open_floor=True))
    world.tick(10_000)
    record(world, {"j1": 6_000, "j2": 2_000})

    fairness = room_fairness(world.state, P, world.now_ms)

    assert [s.voiced_ms for s in fairness.speakers] == [6_000, 2_000, 0, 0]
    # Nobody held the floor: floor time says nothing, the voices show who talked.
    assert fairness.gini == 0.0 and fairness.voiced_gini == pytest.approx(0.625)
    assert fairness.not_spoken == ("j3", "j4")
    assert fairness.share_spoken == 0.5


def test_facilitators_and_the_lead_are_recorded_but_are_not_in_the_jurors_figures() -> None:
    world = assembly()
    world.tick(10_000)

    record(world, {"f1": 7_000, "lead": 1_000, "j1": 500})

    assert voiced(world) == {"f1": 7_000, "lead": 1_000, "j1": 500}
    speakers = room_fairness(world.state, P, world.now_ms).speakers
    assert [s.participant for s in speakers] == ["j1", "j2", "j3", "j4"]


def test_silence_alone_records_nothing() -> None:
    world = assembly()
    world.tick(10_000)

    assert record(world, {}) == []
    assert record(world, {"j1": 0, "j2": 0}) == []
    assert voiced(world) == {}


def test_only_who_was_heard_is_logged() -> None:
    world = assembly()
    world.tick(10_000)

    recorded = only(record(world, {"j1": 0, "j2": 300}), ev.VoiceRecorded)

    assert recorded.voiced_ms == {"j2": 300}


def test_a_record_sent_again_decides_nothing() -> None:
    """The server may resend a record whose answer it never got: it is not counted twice."""
    world = assembly()
    world.tick(10_000)
    again = cmd.RecordVoiceActivity(
        room=P, from_ms=world.now_ms - 10_000, to_ms=world.now_ms, voiced_ms={"j1": 3_000}
    )
    world.run(SYSTEM_ACTOR, again)
    world.tick(2_000)

    assert world.run(SYSTEM_ACTOR, again) == []
    assert voiced(world) == {"j1": 3_000}


def test_a_record_that_overlaps_one_already_made_is_refused() -> None:
    world = assembly()
    world.tick(10_000)
    record(world, {"j1": 3_000})
    world.tick(10_000)

    assert refused(world, from_ms=world.now_ms - 15_000) is ErrorCode.INVALID_VOICE_RECORD
    # Beginning where the last one ended, or later, is fine.
    assert record(world, {"j1": 1_000}, period_ms=10_000)


def test_a_record_after_a_gap_is_recorded() -> None:
    world = assembly()
    world.tick(10_000)
    record(world, {"j1": 3_000})
    world.tick(60_000)  # voice was off for a while

    record(world, {"j1": 2_000})

    assert voiced(world) == {"j1": 5_000}


@pytest.mark.parametrize("ms", [-1, 10_001, -10_000])
def test_voiced_time_below_zero_or_longer_than_the_period_is_refused(ms: int) -> None:
    world = assembly()
    world.tick(10_000)

    assert refused(world, voiced_ms={"j2": 1_000, "j1": ms}) is ErrorCode.INVALID_VOICE_RECORD


def test_a_period_that_is_empty_reversed_too_long_or_still_to_come_is_refused() -> None:
    world = assembly()
    world.tick(MAX_VOICE_PERIOD_MS)
    now = world.now_ms

    for from_ms, to_ms in (
        (now, now),
        (now, now - 5_000),
        (now - MAX_VOICE_PERIOD_MS - 1, now),
        (now - 5_000, now + 1),
    ):
        code = refused(world, from_ms=from_ms, to_ms=to_ms, voiced_ms={"j1": 0})
        assert code is ErrorCode.INVALID_VOICE_RECORD, (from_ms, to_ms)
    assert record(world, {"j1": 1}, period_ms=MAX_VOICE_PERIOD_MS)


def test_the_voice_of_someone_unknown_is_refused() -> None:
    world = assembly()
    world.tick(10_000)

    assert refused(world, voiced_ms={"j1": 10, "ghost": 10}) is ErrorCode.UNKNOWN_PARTICIPANT


def test_the_voice_of_someone_not_in_the_room_is_refused() -> None:
    world = assembly(jurors=4, facilitators=2)
    world.run("lead", cmd.OpenRound(room_count=2))
    started = only(world.run("lead", cmd.StartRound()), ev.RoundStarted)
    first, second = started.rooms
    world.tick(20_000)

    for outsider in (second.jurors[0], second.facilitators[0], "obs"):
        code = refused(world, room=first.room_id, voiced_ms={outsider: 10})
        assert code is ErrorCode.NOT_IN_ROOM, outsider
    # The plenary's jurors left when the round started, before this period began.
    assert refused(world, voiced_ms={first.jurors[0]: 10}) is ErrorCode.NOT_IN_ROOM


def test_the_voice_of_someone_who_left_during_the_period_counts_where_they_spoke() -> None:
    """The server learns of a move once it is committed, and only then sends what it heard
    before: a juror moved or removed meanwhile is still recorded in the room they left."""
    world = assembly(jurors=4, facilitators=2)
    world.run("lead", cmd.OpenRound(room_count=2))
    started = only(world.run("lead", cmd.StartRound()), ev.RoundStarted)
    first, second = started.rooms
    world.tick(4_000)
    mover, removed = first.jurors
    world.run("lead", cmd.MoveParticipant(participant=mover, to_room=second.room_id))
    world.run(first.facilitators[0], cmd.RemoveParticipant(
        room=first.room_id, participant=removed, reason="left the jury"
    ))  # fmt: skip
    world.tick(6_000)

    record(world, {mover: 3_000, removed: 2_000}, room=first.room_id)
    record(world, {mover: 1_000}, room=second.room_id)

    assert voiced(world, first.room_id) == {mover: 3_000, removed: 2_000}
    assert voiced(world, second.room_id) == {mover: 1_000}


def test_a_recalled_room_still_records_the_voice_heard_before_the_recall() -> None:
    world = assembly(jurors=2, facilitators=1)
    world.run("lead", cmd.OpenRound(room_count=1))
    room = only(world.run("lead", cmd.StartRound()), ev.RoundStarted).rooms[0]
    world.run(room.facilitators[0], cmd.GrantFloor(room=room.room_id, participant="j1"))
    world.tick(8_000)
    world.run("lead", cmd.CloseRound())  # the turn ends with the round

    recorded = only(record(world, {"j1": 7_500}, room=room.room_id), ev.VoiceRecorded)

    assert recorded.room == room.room_id
    assert voiced(world, room.room_id) == {"j1": 7_500}
    speakers = room_fairness(world.state, room.room_id, world.now_ms).speakers
    assert [(s.participant, s.spoken_ms, s.voiced_ms) for s in speakers] == [
        ("j1", 8_000, 7_500),
        ("j2", 0, 0),
    ]


def test_a_room_that_does_not_exist_records_nothing() -> None:
    world = assembly()
    world.tick(10_000)

    assert refused(world, room="atlantis") is ErrorCode.ROOM_NOT_FOUND


def test_only_the_system_records_voice() -> None:
    world = assembly()
    world.tick(10_000)
    command = cmd.RecordVoiceActivity(
        room=P, from_ms=world.now_ms - 1_000, to_ms=world.now_ms, voiced_ms={"j1": 1_000}
    )

    for person in ("j1", "f1", "lead", "obs"):
        assert world.refuse(person, command) is ErrorCode.FORBIDDEN


def test_voice_records_replay_to_the_same_state_and_figures() -> None:
    world = assembly()
    world.run("f1", cmd.SetRoomRules(room=P, open_floor=True))
    world.run("f1", cmd.GrantFloor(room=P, participant="j3"))
    world.tick(10_000)
    record(world, {"j3": 8_000, "j1": 1_000, "f1": 500})
    world.tick(10_000)
    world.run("f1", cmd.NextSpeaker(room=P))
    record(world, {"j3": 4_000})

    rebuilt = replay(world.log)

    assert rebuilt == world.state
    assert room_fairness(rebuilt, P, world.now_ms) == room_fairness(world.state, P, world.now_ms)
