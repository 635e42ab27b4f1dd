"""Voice in a room: whom the room hears now, and the voiced time the media server reports.

The core hears nothing. The server's voice layer follows committed events, opens the
microphones `audible_jurors` names (facilitators and the lead open and close their own), sums
the milliseconds each person was heard, and records them with `RecordVoiceActivity`, decided
and logged like any expiry. Voiced time is kept apart from floor time (turns), so the figures
show both a turn held in silence and open-floor talk that held no turn.
"""

from facilitation.commands import RecordVoiceActivity
from facilitation.errors import ErrorCode, Refusal
from facilitation.events import VoiceRecorded
from facilitation.limits import MAX_VOICE_PERIOD_MS
from facilitation.registry import Decision, decides_in_room, evolves
from facilitation.roles import Role
from facilitation.state import Assembly, Room, SpeakerStats


def audible_jurors(room: Room) -> frozenset[str]:
    """The jurors whose microphones are live: the floor holder, or while the floor is open every
    juror seated and not muted; nobody while the room is paused or once it has closed."""
    if room.closed or room.paused_at_ms is not None:
        return frozenset()
    if room.rules.open_floor:
        return frozenset(room.jurors - room.muted)
    return frozenset() if room.floor is None else frozenset({room.floor.speaker})


def _check_heard_here(state: Assembly, room: Room, participant_id: str, since_ms: int) -> None:
    """Only the room's people are heard in it: its jurors and facilitators, the lead, and anyone
    who left it during the period (the server learns of a move only once it is committed)."""
    participant = state.participants.get(participant_id)
    if participant is None:
        raise Refusal(ErrorCode.UNKNOWN_PARTICIPANT, participant_id)
    here = participant_id in room.jurors or participant_id in room.facilitators
    left_at_ms = room.left_at_ms.get(participant_id)
    left_during = left_at_ms is not None and left_at_ms >= since_ms
    if not (here or left_during or participant.role is Role.LEAD):
        raise Refusal(ErrorCode.NOT_IN_ROOM, f"{participant_id} was not in this room then")


@decides_in_room(
    RecordVoiceActivity,
    yields=(VoiceRecorded,),
    refusals=(
        ErrorCode.INVALID_VOICE_RECORD,
        ErrorCode.UNKNOWN_PARTICIPANT,
        ErrorCode.NOT_IN_ROOM,
    ),
    in_closed_rooms=True,
)
def record_voice_activity(d: Decision, room: Room, command: RecordVoiceActivity) -> None:
    """The period lasts at most an hour and has ended by now; each figure lies between 0 and
    its length. A record ending no later than the last one recorded in the room is a repeat
    (the server sent it again) and decides nothing; one overlapping it is refused. Those named
    must be the room's jurors or facilitators, the lead, or have left the room during the
    period. A closed room still takes the voice heard before the recall. Only those heard at
    all are logged: a record of silence decides nothing."""
    period_ms = command.to_ms - command.from_ms
    if not 0 < period_ms <= MAX_VOICE_PERIOD_MS:
        raise Refusal(
            ErrorCode.INVALID_VOICE_RECORD, f"the period must last 1 to {MAX_VOICE_PERIOD_MS} ms"
        )
    if command.to_ms > d.now:
        raise Refusal(ErrorCode.INVALID_VOICE_RECORD, "the period has not ended yet")
    for participant, ms in command.voiced_ms.items():
        if not 0 <= ms <= period_ms:
            raise Refusal(
                ErrorCode.INVALID_VOICE_RECORD,
                f"{participant}: voiced time must be 0 to the period's {period_ms} ms",
            )
    recorded_until_ms = room.voiced_until_ms
    if recorded_until_ms is not None and command.to_ms <= recorded_until_ms:
        return
    if recorded_until_ms is not None and command.from_ms < recorded_until_ms:
        raise Refusal(
            ErrorCode.INVALID_VOICE_RECORD,
            f"the period overlaps the voice recorded up to {recorded_until_ms}",
        )
    for participant in command.voiced_ms:
        _check_heard_here(d.state, room, participant, command.from_ms)
    heard = {p: ms for p, ms in sorted(command.voiced_ms.items()) if ms > 0}
    if heard:
        d.emit(
            VoiceRecorded(
                **d.at(room.id), from_ms=command.from_ms, to_ms=command.to_ms, voiced_ms=heard
            )
        )


@evolves(VoiceRecorded)
def voice_recorded(state: Assembly, event: VoiceRecorded) -> None:
    room = state.rooms[event.room]
    for participant, ms in event.voiced_ms.items():
        room.stats.setdefault(participant, SpeakerStats()).voiced_ms += ms
    room.voiced_until_ms = event.to_ms
