"""Fairness figures of a room: who spoke, how long and how often, who waited, who has not spoken."""

import pytest

from facilitation import PLENARY_ROOM, SYSTEM_ACTOR
from facilitation.commands import (
    CloseRound,
    ExpireTurn,
    GrantFloor,
    MuteParticipant,
    NextSpeaker,
    OpenRound,
    PauseRoom,
    RaiseHand,
    RequestReply,
    ResumeRoom,
    SetRoomRules,
    StartRound,
    YieldFloor,
)
from facilitation.engine import replay
from facilitation.metrics import (
    RoomFairness,
    SpeakerFigures,
    gini,
    quietest_stratum,
    room_fairness,
    strata,
)
from facilitation.roles import Role
from tests.core.builders import World, assembly

P = PLENARY_ROOM


def figures(world: World, room_id: str = P) -> RoomFairness:
    return room_fairness(world.state, room_id, world.now_ms)


def by_juror(fairness: RoomFairness) -> dict[str, SpeakerFigures]:
    return {speaker.participant: speaker for speaker in fairness.speakers}


def speak_for(world: World, juror: str, ms: int) -> None:
    world.run("f1", GrantFloor(room=P, participant=juror))
    world.tick(ms)
    world.run(juror, YieldFloor(room=P))


def test_each_juror_has_speaking_time_turns_and_longest_wait() -> None:
    world = assembly()
    world.run("j1", RaiseHand(room=P))
    world.run("j2", RaiseHand(room=P))
    world.tick(10_000)
    world.run("f1", GrantFloor(room=P))  # j1, after 10 s
    world.tick(30_000)
    world.run("f1", NextSpeaker(room=P))  # j2, after 40 s
    world.tick(20_000)
    world.run("j2", YieldFloor(room=P))
    speak_for(world, "j2", 25_000)

    fairness = figures(world)

    assert fairness.room == P
    assert fairness.speakers == (
        SpeakerFigures(
            participant="j1", spoken_ms=30_000, turns=1, longest_wait_ms=10_000, voiced_ms=0
        ),
        SpeakerFigures(
            participant="j2", spoken_ms=45_000, turns=2, longest_wait_ms=40_000, voiced_ms=0
        ),
        SpeakerFigures(participant="j3", spoken_ms=0, turns=0, longest_wait_ms=0, voiced_ms=0),
        SpeakerFigures(participant="j4", spoken_ms=0, turns=0, longest_wait_ms=0, voiced_ms=0),
    )


def test_a_hand_still_up_counts_as_waiting_until_now() -> None:
    world = assembly()
    world.run("j3", RaiseHand(room=P))
    world.tick(90_000)

    assert by_juror(figures(world))["j3"].longest_wait_ms == 90_000


def test_the_current_turn_counts_towards_speaking_time() -> None:
    world = assembly()
    world.run("f1", GrantFloor(room=P, participant="j1"))
    world.tick(12_000)

    j1 = by_juror(figures(world))["j1"]

    assert (j1.spoken_ms, j1.turns) == (12_000, 1)


def test_a_pause_does_not_count_towards_the_current_turn() -> None:
    world = assembly()
    world.run("f1", GrantFloor(room=P, participant="j1"))
    world.tick(12_000)
    world.run("f1", PauseRoom(room=P))
    world.tick(60_000)
    assert by_juror(figures(world))["j1"].spoken_ms == 12_000

    world.run("f1", ResumeRoom(room=P))
    world.tick(3_000)

    assert by_juror(figures(world))["j1"].spoken_ms == 15_000


def test_gini_is_zero_when_every_juror_spoke_equally_long() -> None:
    world = assembly()
    for juror in ("j1", "j2", "j3", "j4"):
        speak_for(world, juror, 30_000)

    assert figures(world).gini == 0.0


def test_gini_is_high_when_one_juror_did_all_the_talking() -> None:
    world = assembly()
    speak_for(world, "j1", 120_000)

    fairness = figures(world)

    # With four jurors, one doing all the talking is the most unequal split: (n - 1) / n.
    assert fairness.gini == pytest.approx(0.75)


def test_gini_grows_as_speaking_time_gets_more_unequal() -> None:
    assert gini([]) == 0.0
    assert gini([0, 0, 0]) == 0.0
    assert gini([10, 10, 10, 10]) == 0.0
    assert 0.0 < gini([10, 20, 30, 40]) < gini([0, 0, 10, 90]) < gini([0, 0, 0, 100])


