"""The lead's oversight: fairness alarm thresholds as a recorded command, a room's opening time,
and private notes to a room's facilitators."""

import pytest

from facilitation import PLENARY_ROOM, ErrorCode
from facilitation.commands import OpenRound, SendFacilitatorNote, SetFairnessAlarms, StartRound
from facilitation.events import FacilitatorNoteSent, FairnessAlarmsSet
from facilitation.state import FairnessAlarms, Note
from tests.core.builders import assembly, only


def test_the_lead_sets_the_alarm_thresholds_and_the_log_keeps_them() -> None:
    world = assembly()
    events = world.run(
        "lead", SetFairnessAlarms(unspoken_after_ms=900_000, max_gini=0.4, min_stratum_ratio=0.5)
    )
    set_ = only(events, FairnessAlarmsSet)
    assert (set_.unspoken_after_ms, set_.max_gini, set_.max_wait_ms) == (900_000, 0.4, None)
    assert world.state.alarms == FairnessAlarms(900_000, 0.4, None, 0.5)
    # The same thresholds again: nothing to record.
    assert (
        world.run(
            "lead",
            SetFairnessAlarms(unspoken_after_ms=900_000, max_gini=0.4, min_stratum_ratio=0.5),
        )
        == []
    )


def test_alarms_start_at_the_thresholds_the_lead_page_used_before() -> None:
    assert assembly().state.alarms == FairnessAlarms(None, 0.5, 180_000, None)


@pytest.mark.parametrize(
    "command",
    [
        SetFairnessAlarms(max_gini=0.0),
        SetFairnessAlarms(max_gini=1.5),
        SetFairnessAlarms(min_stratum_ratio=-0.1),
        SetFairnessAlarms(unspoken_after_ms=0),
        SetFairnessAlarms(max_wait_ms=25 * 3_600_000),
    ],
)
def test_a_threshold_out_of_range_is_refused(command: SetFairnessAlarms) -> None:
    assert assembly().refuse("lead", command) is ErrorCode.INVALID_THRESHOLD


@pytest.mark.parametrize("actor", ["f1", "j1", "obs"])
def test_only_the_lead_sets_alarms_or_sends_notes(actor: str) -> None:
    world = assembly()
    assert world.refuse(actor, SetFairnessAlarms(max_gini=0.3)) is ErrorCode.FORBIDDEN
    note = SendFacilitatorNote(room=PLENARY_ROOM, text="Hello")
    assert world.refuse(actor, note) is ErrorCode.FORBIDDEN


def test_a_room_knows_when_it_opened() -> None:
    world = assembly(jurors=4, facilitators=2)
    assert world.plenary.opened_at_ms == world.log[0].at_ms
    world.run("lead", OpenRound(room_count=2))
    world.tick(60_000)
    world.run("lead", StartRound())
    opened = {room.opened_at_ms for room in world.state.rooms.values() if room.round_id}
    assert opened == {world.now_ms}


def test_the_lead_sends_a_room_s_facilitators_a_private_note() -> None:
    world = assembly(jurors=4, facilitators=2)
    world.run("lead", OpenRound(room_count=2))
    world.run("lead", StartRound())
    room = next(r for r in world.state.rooms.values() if r.round_id)
    sent = only(
        world.run("lead", SendFacilitatorNote(room=room.id, text="  Ask j2 to speak  ")),
        FacilitatorNoteSent,
    )
    assert (sent.room, sent.text, sent.facilitators) == (
        room.id,
        "Ask j2 to speak",
        tuple(sorted(room.facilitators)),
    )
    assert room.notes == [Note(world.now_ms, "lead", "Ask j2 to speak")]


def test_a_note_to_a_room_nobody_facilitates_or_without_words_is_refused() -> None:
    world = assembly(jurors=4, facilitators=0)
    note = SendFacilitatorNote(room=PLENARY_ROOM, text="Anyone there?")
    assert world.refuse("lead", note) is ErrorCode.NO_FACILITATOR
    staffed = assembly()
    empty = SendFacilitatorNote(room=PLENARY_ROOM, text="   ")
    assert staffed.refuse("lead", empty) is ErrorCode.TEXT_EMPTY
