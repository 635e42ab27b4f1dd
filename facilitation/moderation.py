"""A facilitator's controls over people and the room: mute, remove, lock and pause."""

from facilitation.commands import (
    LockRoom,
    MuteParticipant,
    PauseRoom,
    RemoveParticipant,
    ResumeRoom,
    UnlockRoom,
    UnmuteParticipant,
)
from facilitation.errors import ErrorCode, Refusal
from facilitation.events import (
    FloorGranted,
    HandLowered,
    ParticipantMuted,
    ParticipantRemoved,
    ParticipantUnmuted,
    ReplyWithdrawn,
    RoomLocked,
    RoomPaused,
    RoomResumed,
    RoomUnlocked,
    TurnEnded,
)
from facilitation.registry import (
    Decision,
    clean_reason,
    decides_in_room,
    evolves,
    seated_juror,
)
from facilitation.state import Assembly, Room
from facilitation.turns import give_floor_if_auto, grant, leave_lanes, next_candidate

LEAVING_EVENTS = (HandLowered, ReplyWithdrawn, TurnEnded, FloorGranted)


@decides_in_room(
    MuteParticipant,
    yields=(ParticipantMuted, *LEAVING_EVENTS),
    refusals=(
        ErrorCode.UNKNOWN_PARTICIPANT,
        ErrorCode.NOT_IN_ROOM,
        ErrorCode.ALREADY_MUTED,
        ErrorCode.TEXT_TOO_LONG,
    ),
)
def mute(d: Decision, room: Room, command: MuteParticipant) -> None:
    reason = clean_reason(command.reason, required=False)
    seated_juror(d.state, room, command.participant)
    if command.participant in room.muted:
        raise Refusal(ErrorCode.ALREADY_MUTED, command.participant)
    d.emit(ParticipantMuted(**d.at(room.id), participant=command.participant, reason=reason))
    if leave_lanes(d, room, command.participant, "muted"):
        give_floor_if_auto(d, room, exclude={command.participant})


@evolves(ParticipantMuted)
def muted(state: Assembly, event: ParticipantMuted) -> None:
    room = state.rooms[event.room]
    room.muted.add(event.participant)
    room.mute_reasons[event.participant] = event.reason


@decides_in_room(
    UnmuteParticipant,
    yields=(ParticipantUnmuted,),
    refusals=(ErrorCode.UNKNOWN_PARTICIPANT, ErrorCode.NOT_MUTED),
)
def unmute(d: Decision, room: Room, command: UnmuteParticipant) -> None:
    if command.participant not in d.state.participants:
        raise Refusal(ErrorCode.UNKNOWN_PARTICIPANT, command.participant)
    if command.participant not in room.muted:
        raise Refusal(ErrorCode.NOT_MUTED, command.participant)
    d.emit(ParticipantUnmuted(**d.at(room.id), participant=command.participant))


@evolves(ParticipantUnmuted)
def unmuted(state: Assembly, event: ParticipantUnmuted) -> None:
    room = state.rooms[event.room]
    room.muted.discard(event.participant)
    room.mute_reasons.pop(event.participant, None)


@decides_in_room(
    RemoveParticipant,
    yields=(ParticipantRemoved, *LEAVING_EVENTS),
    refusals=(
        ErrorCode.UNKNOWN_PARTICIPANT,
        ErrorCode.NOT_IN_ROOM,
        ErrorCode.REASON_REQUIRED,
        ErrorCode.TEXT_TOO_LONG,
    ),
)
def remove(d: Decision, room: Room, command: RemoveParticipant) -> None:
    """The juror leaves the room and sits nowhere until the lead moves them somewhere."""
    reason = clean_reason(command.reason, required=True)
    seated_juror(d.state, room, command.participant)
    d.emit(ParticipantRemoved(**d.at(room.id), participant=command.participant, reason=reason))
    if leave_lanes(d, room, command.participant, "removed"):
        give_floor_if_auto(d, room, exclude={command.participant})


@evolves(ParticipantRemoved)
def removed(state: Assembly, event: ParticipantRemoved) -> None:
    room = state.rooms[event.room]
    room.jurors.discard(event.participant)
    room.removed.add(event.participant)
    room.left_at_ms[event.participant] = event.at_ms
    state.participants[event.participant].room = None


@decides_in_room(LockRoom, yields=(RoomLocked,), refusals=(ErrorCode.ALREADY_LOCKED,))
def lock(d: Decision, room: Room, command: LockRoom) -> None:
    if room.locked:
        raise Refusal(ErrorCode.ALREADY_LOCKED)
    d.emit(RoomLocked(**d.at(room.id)))


@evolves(RoomLocked)
def locked(state: Assembly, event: RoomLocked) -> None:
    state.rooms[event.room].locked = True


@decides_in_room(UnlockRoom, yields=(RoomUnlocked,), refusals=(ErrorCode.NOT_LOCKED,))
def unlock(d: Decision, room: Room, command: UnlockRoom) -> None:
    if not room.locked:
        raise Refusal(ErrorCode.NOT_LOCKED)
    d.emit(RoomUnlocked(**d.at(room.id)))


@evolves(RoomUnlocked)
def unlocked(state: Assembly, event: RoomUnlocked) -> None:
    state.rooms[event.room].locked = False


@decides_in_room(PauseRoom, yields=(RoomPaused,), refusals=(ErrorCode.ROOM_PAUSED,))
def pause(d: Decision, room: Room, command: PauseRoom) -> None:
    if room.paused_at_ms is not None:
        raise Refusal(ErrorCode.ROOM_PAUSED)
    d.emit(RoomPaused(**d.at(room.id)))


@evolves(RoomPaused)
def paused(state: Assembly, event: RoomPaused) -> None:
    state.rooms[event.room].paused_at_ms = event.at_ms


@decides_in_room(
    ResumeRoom, yields=(RoomResumed, FloorGranted), refusals=(ErrorCode.ROOM_NOT_PAUSED,)
)
def resume(d: Decision, room: Room, command: ResumeRoom) -> None:
    if room.paused_at_ms is None:
        raise Refusal(ErrorCode.ROOM_NOT_PAUSED)
    d.emit(RoomResumed(**d.at(room.id), paused_ms=max(0, d.now - room.paused_at_ms)))
    # The room is still paused in `room` until this event applies, so check auto mode here.
    if room.floor is None and room.rules.auto:
        candidate = next_candidate(room)
        if candidate is not None:
            grant(d, room, *candidate)


@evolves(RoomResumed)
def resumed(state: Assembly, event: RoomResumed) -> None:
    """The clock stopped during the pause: every running deadline moves on by its length."""
    room = state.rooms[event.room]
    room.paused_at_ms = None
    if room.floor is not None:
        room.floor.deadline_ms += event.paused_ms
        room.floor.warning_at_ms += event.paused_ms
        room.floor.paused_ms += event.paused_ms
    item = room.current_item()
    if item is not None and item.deadline_ms is not None:
        item.deadline_ms += event.paused_ms