def test_share_spoken_and_who_has_not_spoken() -> None:
    world = assembly()
    speak_for(world, "j3", 5_000)
    speak_for(world, "j1", 5_000)

    fairness = figures(world)

    assert fairness.share_spoken == 0.5
    assert fairness.not_spoken == ("j2", "j4")


def test_a_turn_cut_short_at_once_still_counts_as_having_spoken() -> None:
    world = assembly()
    world.run("f1", GrantFloor(room=P, participant="j2"))
    world.run("f1", MuteParticipant(room=P, participant="j2"))

    fairness = figures(world)

    assert by_juror(fairness)["j2"].spoken_ms == 0
    assert "j2" not in fairness.not_spoken


def test_before_anyone_speaks_nobody_has_spoken() -> None:
    world = assembly()

    fairness = figures(world)

    assert (fairness.gini, fairness.share_spoken) == (0.0, 0.0)
    assert fairness.not_spoken == ("j1", "j2", "j3", "j4")


def test_only_jurors_count() -> None:
    world = assembly(jurors=2, facilitators=2)

    assert [speaker.participant for speaker in figures(world).speakers] == ["j1", "j2"]


def test_a_juror_who_spoke_here_and_left_still_counts_here() -> None:
    world = assembly(jurors=4, facilitators=1)
    speak_for(world, "j1", 20_000)
    world.run("lead", OpenRound(room_count=2))
    world.run("lead", StartRound())

    fairness = figures(world)

    assert [speaker.participant for speaker in fairness.speakers] == ["j1"]
    assert fairness.share_spoken == 1.0


def test_figures_from_the_replayed_log_equal_the_live_ones() -> None:
    world = assembly(jurors=6, facilitators=2)
    world.run("f1", SetRoomRules(room=P, policy="equity", replies_per_turn=1))
    world.run("j1", RaiseHand(room=P))
    world.run("j2", RaiseHand(room=P))
    world.run("j3", RaiseHand(room=P))
    world.tick(4_000)
    world.run("f1", GrantFloor(room=P))
    world.run("j4", RequestReply(room=P))
    world.tick(50_000)
    world.run("f1", PauseRoom(room=P))
    world.tick(30_000)
    world.run("f1", ResumeRoom(room=P))
    world.tick(80_000)
    floor = world.plenary.floor
    assert floor is not None
    world.run(SYSTEM_ACTOR, ExpireTurn(room=P, turn_id=floor.id))
    world.run("f1", NextSpeaker(room=P))  # the reply
    world.tick(10_000)
    world.run("f1", MuteParticipant(room=P, participant="j4"))
    world.run("lead", OpenRound(room_count=2))
    world.run("lead", StartRound())
    current = world.state.current_round()
    assert current is not None
    breakout = current.rooms[0]
    world.run("lead", GrantFloor(room=breakout.room_id, participant=breakout.jurors[0]))
    world.tick(7_000)
    world.run("lead", CloseRound())
    world.run("f1", GrantFloor(room=P, participant="j5"))
    world.tick(3_000)

    rebuilt = replay(world.log)

    assert rebuilt == world.state
    for room_id in (P, breakout.room_id):
        live = room_fairness(world.state, room_id, world.now_ms)
        assert room_fairness(rebuilt, room_id, world.now_ms) == live
    assert all(
        rebuilt.participants[p].spoken_ms == world.state.participants[p].spoken_ms
        for p, participant in world.state.participants.items()
        if participant.role is Role.JUROR
    )


def test_strata_compare_each_groups_share_of_floor_time_with_its_share_of_seats() -> None:
    world = assembly(jurors=0)
    for juror, region in (("n1", "north"), ("n2", "north"), ("s1", "south"), ("s2", "south")):
        world.add(juror, Role.JUROR, region=region)
    assert quietest_stratum(strata(world.state, figures(world))) is None
    for juror, ms in (("n1", 90_000), ("n2", 60_000), ("s1", 50_000)):
        world.run(juror, RaiseHand(room=P))
        world.run("f1", GrantFloor(room=P))
        world.tick(ms)
        world.run(juror, YieldFloor(room=P))
    shares = strata(world.state, figures(world))
    north, south = shares
    assert (north.value, north.seats, north.seat_share, north.spoken_ms) == (
        "north",
        2,
        0.5,
        150_000,
    )
    assert south.speaking_share == 50_000 / 200_000
    quiet = quietest_stratum(shares)
    assert quiet is not None
    assert (quiet.attribute, quiet.value, quiet.ratio) == ("region", "south", 0.5)
